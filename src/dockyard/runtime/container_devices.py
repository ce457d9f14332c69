"""--device: host device nodes made in the container and allowed by its devices cgroup.

HostConfig.Devices entries are {PathOnHost, PathInContainer, CgroupPermissions}; the CLI turns
"/dev/x[:/dev/y][:rwm]" into one. As dockerd does, a directory brings every device under it (at
the same relative path), the node keeps the host's type, numbers, mode and owner, and the
permissions ("rwm" by default) go into the devices cgroup. Anything that is not a device is
refused at create.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidParameter


def devices(host_config: dict) -> tuple[list[dict], list[dict]]:
    """(linux.devices, the devices cgroup rules allowing them) for HostConfig.Devices."""
    nodes: list[dict] = []
    rules: list[dict] = []
    for entry in host_config.get("Devices") or []:
        host_path = entry.get("PathOnHost") or ""
        container_path = entry.get("PathInContainer") or host_path
        access = entry.get("CgroupPermissions") or "rwm"
        if not access or not set(access) <= set("rwm"):
            raise InvalidParameter(f"invalid device mode: {access}")
        if not container_path.startswith("/"):
            raise InvalidParameter(f"invalid device path in container: {container_path!r}: it must be absolute")
        for source, destination in _nodes(host_path, container_path):
            node = _node(source, destination)
            nodes.append(node)
            rules.append({"allow": True, "type": node["type"], "major": node["major"], "minor": node["minor"],
                          "access": access})  # fmt: skip
    return nodes, rules


def _nodes(host_path: str, container_path: str) -> list[tuple[str, str]]:
    if not os.path.isdir(host_path):
        return [(host_path, container_path)]
    found = []
    for directory, _dirs, files in os.walk(host_path):
        for name in sorted(files):
            source = os.path.join(directory, name)
            mode = os.stat(source).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):  # what else a directory of devices holds is skipped
                found.append((source, os.path.join(container_path, os.path.relpath(source, host_path))))
    return found


def _node(source: str, destination: str) -> dict:
    try:
        info = os.stat(source)
    except OSError as exc:
        raise InvalidParameter(f"error gathering device information while adding custom device {source!r}: "
                               f"{exc.strerror}") from None  # fmt: skip
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        raise InvalidParameter(f"error gathering device information while adding custom device {source!r}: "
                               "not a device node")  # fmt: skip
    return {"path": destination, "type": kind, "major": os.major(info.st_rdev), "minor": os.minor(info.st_rdev),
            "fileMode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}  # fmt: skip
