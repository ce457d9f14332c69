"""docker cp: a container's files as a tar stream, and a tar stream into a container's directory.

The container's root is its live mount while it runs (the bundle's rootfs in the
daemon's mount namespace), else its snapshot mounted for the occasion. Paths are
resolved inside that root as the container would see them (symlinks followed
but never out of it); the last component of a source is not followed, as docker
does. A path under one of the container's volumes or binds is read or written
in that volume's (or host) directory, as docker cp sees mounts; a read-only mount
refuses writes. Other files mounted into a container (/etc/hosts, tmpfs) are not
seen, and a directory copied whole does not descend into the volumes mounted below
it: the copy reads the container's own layers there.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.errors import InvalidParameter, NotFound
from dockyard.image.layer import apply_layer
from dockyard.kernel.paths import resolve_in_root, resolve_name_in_root
from dockyard.services.containers import ContainerService
from dockyard.volume.mountspec import MountPoint

# Go's os.FileMode type bits, which the X-Docker-Container-Path-Stat header carries.
_GO_MODE = {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27, stat.S_IFIFO: 1 << 25, stat.S_IFSOCK: 1 << 24,
            stat.S_IFCHR: (1 << 26) | (1 << 21), stat.S_IFBLK: 1 << 26}  # fmt: skip


class ArchiveService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers

    @contextlib.contextmanager
    def _root(self, name_or_id: str, path: str, *, writable: bool) -> Iterator[tuple[str, str]]:
        """(the directory to resolve path in, path inside it): the container's root, or the volume or
        bind that holds path."""
        container_id = self.containers.get(name_or_id).id
        with self.containers.rootfs_lock(container_id):
            record = self.containers.get(container_id)  # again: it may have stopped while we waited
            path = path if path.startswith("/") else "/" + path
            mount = _holding_mount(self.containers.mount_points(record), path)
            if mount is not None:
                if writable and not mount.rw:
                    raise InvalidParameter("mounted volume is marked read-only")
                inside = posixpath.normpath(path)[len(mount.destination) :] or "/"
                trailing = "/." if path.endswith("/.") else "/" if path.endswith("/") and inside != "/" else ""
                source = resolve_in_root(mount.source, mount.subpath) if mount.subpath else mount.source
                yield source, inside + trailing
            elif record.state["Running"]:
                yield os.path.join(self.containers.exec_root, record.id, "rootfs"), path
            else:
                with self.containers.images.mounted_rootfs(record.id, writable=writable) as root:
                    yield root, path

    def _source(self, root: str, inside: str, path: str, container: str) -> str:
        """The host path of inside (path as the container names it) under root; NotFound if it is not there."""
        resolve = resolve_in_root if inside.endswith(("/", "/.")) else resolve_name_in_root
        host = resolve(root, inside)
        if not os.path.lexists(host):
            raise NotFound(f"Could not find the file {path} in container {container}")
        return host

    def stat(self, name_or_id: str, path: str) -> str:
        """The X-Docker-Container-Path-Stat header's value: base64 of the JSON stat of path."""
        with self._root(name_or_id, path, writable=False) as (root, inside):
            host = self._source(root, inside, path, name_or_id)
            return _stat_header(host, path)

    def get(self, name_or_id: str, path: str, out: BinaryIO) -> None:
        """path (a file or a directory, with everything under it) as a tar stream named by its base name."""
        with self._root(name_or_id, path, writable=False) as (root, inside):
            host = self._source(root, inside, path, name_or_id)
            name = os.path.basename(path.rstrip("/").removesuffix("/.")) or "."
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(host, arcname=name, filter=_portable)

    def put(self, name_or_id: str, path: str, stream: BinaryIO) -> None:
        """Extract a tar stream into the directory path, with the layer applier's path-safety rules."""
        with self._root(name_or_id, path, writable=True) as (root, inside):
            host = resolve_in_root(root, inside)
            if not os.path.exists(host):
                raise NotFound(f"Could not find the file {path} in container {name_or_id}")
            if not os.path.isdir(host):
                raise InvalidParameter(f"extraction point is not a directory: {path}")
            apply_layer(stream, host, overlay=False)


def _holding_mount(points: list[MountPoint], path: str) -> MountPoint | None:
    """The volume or bind whose destination holds path (the deepest one), if any."""
    normal = posixpath.normpath(path)
    holding = [p for p in points if p.type in ("volume", "bind") and p.source
               and (normal == p.destination or normal.startswith(p.destination + "/"))]  # fmt: skip
    return max(holding, key=lambda p: len(p.destination), default=None)


def _portable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = info.gname = ""  # the host's names for these ids mean nothing in the container
    return info


def _stat_header(host: str, path: str) -> str:
    st = os.lstat(host)
    mode = stat.S_IMODE(st.st_mode) | _GO_MODE.get(stat.S_IFMT(st.st_mode), 0)
    document = {
        "name": os.path.basename(path.rstrip("/")) or "/",
        "size": st.st_size,
        "mode": mode,
        "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + "Z",
        "linkTarget": os.readlink(host) if stat.S_ISLNK(st.st_mode) else "",
    }
    return base64.b64encode(json.dumps(document).encode()).decode()
