"""Device nodes in the container's /dev, and the cgroup rules that let it use them."""

from __future__ import annotations

import os
import stat

from dockyard.kernel import constants as k
from dockyard.kernel import libc
from dockyard.kernel.paths import make_target, resolve_name_in_root

# The devices every container gets (runtime spec, "Default Devices").
DEFAULT_DEVICES = (
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666},
    {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
    {"path": "/dev/random", "type": "c", "major": 1, "minor": 8, "fileMode": 0o666},
    {"path": "/dev/urandom", "type": "c", "major": 1, "minor": 9, "fileMode": 0o666},
    {"path": "/dev/tty", "type": "c", "major": 5, "minor": 0, "fileMode": 0o666},
)
# Always allowed by the devices cgroup, whatever linux.resources.devices says, as
# runc does: the default devices, the console and ptys, and mknod of anything
# (creating a node is harmless when opening it is denied).
_ALWAYS_ALLOWED = (
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": d["major"], "minor": d["minor"], "access": "rwm"} for d in DEFAULT_DEVICES),
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},  # /dev/console
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},  # /dev/ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # /dev/pts/*
)
_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def container_devices(config: dict) -> list[dict]:
    """The default devices, overridden and extended by linux.devices."""
    devices = {d["path"]: d for d in DEFAULT_DEVICES}
    devices.update({d["path"]: d for d in config.get("linux", {}).get("devices", [])})
    return list(devices.values())


def cgroup_rules(config: dict) -> list[dict]:
    """linux.resources.devices followed by what every container may always use.

    Later rules win, so the container's own devices stay usable even under a
    "deny all" first rule, except where linux.resources.devices names the device
    itself: that rule decides (docker's `--device /dev/x:r` allows reading only).
    """
    linux = config.get("linux", {})
    rules = list(linux.get("resources", {}).get("devices", []))
    named = {(rule.get("type"), rule.get("major"), rule.get("minor")) for rule in rules}
    rules.extend(_ALWAYS_ALLOWED)
    for device in linux.get("devices", []):
        if device["type"] in ("c", "b", "u"):
            kind = "c" if device["type"] == "u" else device["type"]
            if (kind, device["major"], device["minor"]) not in named:
                rules.append(
                    {"allow": True, "type": kind, "major": device["major"], "minor": device["minor"], "access": "rwm"}
                )
    return rules


def create(rootfs: str, device: dict, in_userns: bool) -> None:
    """mknod the device, or bind the host's node where mknod is not allowed (user namespaces)."""
    dest = resolve_name_in_root(rootfs, device["path"])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    kind = _TYPES[device["type"]]
    rdev = os.makedev(device.get("major", 0), device.get("minor", 0))
    if os.path.lexists(dest):
        info = os.lstat(dest)
        if stat.S_IFMT(info.st_mode) == kind and info.st_rdev == rdev:
            return
        if stat.S_ISDIR(info.st_mode):
            raise OSError(21, f"device {device['path']}: a directory is in the way")
        os.unlink(dest)
    try:
        if in_userns:
            raise PermissionError(1, "mknod is not permitted in a user namespace")
        mode = device.get("fileMode", 0o666) & 0o7777
        os.mknod(dest, kind | mode, rdev)
        os.chmod(dest, mode)  # mknod applied the umask
        os.chown(dest, device.get("uid", 0), device.get("gid", 0))
    except PermissionError:
        make_target(dest, directory=False)
        libc.mount(device["path"], dest, None, k.MS_BIND)
