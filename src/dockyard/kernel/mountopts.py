"""Translating mount options (fstab words, as OCI configs and snapshotters give them)
into mount(2) flags, propagation changes and filesystem data."""

from __future__ import annotations

from dockyard.kernel import constants as k

# On the runtime's start-up path: collections.abc would import collections (~1.5 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# option -> (clear, set)
FLAGS = {
    "ro": (0, k.MS_RDONLY),
    "rw": (k.MS_RDONLY, 0),
    "nosuid": (0, k.MS_NOSUID),
    "suid": (k.MS_NOSUID, 0),
    "nodev": (0, k.MS_NODEV),
    "dev": (k.MS_NODEV, 0),
    "noexec": (0, k.MS_NOEXEC),
    "exec": (k.MS_NOEXEC, 0),
    "sync": (0, k.MS_SYNCHRONOUS),
    "async": (k.MS_SYNCHRONOUS, 0),
    "dirsync": (0, k.MS_DIRSYNC),
    "remount": (0, k.MS_REMOUNT),
    "mand": (0, k.MS_MANDLOCK),
    "nomand": (k.MS_MANDLOCK, 0),
    "atime": (k.MS_NOATIME, 0),
    "noatime": (0, k.MS_NOATIME),
    "diratime": (k.MS_NODIRATIME, 0),
    "nodiratime": (0, k.MS_NODIRATIME),
    "bind": (0, k.MS_BIND),
    "rbind": (0, k.MS_BIND | k.MS_REC),
    "relatime": (0, k.MS_RELATIME),
    "norelatime": (k.MS_RELATIME, 0),
    "strictatime": (0, k.MS_STRICTATIME),
    "nostrictatime": (k.MS_STRICTATIME, 0),
    "lazytime": (0, k.MS_LAZYTIME),
    "nolazytime": (k.MS_LAZYTIME, 0),
    "nosymfollow": (0, k.MS_NOSYMFOLLOW),
    "symfollow": (k.MS_NOSYMFOLLOW, 0),
    "defaults": (0, 0),
}
PROPAGATION = {
    "private": k.MS_PRIVATE,
    "rprivate": k.MS_PRIVATE | k.MS_REC,
    "shared": k.MS_SHARED,
    "rshared": k.MS_SHARED | k.MS_REC,
    "slave": k.MS_SLAVE,
    "rslave": k.MS_SLAVE | k.MS_REC,
    "unbindable": k.MS_UNBINDABLE,
    "runbindable": k.MS_UNBINDABLE | k.MS_REC,
}


def parse(options: Sequence[str]) -> tuple[int, list[int], list[str]]:
    """Return (flags, propagation flags in order, data options for the filesystem)."""
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for option in options:
        if option in FLAGS:
            clear, add = FLAGS[option]
            flags = (flags & ~clear) | add
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        elif option in ("tmpcopyup", "idmap", "ridmap"):
            continue  # runc extensions we do not implement; they do not change what is mounted
        else:
            data.append(option)
    return flags, propagation, data
