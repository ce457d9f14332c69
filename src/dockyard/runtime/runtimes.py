"""The daemon's OCI runtimes by name, as dockerd knows them: its own, runc, and the configured ones.

    dockyard   Dockyard's runtime, in-process in the shim (the default unless default-runtime says otherwise)
    runc       registered whenever a runc binary is on PATH, as dockerd always registers it
    <name>     daemon.json "runtimes": {"<name>": {"path": ..., "runtimeArgs": [...]}}, or --add-runtime name=path

Each non-built-in runtime keeps its containers' state under <exec root>/runtime-<name>
(its --root), so that two daemons never see each other's containers. A container's
HostConfig.Runtime names its runtime; open_runtime() gives the object that drives it,
in the daemon and in the shim alike (the shim gets the command and root in shim.json).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

BUILTIN = "dockyard"  # the built-in runtime's name in docker info and HostConfig.Runtime
RUNC = "runc"
RESERVED = (BUILTIN, RUNC)


@dataclass(frozen=True)
class RuntimeEntry:
    name: str
    path: str  # "" for the built-in runtime
    args: tuple[str, ...] = ()

    @property
    def command(self) -> list[str] | None:
        """The runtime's command line before its verbs; None for the built-in runtime."""
        return None if self.name == BUILTIN else [self.path, *self.args]

    def info(self) -> dict:
        """What docker info shows for it."""
        shown: dict = {"path": self.path or "dockyard-runtime"}
        if self.args:
            shown["runtimeArgs"] = list(self.args)
        return shown


@dataclass
class RuntimeTable:
    entries: dict[str, RuntimeEntry] = field(default_factory=lambda: {BUILTIN: RuntimeEntry(BUILTIN, "")})
    default: str = BUILTIN

    def resolve(self, name: str | None) -> str:
        """The runtime a create asks for (the default when none), or InvalidParameter as dockerd words it."""
        name = name or self.default
        if name not in self.entries:
            raise InvalidParameter(f"unknown or invalid runtime name: {name}")
        return name

    def get(self, name: str | None) -> RuntimeEntry:
        return self.entries[self.resolve(name)]

    def root(self, exec_root: str, name: str) -> str:
        return os.path.join(exec_root, "runtime" if name == BUILTIN else f"runtime-{name}")

    def info(self) -> dict:
        return {name: entry.info() for name, entry in sorted(self.entries.items())}


def configure(configured: dict, added: list[str], default: str) -> RuntimeTable:
    """The table from daemon.json's "runtimes" (configured), --add-runtime's name=path (added) and
    default-runtime; InvalidParameter with dockerd's words for what it refuses."""
    import shutil

    entries = {BUILTIN: RuntimeEntry(BUILTIN, "")}
    runc = shutil.which(RUNC)
    if runc:
        entries[RUNC] = RuntimeEntry(RUNC, RUNC)
    if not isinstance(configured, dict):
        raise InvalidParameter("runtimes must be an object: {name: {path, runtimeArgs}}")
    for name, settings in configured.items():
        entries[_check_name(name, entries)] = _entry(name, settings)
    for value in added:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InvalidParameter(f"invalid runtime argument: {value}")
        entries[_check_name(name, entries)] = RuntimeEntry(name, path)
    default = default or BUILTIN
    if default not in entries:
        raise InvalidParameter(f"specified default runtime '{default}' does not exist")
    return RuntimeTable(entries, default)


def _check_name(name: str, entries: dict[str, RuntimeEntry]) -> str:
    if name in RESERVED:
        raise InvalidParameter(f"runtime name '{name}' is reserved")
    if name in entries:
        raise InvalidParameter(f"runtime '{name}' was already defined")
    if not name or "/" in name:
        raise InvalidParameter(f"invalid runtime name {name!r}")
    return name


def _entry(name: str, settings: object) -> RuntimeEntry:
    if not isinstance(settings, dict):
        raise InvalidParameter(f"runtime {name}: expected an object with path and runtimeArgs")
    unknown = sorted(set(settings) - {"path", "runtimeArgs", "runtimeType", "options"})
    if unknown:
        raise InvalidParameter(f"runtime {name}: unknown settings: {', '.join(unknown)}")
    path = settings.get("path") or ""
    if settings.get("runtimeType"):
        # dockerd hands those to containerd's shim v2 API; Dockyard's shim drives runc's command line only.
        raise InvalidParameter(f"runtime {name}: runtimeType (a containerd shim) is not supported: give a path")
    if not path:
        raise InvalidParameter(f"runtime {name}: either a runtimeType or a path must be configured")
    if settings.get("options"):
        raise InvalidParameter(f"runtime {name}: options cannot be used with a path runtime")
    args = settings.get("runtimeArgs") or []
    if not isinstance(path, str) or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InvalidParameter(f"runtime {name}: path must be a string and runtimeArgs a list of strings")
    return RuntimeEntry(name, path, tuple(args))
