"""The snapshotter contract: layered filesystems handed out as mounts to perform.

A snapshot is a filesystem state. Committed snapshots are immutable and can be
parents; active snapshots are writable and view snapshots read-only, both
descending from at most one committed parent. An image's layers become a chain
of committed snapshots (each unpacked into an active one, then committed); a
container's root filesystem is one active snapshot on top of the image's last.

    prepare("extract-1", None)  -> mount, unpack layer 1, unmount -> commit("layer-1", "extract-1")
    prepare("extract-2", "layer-1") -> ... -> commit("layer-2", "extract-2")
    prepare("container-abc", "layer-2") -> the container's rootfs (remove() it when the container goes)

Keys (of active and view snapshots) and names (of committed ones) share one key
space. A snapshotter never mounts anything itself: it returns the mounts, and
the caller performs them on a target (dockyard.kernel.mounts.mount_all), then
unmounts them before calling commit() or remove() on that key.

Contract (tests/integration/test_snapshotter_contract.py runs it against every
implementation):
- prepare()/view() of a key that exists, as any kind, raise Conflict; a parent
  that does not exist raises NotFound; a parent that is not committed raises
  InvalidParameter. An empty key raises InvalidParameter.
- After mounting prepare()'s mounts the target holds exactly the parent's files
  (an empty directory of mode 0755 without a parent); writes there never change
  the parent or any other snapshot.
- view()'s mounts are read-only: writes through them fail (EROFS).
- commit(name, key) turns an active snapshot into a committed one under name,
  with the same parent and the files the active one held; key is gone afterwards.
  Committing a view or a committed snapshot raises Conflict, an existing name
  Conflict, an unknown key NotFound.
- remove(key) removes any kind and every file it owned, but refuses with Conflict
  while the snapshot is the parent of another one (remove children first).
- Every change is crash-safe: a process killed at any point leaves either the
  whole change or none of it, once the next open has repaired the root; no
  half-made snapshot is ever listed.
- stat()/mounts()/usage()/commit()/remove() of an unknown key raise NotFound.
- After close() (which may be called twice) every other call raises Unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import NamedTuple, Protocol


class Kind(StrEnum):
    """A snapshot's kind; it compares equal to its lower-case name."""

    ACTIVE = "active"
    COMMITTED = "committed"
    VIEW = "view"


class Mount(NamedTuple):
    """One mount to perform, with fstab-style options.

    type "bind" with "rbind" and "ro"/"rw"; or type "overlay" with lowerdir= (topmost
    first), upperdir= and workdir= for a writable one. Paths are absolute.
    """

    type: str
    source: str
    options: tuple[str, ...]


class SnapshotInfo(NamedTuple):
    key: str  # the key of an active or view snapshot, the name of a committed one
    parent: str | None  # a committed snapshot's name, None at the bottom of a chain
    kind: Kind
    labels: dict[str, str]  # a copy: changing it changes nothing stored
    created: float  # seconds since the epoch


class Usage(NamedTuple):
    """Disk used by a snapshot's own files, its parents excluded.

    size counts allocated blocks (what deleting the snapshot would free, as du
    does), and every inode once however many hard links it has.
    """

    size: int  # bytes
    inodes: int


class Snapshotter(Protocol):
    def stat(self, key: str) -> SnapshotInfo:
        """The info of the snapshot key (any kind): existence checks, parent resolution, kind."""
        ...

    def prepare(self, key: str, parent: str | None = None, labels: Mapping[str, str] | None = None) -> list[Mount]:
        """Create the active snapshot key on top of the committed parent and return its mounts.

        Once mounted the target holds the parent's files (an empty 0755 directory
        when parent is None) and captures every change made there, which commit()
        can keep or remove() discard. Raises Conflict if key exists, NotFound if
        parent does not, InvalidParameter if parent is not committed.
        """
        ...

    def view(self, key: str, parent: str | None = None, labels: Mapping[str, str] | None = None) -> list[Mount]:
        """Like prepare(), but the mounts are read-only and key can never be committed.

        Implementations may share the parent's files rather than copy them. The
        view keeps its parent from removal until remove(key).
        """
        ...

    def mounts(self, key: str) -> list[Mount]:
        """The mounts prepare() or view() returned for key, again (after a restart, say).

        Raises NotFound for an unknown key and Conflict for a committed snapshot,
        which has no mounts of its own: view() it instead.
        """
        ...

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None) -> None:
        """Keep the active snapshot key as the committed snapshot name; key stops existing.

        The caller must have unmounted key. The committed snapshot has key's parent
        and, unless labels are given, key's labels; its usage is measured now.
        Raises NotFound (no key), Conflict (key is not active, or name exists).
        """
        ...

    def remove(self, key: str) -> None:
        """Remove the snapshot key of any kind with all its files.

        The caller must have unmounted it. Raises Conflict while another snapshot
        has key as its parent, NotFound for an unknown key.
        """
        ...

    def walk(self) -> Iterator[SnapshotInfo]:
        """Every snapshot, in no particular order."""
        ...

    def usage(self, key: str) -> Usage:
        """Disk used by key's own files, parents excluded.

        Measured at commit time for committed snapshots; measured now, in time
        proportional to their size, for active and view ones.
        """
        ...

    def close(self) -> None:
        """Release the snapshotter; later calls raise Unavailable. Closing twice is fine."""
        ...
