"""Reading a snapshot's mounts back into directories, for the code that works on layers' files.

Unpacking a layer, diffing a container and exporting one need directories, not
mounts. The snapshotters' mounts have two shapes only (see overlay.py and
native.py): one bind of a directory holding the whole tree, or one overlay
whose upperdir holds the changes over its lowerdirs. Working on those
directories directly spares a mount per layer, as containerd's overlay
applier does.
"""

from __future__ import annotations

from typing import NamedTuple

from dockyard.core.snapshot import Mount
from dockyard.errors import Unsupported


class Layers(NamedTuple):
    """upper holds the snapshot's own files; lowers (topmost first) the parents' it stands on.

    overlay says upper is an overlay upperdir (changes, with whiteouts in overlayfs form);
    else upper is the whole tree and lowers is empty.
    """

    upper: str
    lowers: tuple[str, ...]
    overlay: bool


def _options(mount: Mount) -> dict[str, str]:
    return dict(option.partition("=")[::2] for option in mount.options)


def layers(mounts: list[Mount]) -> Layers:
    if len(mounts) == 1 and mounts[0].type == "bind":
        return Layers(mounts[0].source, (), overlay=False)
    if len(mounts) == 1 and mounts[0].type == "overlay":
        options = _options(mounts[0])
        lowers = tuple(options["lowerdir"].split(":"))
        if "upperdir" not in options:
            raise Unsupported("a read-only overlay snapshot has no directory of its own")
        return Layers(options["upperdir"], lowers, overlay=True)
    raise Unsupported(f"cannot work on the directories of mounts {mounts!r}")


def read_only(mounts: list[Mount]) -> list[Mount]:
    """Mounts showing the same tree read-only, which can be made while the snapshot is in use.

    An overlay's upperdir becomes its topmost lowerdir: overlayfs lets lowerdirs be shared,
    where a second mount on the same upperdir would be undefined behaviour.
    """
    found = layers(mounts)
    if not found.overlay:
        return [Mount("bind", found.upper, ("rbind", "ro"))]
    options = tuple(o for o in mounts[0].options if not o.startswith(("upperdir=", "workdir=", "lowerdir=")))
    return [Mount("overlay", "overlay", (*options, "lowerdir=" + ":".join((found.upper, *found.lowers))))]
