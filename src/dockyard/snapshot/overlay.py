"""The overlay snapshotter: each snapshot holds only its own changes, stacked by overlayfs.

A snapshot's fs/ directory is the overlay upperdir while it is active and a
lowerdir of its children once committed; preparing a container's snapshot is
two mkdirs and a metadata write, whatever the size of the image. The mounts
returned, as containerd's overlay snapshotter returns them:

    active, no parent      bind  <id>/fs  rbind,rw
    active, parents        overlay  index=off,workdir=<id>/work,upperdir=<id>/fs,lowerdir=<parent>/fs:...
    view, no parent        bind  <id>/fs  rbind,ro   (an empty directory)
    view, one parent       bind  <parent>/fs  rbind,ro
    view, parents          overlay  index=off,lowerdir=<parent>/fs:<grandparent>/fs:...

lowerdir lists the topmost layer first. Overlayfs needs at least one lowerdir,
hence the binds. index=off (where the kernel has the option): with the inode
index on, a layer in use as a lowerdir of one mount could not serve another, and
mounting would fail or warn on every container start. Long lowerdir lists are
the mount helper's business (dockyard.kernel.mounts.mount_all): the paths here
are absolute and stay short (numeric ids) so that it can compact them.
"""

from __future__ import annotations

import os

from dockyard.core.snapshot import Kind, Mount
from dockyard.snapshot.base import DirectorySnapshotter

_INDEX_PARAMETER = "/sys/module/overlay/parameters/index"


class OverlaySnapshotter(DirectorySnapshotter):
    """Snapshotter over overlayfs (see dockyard.core.snapshot for the contract)."""

    def __init__(self, root: str, mount_options: tuple[str, ...] | None = None) -> None:
        if mount_options is None:
            mount_options = ("index=off",) if os.path.exists(_INDEX_PARAMETER) else ()
        self.mount_options = mount_options
        super().__init__(root)

    def _populate(self, directory: str, kind: Kind, parent_ids: list[int]) -> None:
        fs = os.path.join(directory, "fs")
        os.mkdir(fs, 0o755)
        os.chmod(fs, 0o755)  # whatever the umask: the contract promises 0755
        if parent_ids:
            # The merged root takes the upperdir's owner and mode: make them the parent's,
            # or a layer's "/" owned by someone else would look root-owned in the container.
            parent = os.stat(self.fs_path(parent_ids[0]))
            os.chown(fs, parent.st_uid, parent.st_gid)
            os.chmod(fs, parent.st_mode & 0o7777)
        if kind == Kind.ACTIVE and parent_ids:
            os.mkdir(os.path.join(directory, "work"), 0o711)

    def _mounts(self, snapshot_id: int, kind: Kind, parent_ids: list[int]) -> list[Mount]:
        if not parent_ids:
            access = "rw" if kind == Kind.ACTIVE else "ro"
            return [Mount("bind", self.fs_path(snapshot_id), ("rbind", access))]
        if kind == Kind.VIEW and len(parent_ids) == 1:
            return [Mount("bind", self.fs_path(parent_ids[0]), ("rbind", "ro"))]
        options = list(self.mount_options)
        if kind == Kind.ACTIVE:
            work = os.path.join(self.snapshots, str(snapshot_id), "work")
            options += [f"workdir={work}", f"upperdir={self.fs_path(snapshot_id)}"]
        options.append("lowerdir=" + ":".join(self.fs_path(i) for i in parent_ids))
        return [Mount("overlay", "overlay", tuple(options))]
