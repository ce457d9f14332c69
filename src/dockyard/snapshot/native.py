"""The native snapshotter: full copies, for filesystems overlayfs cannot stack on.

Every active snapshot starts as an exact copy of its parent (dockyard.snapshot.copy),
so it costs the parent's size in time and space; in exchange it needs nothing
from the filesystem but directories. Mounts are binds, as containerd's native
snapshotter returns them:

    active             bind  <id>/fs      rbind,rw   (a copy of the parent, or empty)
    view, no parent    bind  <id>/fs      rbind,ro   (an empty directory)
    view, parent       bind  <parent>/fs  rbind,ro   (committed, so immutable: no copy needed)
"""

from __future__ import annotations

import os

from dockyard.core.snapshot import Kind, Mount
from dockyard.snapshot.base import DirectorySnapshotter
from dockyard.snapshot.copy import copy_tree


class NativeSnapshotter(DirectorySnapshotter):
    """Snapshotter by copying (see dockyard.core.snapshot for the contract)."""

    def _populate(self, directory: str, kind: Kind, parent_ids: list[int]) -> None:
        fs = os.path.join(directory, "fs")
        os.mkdir(fs, 0o755)
        os.chmod(fs, 0o755)  # whatever the umask: the contract promises 0755
        if kind == Kind.ACTIVE and parent_ids:
            copy_tree(self.fs_path(parent_ids[0]), fs)

    def _mounts(self, snapshot_id: int, kind: Kind, parent_ids: list[int]) -> list[Mount]:
        if kind == Kind.VIEW and parent_ids:
            return [Mount("bind", self.fs_path(parent_ids[0]), ("rbind", "ro"))]
        access = "rw" if kind == Kind.ACTIVE else "ro"
        return [Mount("bind", self.fs_path(snapshot_id), ("rbind", access))]
