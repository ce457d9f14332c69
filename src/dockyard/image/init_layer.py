"""A container's init layer: the mount points docker's runtime needs, between the image and the container.

The runtime mounts /etc/hostname, /etc/hosts, /etc/resolv.conf, /dev/pts, /dev/shm,
/proc and /sys over the root filesystem. Where the image lacks them, their mount
points have to be made; made in the container's own writable layer they would
show up in `docker diff` and `docker commit`. Docker makes them in a committed
layer of their own (moby's daemon/initlayer), and so does Dockyard, with the same
entries; `docker export` shows them, as docker's does.
"""

from __future__ import annotations

import os

# path -> "dir", "file", or a symlink target (moby's initlayer.Setup)
ENTRIES = {
    "dev/pts": "dir",
    "dev/shm": "dir",
    "proc": "dir",
    "sys": "dir",
    ".dockerenv": "file",
    "etc/resolv.conf": "file",
    "etc/hosts": "file",
    "etc/hostname": "file",
    "dev/console": "file",
    "etc/mtab": "/proc/mounts",
}


def populate(root: str) -> None:
    """Create what is missing under root (the mounted layer); never replace what the image has."""
    for path, kind in ENTRIES.items():
        target = os.path.join(root, path)
        if os.path.lexists(target):
            continue
        parent = os.path.dirname(target)
        if not os.path.isdir(parent) or os.path.islink(parent):
            if os.path.lexists(parent):
                continue  # the image has something else there: leave it to the image
            os.makedirs(parent, 0o755)
        if kind == "dir":
            os.mkdir(target, 0o755)
        elif kind == "file":
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o755))
            os.chmod(target, 0o755)
        else:
            os.symlink(kind, target)
