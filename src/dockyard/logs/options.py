"""A container's LogConfig: checked, completed with the daemon's defaults, and turned into the shim's settings.

    driver      files                                      defaults
    json-file   <id>-json.log, .1, .2 ... (.N.gz)          max-size 20m, max-file 5 (Dockyard's), compress off
    local       local-logs/container.log, .1.gz ...        max-size 20m, max-file 5, compress on (docker's)
    none        nothing for `docker logs`                  -

docker's json-file keeps everything unless told otherwise; Dockyard rotates by
default (DESIGN.md: no container fills the disk). With none the shim still keeps
the last MB of output in a json-file buffer (attach-json.log in the container's
directory): attach (`docker run` without -d) reads the output from the log, so
it needs one; `docker logs` refuses, as docker's does.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidParameter
from dockyard.logs import attributes

JSON_FILE, LOCAL, NONE = "json-file", "local", "none"
DRIVERS = (JSON_FILE, LOCAL, NONE)
# docker's drivers that ship elsewhere: named so the refusal says what is missing, not that the name is wrong.
_ELSEWHERE = ("syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries")
_OPTIONS = {
    JSON_FILE: {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"},
    LOCAL: {"max-size", "max-file", "compress"},
}
DEFAULT_MAX_SIZE = 20_000_000
DEFAULT_MAX_FILES = 5
NONE_BUFFER_SIZE = 1_000_000
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3}
_TRUE, _FALSE = ("1", "t", "true", "TRUE", "True"), ("0", "f", "false", "FALSE", "False")  # Go's ParseBool


def check_driver(driver: str, options: dict) -> None:
    """docker's refusal of an unknown driver or an option that driver does not take."""
    if driver not in DRIVERS:
        if driver in _ELSEWHERE:
            raise InvalidParameter(f"logging driver {driver!r} is not supported by Dockyard ({', '.join(DRIVERS)})")
        raise InvalidParameter(f"logger: no log driver named '{driver}' is registered")  # docker's, at create
    if driver == NONE:
        return  # docker ignores options given with none
    unknown = sorted(set(options) - _OPTIONS[driver])
    if unknown:  # the two drivers word it differently in docker
        where = f"for {driver} log driver" if driver == JSON_FILE else f"for log driver {driver}"
        raise InvalidParameter(f"unknown log opt '{unknown[0]}' {where}")
    attributes.check(options)
    shim_settings(driver, options)


def resolve(log_config: dict | None, default_driver: str, default_options: dict) -> dict:
    """The LogConfig a container keeps: the daemon's driver when it names none, and the daemon's options
    under its own when it uses the daemon's driver (docker's mergeAndVerifyLogConfig)."""
    log_config = log_config or {}
    driver = log_config.get("Type") or default_driver
    options = dict(log_config.get("Config") or {})
    if driver == default_driver:
        options = {**default_options, **options}
    check_driver(driver, options)
    return {"Type": driver, "Config": options}


def path(files_dir: str, container_id: str, driver: str) -> str:
    """Where the shim writes: docker's file for json-file and local, the attach buffer for none."""
    if driver == LOCAL:
        return os.path.join(files_dir, "local-logs", "container.log")
    if driver == NONE:
        return os.path.join(files_dir, "attach-json.log")
    return os.path.join(files_dir, f"{container_id}-json.log")


def shim_settings(driver: str, options: dict, facts: attributes.ContainerFacts | None = None) -> dict:
    """What the shim's writer takes: the record format, max_size, max_files, compress and the attributes
    each json-file record carries (those of facts, the container's)."""
    attrs = attributes.attributes(options, facts) if facts is not None and driver == JSON_FILE else {}
    if driver == NONE:
        return {"format": JSON_FILE, "max_size": NONE_BUFFER_SIZE, "max_files": 1, "compress": False, "attrs": {}}
    max_size = _size(options.get("max-size", ""))
    files_text = str(options.get("max-file", DEFAULT_MAX_FILES))
    if not files_text.isdigit() or int(files_text) < 1:
        raise InvalidParameter("max-file cannot be less than 1")
    compress_text = str(options.get("compress", "true" if driver == LOCAL else "false"))
    if compress_text not in _TRUE + _FALSE:
        raise InvalidParameter(f"error reading compress log option: invalid syntax: {compress_text!r}")
    compress = compress_text in _TRUE
    if compress and int(files_text) < 2 and "compress" in options:
        raise InvalidParameter("compress cannot be true when max-file is less than 2")
    return {"format": driver, "max_size": max_size, "max_files": int(files_text), "compress": compress, "attrs": attrs}


def _size(text: str) -> int:
    """docker's human sizes in decimal units ("10m"); empty or -1: Dockyard's default."""
    text = str(text).strip().lower()
    if text in ("", "-1"):
        return DEFAULT_MAX_SIZE
    number = text.rstrip("bkmg")
    unit = text[len(number) :]
    try:
        size = int(float(number) * _SIZE_UNITS[unit])
    except (ValueError, KeyError):
        raise InvalidParameter(f"invalid size: '{text}'") from None
    if size <= 0:
        raise InvalidParameter(f"invalid size: '{text}'")
    return size
