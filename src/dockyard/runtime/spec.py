"""Loading and checking an OCI bundle's config.json (runtime spec 1.2, Linux).

Checks are done up front, in the runtime's process, so that a bad config fails
with a message naming the field (`process.args: must be a non-empty list of
strings`) before anything is created in the kernel. The config stays a plain
dict afterwards: it is the spec's own vocabulary, and json gives it for free.
"""

from __future__ import annotations

import os

from dockyard import fastjson
from dockyard.errors import InvalidParameter, NotFound

OCI_VERSION = "1.2.0"

NAMESPACE_FLAGS = {
    "pid": 0x20000000,
    "network": 0x40000000,
    "mount": 0x00020000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "user": 0x10000000,
    "cgroup": 0x02000000,
    "time": 0x00000080,
}
# /proc/<pid>/ns/<name> for each spec namespace type.
NAMESPACE_PROC_NAMES = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable", "")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def load(bundle: str) -> dict:
    """Read and check <bundle>/config.json; return it with root.path made absolute."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFound(f"bundle {bundle}: config.json not found") from None
    try:
        config = fastjson.loads(raw)
    except fastjson.JSONError as exc:
        raise InvalidParameter(f"{path}: invalid JSON: {exc}") from None
    check(config)
    root = config["root"]["path"]
    config["root"]["path"] = os.path.normpath(os.path.join(os.path.abspath(bundle), root))
    if not os.path.isdir(config["root"]["path"]):
        raise NotFound(f"root.path: rootfs {config['root']['path']} does not exist")
    return config


def _fail(field: str, problem: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {problem}")


def _typed(value: object, kind: type | tuple[type, ...], field: str, what: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(field, f"must be {what}")


def _strings(value: object, field: str, *, nonempty: bool = False) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (nonempty and not value):
        raise _fail(field, "must be a non-empty list of strings" if nonempty else "must be a list of strings")


def _object(config: dict, key: str, field: str) -> dict:
    value = config.get(key, {})
    _typed(value, dict, field, "an object")
    return value


def check(config: object) -> None:
    """Raise InvalidParameter naming the first field that breaks the spec."""
    _typed(config, dict, "config.json", "a JSON object")
    assert isinstance(config, dict)
    _typed(config.get("ociVersion"), str, "ociVersion", "a string")
    root = config.get("root")
    _typed(root, dict, "root", "an object with a path")
    _typed(root.get("path"), str, "root.path", "a string")
    _typed(root.get("readonly", False), bool, "root.readonly", "a boolean")
    if "process" in config:
        check_process(config["process"], "process")
    for key in ("hostname", "domainname"):
        _typed(config.get(key, ""), str, key, "a string")
    _check_mounts(config.get("mounts", []))
    _check_hooks(_object(config, "hooks", "hooks"))
    _check_linux(_object(config, "linux", "linux"))
    if "process" in config:
        _check_user_mapped(config)
    kinds = {ns["type"] for ns in namespaces(config)}
    for key in ("hostname", "domainname"):
        if config.get(key) and "uts" not in kinds:
            raise _fail(key, f"setting the {key} needs a uts namespace (it would change the host's)")


def check_process(process: object, field: str) -> None:
    """Check a process object (also used for `exec -p process.json`)."""
    _typed(process, dict, field, "an object")
    assert isinstance(process, dict)
    _strings(process.get("args"), f"{field}.args", nonempty=True)
    _strings(process.get("env", []), f"{field}.env")
    cwd = process.get("cwd", "/")
    _typed(cwd, str, f"{field}.cwd", "a string")
    if not cwd.startswith("/"):
        raise _fail(f"{field}.cwd", f"must be an absolute path, not {cwd!r}")
    _typed(process.get("terminal", False), bool, f"{field}.terminal", "a boolean")
    user = process.get("user", {})
    _typed(user, dict, f"{field}.user", "an object")
    for key in ("uid", "gid", "umask"):
        if key in user:
            _typed(user[key], int, f"{field}.user.{key}", "a non-negative integer")
            if user[key] < 0:
                raise _fail(f"{field}.user.{key}", "must be a non-negative integer")
    additional = user.get("additionalGids", [])
    if not isinstance(additional, list) or not all(isinstance(g, int) and g >= 0 for g in additional):
        raise _fail(f"{field}.user.additionalGids", "must be a list of non-negative integers")
    _check_capabilities(process.get("capabilities", {}), f"{field}.capabilities")
    for i, rlimit in enumerate(process.get("rlimits", [])):
        where = f"{field}.rlimits[{i}]"
        _typed(rlimit, dict, where, "an object")
        _typed(rlimit.get("type"), str, f"{where}.type", "a string such as RLIMIT_NOFILE")
        if not rlimit["type"].startswith("RLIMIT_"):
            raise _fail(f"{where}.type", f"unknown rlimit {rlimit['type']!r}")
        for key in ("soft", "hard"):
            _typed(rlimit.get(key), int, f"{where}.{key}", "an integer")
    if "oomScoreAdj" in process:
        _typed(process["oomScoreAdj"], int, f"{field}.oomScoreAdj", "an integer")
        if not -1000 <= process["oomScoreAdj"] <= 1000:
            raise _fail(f"{field}.oomScoreAdj", "must be between -1000 and 1000")
    for key in ("apparmorProfile", "selinuxLabel"):
        if process.get(key):
            _check_lsm(key, f"{field}.{key}")


def _check_lsm(key: str, field: str) -> None:
    probe = {"apparmorProfile": "/sys/kernel/security/apparmor", "selinuxLabel": "/sys/fs/selinux/enforce"}[key]
    if not os.path.exists(probe):
        name = "AppArmor" if key == "apparmorProfile" else "SELinux"
        raise _fail(field, f"{name} is not enabled on this host; remove the field or enable {name}")


def _check_capabilities(caps: object, field: str) -> None:
    from dockyard.kernel.caps import NUMBERS, SETS

    _typed(caps, dict, field, "an object")
    assert isinstance(caps, dict)
    for name, values in caps.items():
        if name not in SETS:
            raise _fail(f"{field}.{name}", f"unknown capability set (expected one of {', '.join(SETS)})")
        _strings(values, f"{field}.{name}")
        for value in values:
            if value not in NUMBERS:
                raise _fail(f"{field}.{name}", f"unknown capability {value!r}")


def _check_mounts(mounts: object) -> None:
    _typed(mounts, list, "mounts", "a list")
    assert isinstance(mounts, list)
    for i, mount in enumerate(mounts):
        where = f"mounts[{i}]"
        _typed(mount, dict, where, "an object")
        destination = mount.get("destination")
        _typed(destination, str, f"{where}.destination", "a string")
        if not destination.startswith("/"):
            raise _fail(f"{where}.destination", f"must be an absolute path, not {destination!r}")
        for key in ("type", "source"):
            _typed(mount.get(key, ""), str, f"{where}.{key}", "a string")
        _strings(mount.get("options", []), f"{where}.options")


def _check_hooks(hooks: dict) -> None:
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            raise _fail(f"hooks.{kind}", "unknown hook kind")
        _typed(entries, list, f"hooks.{kind}", "a list")
        for i, hook in enumerate(entries):
            where = f"hooks.{kind}[{i}]"
            _typed(hook, dict, where, "an object")
            _typed(hook.get("path"), str, f"{where}.path", "an absolute path")
            if not hook["path"].startswith("/"):
                raise _fail(f"{where}.path", "must be an absolute path")
            _strings(hook.get("args", []), f"{where}.args")
            _strings(hook.get("env", []), f"{where}.env")
            if "timeout" in hook:
                _typed(hook["timeout"], int, f"{where}.timeout", "a positive integer")
                if hook["timeout"] <= 0:
                    raise _fail(f"{where}.timeout", "must be a positive integer")


def _check_linux(linux: dict) -> None:
    seen = set()
    namespaces = linux.get("namespaces", [])
    _typed(namespaces, list, "linux.namespaces", "a list")
    for i, ns in enumerate(namespaces):
        where = f"linux.namespaces[{i}]"
        _typed(ns, dict, where, "an object")
        kind = ns.get("type")
        if kind not in NAMESPACE_FLAGS:
            raise _fail(f"{where}.type", f"unknown namespace type {kind!r}")
        if kind in seen:
            raise _fail(f"{where}.type", f"namespace {kind} listed twice")
        seen.add(kind)
        if "path" in ns:
            _typed(ns["path"], str, f"{where}.path", "a string")
    for key in ("uidMappings", "gidMappings"):
        for i, mapping in enumerate(linux.get(key, [])):
            for field in ("containerID", "hostID", "size"):
                _typed(mapping.get(field), int, f"linux.{key}[{i}].{field}", "a non-negative integer")
    if ("uidMappings" in linux or "gidMappings" in linux) and "user" not in seen:
        raise _fail("linux.uidMappings", "mappings need a user namespace in linux.namespaces")
    new_userns = any(ns["type"] == "user" and not ns.get("path") for ns in namespaces)
    if new_userns and not linux.get("uidMappings"):
        raise _fail("linux.uidMappings", "a new user namespace needs uid and gid mappings")
    for key in ("maskedPaths", "readonlyPaths"):
        _strings(linux.get(key, []), f"linux.{key}")
    sysctl = linux.get("sysctl", {})
    _typed(sysctl, dict, "linux.sysctl", "an object of strings")
    for key, value in sysctl.items():
        _typed(value, str, f"linux.sysctl.{key}", "a string")
    if linux.get("rootfsPropagation", "") not in PROPAGATIONS:
        raise _fail("linux.rootfsPropagation", f"unknown propagation {linux['rootfsPropagation']!r}")
    _typed(linux.get("cgroupsPath", ""), str, "linux.cgroupsPath", "a string")
    _typed(linux.get("resources", {}), dict, "linux.resources", "an object")
    for i, device in enumerate(linux.get("devices", [])):
        where = f"linux.devices[{i}]"
        _typed(device.get("path"), str, f"{where}.path", "an absolute path")
        if device.get("type") not in ("c", "b", "u", "p"):
            raise _fail(f"{where}.type", "must be one of c, b, u, p")
        if device["type"] != "p":
            for key in ("major", "minor"):
                _typed(device.get(key), int, f"{where}.{key}", "an integer")
    if linux.get("seccomp") is not None:
        _typed(linux["seccomp"], dict, "linux.seccomp", "an object")


def _check_user_mapped(config: dict) -> None:
    """In a new user namespace the process's ids must be mapped, or setuid fails obscurely."""
    linux = config.get("linux", {})
    if not any(ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces", [])):
        return
    user = config["process"].get("user", {})
    for key, mappings in (("uid", linux.get("uidMappings", [])), ("gid", linux.get("gidMappings", []))):
        value = user.get(key, 0)
        if not any(m["containerID"] <= value < m["containerID"] + m["size"] for m in mappings):
            raise _fail(
                f"process.user.{key}", f"{key} {value} is not mapped in the user namespace (linux.{key}Mappings)"
            )


def namespaces(config: dict) -> list[dict]:
    """linux.namespaces, which a config may leave out entirely."""
    return config.get("linux", {}).get("namespaces", [])
