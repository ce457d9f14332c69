"""dockerd's daemon-wide defaults for containers: their flags, daemon.json keys and checks.

They become the ContainerDefaults the container and sandbox services apply
(dockyard.services.container_defaults). Every bad value stops the daemon's start
with a message naming the directive, as dockerd's do.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil

from dockyard import units
from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.cgroups import layout
from dockyard.runtime import container_settings, container_spec, seccomp_profile
from dockyard.services.container_defaults import ContainerDefaults

# daemon.json key -> DaemonConfig field (the flag's dest too)
FILE_KEYS = {
    "dns": "dns",
    "dns-opts": "dns_opts",
    "dns-search": "dns_search",
    "default-ulimits": "default_ulimits",
    "default-shm-size": "default_shm_size",
    "init": "init",
    "init-path": "init_path",
    "no-new-privileges": "no_new_privileges",
    "seccomp-profile": "seccomp_profile",
    "cgroup-parent": "cgroup_parent",
    "default-cgroupns-mode": "default_cgroupns_mode",
}
SECCOMP_BUILTIN, SECCOMP_UNCONFINED = "builtin", "unconfined"
_LISTS, _BOOLS = ("dns", "dns-opts", "dns-search"), ("init", "no-new-privileges")
# moby's opts.validateDomain: a name with at least one letter, of dot-separated labels.
_ALPHA = re.compile(r"[a-zA-Z]")
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dns", action="append", metavar="IP", help="containers' default DNS server")
    p.add_argument("--dns-opt", action="append", dest="dns_opts", metavar="OPTION", help="their default DNS options")
    p.add_argument("--dns-search", action="append", metavar="DOMAIN", help="their default DNS search domains")
    p.add_argument("--default-ulimit", action="append", dest="default_ulimits", metavar="NAME=SOFT[:HARD]",
                   help="containers' default ulimits")  # fmt: skip
    p.add_argument("--default-shm-size", metavar="SIZE", help="containers' default /dev/shm size (default 64M)")
    p.add_argument("--init", action="store_true", default=None, help="an init in every container that sets none")
    p.add_argument("--init-path", metavar="PATH", help="the init binary for --init (default docker-init)")
    p.add_argument("--no-new-privileges", action="store_true", default=None,
                   help="no-new-privileges by default for containers")  # fmt: skip
    p.add_argument("--seccomp-profile", metavar="PATH", help='containers\' default seccomp profile, or "unconfined"')
    p.add_argument("--cgroup-parent", metavar="PATH", help="parent cgroup of containers that name none")
    p.add_argument("--default-cgroupns-mode", metavar="host|private",
                   help="containers' cgroup namespace (default: private on cgroup v2, else host)")  # fmt: skip


def from_flags(args: argparse.Namespace) -> None:
    """The flags' values in daemon.json's shapes: --default-ulimit nofile=1024:2048 as {"nofile": {...}}."""
    if args.default_ulimits is not None:
        args.default_ulimits = {ulimit["Name"]: ulimit for ulimit in map(_parse_ulimit, args.default_ulimits)}


def _parse_ulimit(spec: str) -> dict:
    """go-units ParseUlimit: NAME=SOFT[:HARD]; HARD defaults to SOFT."""
    name, sep, limits = spec.partition("=")
    if not sep:
        raise InvalidParameter(f"invalid default-ulimits: invalid ulimit argument: {spec}")
    values = limits.split(":")
    if len(values) > 2:
        raise InvalidParameter(f"invalid default-ulimits: too many limit value arguments - {limits}, can only have "
                               "up to two, `soft[:hard]`")  # fmt: skip
    try:
        soft, hard = int(values[0]), int(values[-1])
    except ValueError:
        raise InvalidParameter(f"invalid default-ulimits: invalid ulimit argument: {spec}") from None
    return {"Name": name, "Soft": soft, "Hard": hard}


def build(values: dict) -> ContainerDefaults:
    """The defaults from the directives' values ({daemon.json key: value}), checked; a seccomp profile's
    file is read now, as dockerd reads it at its start."""
    cgroup_v2 = layout.detect_layout() == layout.V2
    for key in _LISTS:
        if not isinstance(values[key], list) or not all(isinstance(item, str) for item in values[key]):
            raise InvalidParameter(f"invalid {key}: expected a list of strings")
    for key in _BOOLS:
        if not isinstance(values[key], bool):
            raise InvalidParameter(f"invalid {key}: expected true or false")
    for server in values["dns"]:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidParameter(f"invalid dns: IP address is not correctly formatted: {server}") from None
    for domain in values["dns-search"]:
        if domain.strip(" ") != "." and not (_ALPHA.search(domain) and _DOMAIN.fullmatch(domain) and len(domain) < 255):
            raise InvalidParameter(f"invalid dns-search: {domain} is not a valid domain")
    return ContainerDefaults(
        dns=tuple(values["dns"]),
        dns_options=tuple(values["dns-opts"]),
        dns_search=tuple(values["dns-search"]),
        ulimits=_ulimits(values["default-ulimits"]),
        shm_size=_shm_size(values["default-shm-size"]),
        init=values["init"],
        init_path=_init_path(values["init-path"], needed=values["init"]),
        no_new_privileges=values["no-new-privileges"],
        seccomp=_seccomp(values["seccomp-profile"]),
        cgroup_parent=_cgroup_parent(values["cgroup-parent"]),
        cgroupns_mode=_cgroupns_mode(values["default-cgroupns-mode"], cgroup_v2),
        cgroup_v2=cgroup_v2,
    )


def _ulimits(document: object) -> tuple[dict, ...]:
    """daemon.json's {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}} (Name may be left out)."""
    if not isinstance(document, dict) or not all(isinstance(entry, dict) for entry in document.values()):
        raise InvalidParameter('invalid default-ulimits: expected {"NAME": {"Name": NAME, "Soft": N, "Hard": N}}')
    ulimits = tuple({"Name": name, "Soft": entry.get("Soft"), "Hard": entry.get("Hard")}
                    for name, entry in document.items())  # fmt: skip
    try:
        container_settings.rlimits({"Ulimits": list(ulimits)})
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid default-ulimits: {exc}") from None
    return ulimits


