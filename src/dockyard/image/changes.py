"""Dockerfile instructions applied to an image config: `import --change` and `commit --change`.

docker accepts exactly these instructions there (its validCommitCommands):
CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER,
VOLUME, WORKDIR. Each change is one instruction on one line, written as in a
Dockerfile: CMD and ENTRYPOINT in exec form (a JSON array) or shell form
(wrapped in /bin/sh -c), ENV and LABEL as key=value pairs (or the legacy
"ENV key value").
"""

from __future__ import annotations

import copy
import json
import shlex

from dockyard.errors import InvalidParameter
from dockyard.units import go_duration_ns

SHELL = ["/bin/sh", "-c"]


def apply_changes(config: dict, changes: list[str]) -> dict:
    """A copy of the container config (the image config's "config") with the changes applied."""
    result = copy.deepcopy(config)
    for change in changes:
        instruction, _, rest = change.strip().partition(" ")
        handler = _HANDLERS.get(instruction.lower())
        if handler is None:
            raise InvalidParameter(f"{instruction} is not a valid change command")
        handler(result, rest.strip(), instruction.upper())
    return result


def _command(rest: str, instruction: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    if not rest:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    return [*SHELL, rest]


def _pairs(rest: str, instruction: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise InvalidParameter(f"{instruction}: {exc}") from None
    if not words:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    if "=" not in words[0]:  # the legacy form: ENV key value with spaces
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{instruction} names must be followed by '=': {word!r}")
        pairs.append((key, value))
    return pairs


def _cmd(config: dict, rest: str, instruction: str) -> None:
    config["Cmd"] = _command(rest, instruction)


def _entrypoint(config: dict, rest: str, instruction: str) -> None:
    config["Entrypoint"] = _command(rest, instruction)


def _env(config: dict, rest: str, instruction: str) -> None:
    env = list(config.get("Env") or [])
    for key, value in _pairs(rest, instruction):
        env = [entry for entry in env if entry.partition("=")[0] != key]
        env.append(f"{key}={value}")
    config["Env"] = env


def _label(config: dict, rest: str, instruction: str) -> None:
    config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest, instruction))}


def _expose(config: dict, rest: str, instruction: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in rest.split():
        port, _, protocol = word.partition("/")
        first, _, last = port.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise InvalidParameter(f"invalid containerPort: {word}")
        for number in range(int(first), int(last or first) + 1):
            ports[f"{number}/{(protocol or 'tcp').lower()}"] = {}
    if not ports:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    config["ExposedPorts"] = ports


def _volume(config: dict, rest: str, instruction: str) -> None:
    exec_form = _command(rest, instruction)
    paths = rest.split() if exec_form[:2] == SHELL else exec_form
    volumes = dict(config.get("Volumes") or {})
    volumes.update({path: {} for path in paths})
    config["Volumes"] = volumes


def _single(key: str):
    def handler(config: dict, rest: str, instruction: str) -> None:
        if not rest:
            raise InvalidParameter(f"{instruction} requires exactly one argument")
        config[key] = rest

    return handler


def _onbuild(config: dict, rest: str, instruction: str) -> None:
    trigger = rest.partition(" ")[0].upper()
    if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
        raise InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")
    config["OnBuild"] = [*(config.get("OnBuild") or []), rest]


def parse_duration(text: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    try:
        return go_duration_ns(text)
    except ValueError:
        raise InvalidParameter(f"invalid duration {text!r}") from None


_HEALTH_FLAGS = {
    "interval": "Interval",
    "timeout": "Timeout",
    "start-period": "StartPeriod",
    "start-interval": "StartInterval",
}


def _healthcheck(config: dict, rest: str, instruction: str) -> None:
    health: dict = {}
    words = rest.split(" ")
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0)[2:].partition("=")
        if flag in _HEALTH_FLAGS:
            health[_HEALTH_FLAGS[flag]] = parse_duration(value)
        elif flag == "retries" and value.isdigit():
            health["Retries"] = int(value)
        else:
            raise InvalidParameter(f"HEALTHCHECK: unknown flag or bad value --{flag}={value}")
    kind, _, command = " ".join(words).partition(" ")
    if kind.upper() == "NONE" and not command:
        config["Healthcheck"] = {"Test": ["NONE"]}
        return
    if kind.upper() != "CMD":
        raise InvalidParameter("HEALTHCHECK must be NONE or CMD <command>")
    test = _command(command.strip(), instruction)
    health["Test"] = ["CMD", *test] if command.strip().startswith("[") else ["CMD-SHELL", command.strip()]
    config["Healthcheck"] = health


_HANDLERS = {
    "cmd": _cmd,
    "entrypoint": _entrypoint,
    "env": _env,
    "label": _label,
    "expose": _expose,
    "volume": _volume,
    "user": _single("User"),
    "workdir": _single("WorkingDir"),
    "stopsignal": _single("StopSignal"),
    "onbuild": _onbuild,
    "healthcheck": _healthcheck,
}
