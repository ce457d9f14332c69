"""Snapshotters: layered filesystems as directories under a root, handed out as mounts.

The contract is dockyard.core.snapshot.Snapshotter; dockyard.kernel.mounts
performs the mounts. overlay is the default; native copies, for filesystems
overlayfs cannot stack on.
"""

from dockyard.snapshot.native import NativeSnapshotter
from dockyard.snapshot.overlay import OverlaySnapshotter

__all__ = ["NativeSnapshotter", "OverlaySnapshotter"]