def _shm_size(value: object) -> int:
    if value in ("", None):
        return 0
    try:
        size = units.ram_in_bytes(value) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        size = 0
    if size <= 0:
        raise InvalidParameter(f"invalid default-shm-size: {value!r} is not a size greater than 0 (e.g. 128M)")
    return size


def _init_path(path: object, *, needed: bool) -> str:
    """An executable file (a name is looked up on the PATH, as dockerd does); without one, the daemon's init
    needs docker-init or tini-static now."""
    if not isinstance(path, str):
        raise InvalidParameter("invalid init-path: expected a path")
    if path:
        found = shutil.which(path)
        if found is None:
            raise InvalidParameter(f"invalid init-path: {path} is not an executable file")
        return os.path.abspath(found)
    if needed:
        try:
            container_spec.init_binary()
        except Unsupported as exc:
            raise InvalidParameter(f"invalid init: {exc}") from None
    return ""


def _seccomp(path: object) -> str:
    """The profile's JSON for a path, "unconfined", or "" for the built-in profile."""
    if not isinstance(path, str):
        raise InvalidParameter("invalid seccomp-profile: expected a path, builtin or unconfined")
    if path in ("", SECCOMP_BUILTIN):
        return ""
    if path == SECCOMP_UNCONFINED:
        return path
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise InvalidParameter(f"opening seccomp profile ({path}) failed: {exc.strerror}") from None
    try:
        seccomp_profile.check(text, container_spec.capabilities({}))
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid seccomp-profile {path}: {exc}") from None
    return text


def _cgroupns_mode(mode: object, cgroup_v2: bool) -> str:
    """dockerd's default: private where the cgroups are unified (v2), host on v1 and hybrid hosts."""
    if mode == "":
        return "private" if cgroup_v2 else "host"
    if mode not in ("host", "private"):
        raise InvalidParameter(f'invalid default-cgroupns-mode: invalid default cgroup namespace ({mode}): use "host" '
                               'or "private"')  # fmt: skip
    return str(mode)


def _cgroup_parent(parent: object) -> str:
    if not isinstance(parent, str):
        raise InvalidParameter("invalid cgroup-parent: expected a path")
    try:
        container_spec.cgroups_path({"CgroupParent": parent}, "")
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid cgroup-parent: {exc}") from None
    return parent
