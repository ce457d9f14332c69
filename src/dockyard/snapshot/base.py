"""What the overlay and native snapshotters share: records, directories, crash safety.

    <root>/metadata.json         every snapshot: key -> id, kind, parent, labels, created, usage
    <root>/snapshots/<id>/fs     the snapshot's own files (overlay: its upperdir)
    <root>/snapshots/<id>/work   overlay's workdir (active overlay snapshots only)
    <root>/snapshots/new-<id>/   a snapshot being built

Ids are small integers from a counter kept in metadata.json, so that paths stay
short (see dockyard.kernel.mounts on the page limit) and carry no user input.

The order of every change is what makes a kill -9 harmless. Writing
metadata.json is the commit point; everything before it builds or measures
things nobody can see yet, everything after it only deletes what metadata.json
no longer names:

    create   build snapshots/new-<id>, rename it to snapshots/<id>, fsync, write metadata
    commit   measure usage, write metadata (key out, name in; same id, same files)
    remove   write metadata (key out), delete snapshots/<id>

So after a crash every directory under snapshots/ that metadata.json does not
name is debris, and repair() (run by the constructor) deletes it: no half-made
snapshot is ever listed, and its key is free again. commit() does not sync the
files a caller wrote into the snapshot: a kill -9 loses none of them (the page
cache outlives the process), a power cut might, as with containerd.

One process owns a root (the daemon); inside it, calls may come from many
threads. Slow work (copying a parent, measuring usage) runs outside the lock.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from dockyard.core.snapshot import Kind, Mount, SnapshotInfo, Usage
from dockyard.errors import Conflict, InvalidParameter, NotFound, Unavailable
from dockyard.snapshot.metadata import MetaFile, Record, fsync_dir
from dockyard.snapshot.usage import disk_usage

log = logging.getLogger(__name__)


class DirectorySnapshotter:
    """The Snapshotter contract (dockyard.core.snapshot) over directories under root.

    Subclasses say how a snapshot's directory is filled (_populate) and mounted (_mounts).
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.snapshots = os.path.join(self.root, "snapshots")
        # 0700: layers hold setuid binaries and secrets; only root may reach them.
        os.makedirs(self.snapshots, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._meta = MetaFile(self.root)
        self._lock = threading.Lock()
        self._next_id = self._meta.next_id
        self._building: dict[str, _Building] = {}  # snapshots being created now, by key
        self._closed = False
        self.repair()

    # -- what subclasses provide ---------------------------------------------------

    def _populate(self, directory: str, kind: Kind, parent_ids: list[int]) -> None:
        """Fill a new snapshot's directory (not yet at its final path): fs/ and whatever else."""
        raise NotImplementedError

    def _mounts(self, snapshot_id: int, kind: Kind, parent_ids: list[int]) -> list[Mount]:
        """The mounts of a view or active snapshot; parent_ids run from its parent down."""
        raise NotImplementedError

    # -- paths -------------------------------------------------------------------------

    def _dir(self, snapshot_id: int) -> str:
        return os.path.join(self.snapshots, str(snapshot_id))

    def fs_path(self, snapshot_id: int) -> str:
        return os.path.join(self.snapshots, str(snapshot_id), "fs")

    # -- the contract ----------------------------------------------------------------

    def stat(self, key: str) -> SnapshotInfo:
        with self._lock:
            return _info(key, self._get(key))

    def prepare(self, key: str, parent: str | None = None, labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._create(Kind.ACTIVE, key, parent, labels)

    def view(self, key: str, parent: str | None = None, labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._create(Kind.VIEW, key, parent, labels)

    def mounts(self, key: str) -> list[Mount]:
        with self._lock:
            record = self._get(key)
            if record.kind == Kind.COMMITTED:
                raise Conflict(f"snapshot {key} is committed: it has no mounts of its own, view() it instead")
            parent_ids = self._parent_ids(record.parent)
        return self._mounts(record.id, record.kind, parent_ids)

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None) -> None:
        with self._lock:
            record = self._committable(name, key)
        usage = disk_usage(self.fs_path(record.id))  # slow on big layers: outside the lock
        with self._lock:
            if self._committable(name, key) != record:
                raise Conflict(f"snapshot {key} changed while being committed")
            committed = dataclasses.replace(
                record,
                kind=Kind.COMMITTED,
                labels=dict(record.labels if labels is None else labels),
                created=time.time(),
                size=usage.size,
                inodes=usage.inodes,
            )
            records = {k: v for k, v in self._meta.records.items() if k != key}
            records[name] = committed
            self._meta.write(records, self._meta.next_id)

    def remove(self, key: str) -> None:
        with self._lock:
            record = self._get(key)
            # A create in progress has resolved its parent already: that parent must stay too.
            children = [k for k, r in [*self._meta.records.items(), *self._building.items()] if r.parent == key]
            if children:
                raise Conflict(f"cannot remove snapshot {key}: it is the parent of {', '.join(sorted(children))}")
            records = {k: v for k, v in self._meta.records.items() if k != key}
            self._meta.write(records, self._meta.next_id)
        self._delete(self._dir(record.id))  # after the commit point: a crash here leaves debris for repair()

    def walk(self) -> Iterator[SnapshotInfo]:
        with self._lock:
            self._check_open()
            infos = [_info(key, record) for key, record in self._meta.records.items()]
        return iter(infos)

    def usage(self, key: str) -> Usage:
        with self._lock:
            record = self._get(key)
        if record.kind == Kind.COMMITTED:
            return Usage(record.size, record.inodes)
        try:
            return disk_usage(self.fs_path(record.id))
        except FileNotFoundError:
            raise NotFound(f"snapshot {key} was removed") from None

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- after a crash ---------------------------------------------------------------

    def repair(self) -> list[str]:
        """Delete what an interrupted change left: unnamed snapshot directories, a metadata temp file.

        Returns what was removed (paths relative to root). The constructor runs
        it; running it again later is safe, snapshots being built are left alone.
        """
        with self._lock:
            self._check_open()
            keep = {str(r.id) for r in self._meta.records.values()}
            keep |= {name for b in self._building.values() for name in (str(b.id), f"new-{b.id}")}
            debris = sorted(set(os.listdir(self.snapshots)) - keep)
            removed = ["metadata.json.tmp"] if self._meta.remove_temp() else []
        for name in debris:
            self._delete(os.path.join(self.snapshots, name))
            removed.append(f"snapshots/{name}")
        return removed

    # -- helpers -----------------------------------------------------------------------

    def _create(self, kind: Kind, key: str, parent: str | None, labels: Mapping[str, str] | None) -> list[Mount]:
        parent = parent or None  # containerd spells "no parent" as ""
        with self._lock:
            self._check_new_key(key)
            self._check_parent(parent)
            parent_ids = self._parent_ids(parent)
            snapshot_id = self._next_id
            self._next_id += 1
            self._building[key] = _Building(snapshot_id, parent)
        try:
            self._build(snapshot_id, kind, parent_ids)
            record = Record(snapshot_id, kind, parent, dict(labels or {}), time.time())
            with self._lock:
                self._check_open()
                records = dict(self._meta.records)
                records[key] = record
                self._meta.write(records, max(self._meta.next_id, snapshot_id + 1))
        except BaseException:
            if key not in self._meta.records:  # else the file names it already (a failed directory fsync)
                self._delete(self._dir(snapshot_id))
            raise
        finally:
            with self._lock:
                del self._building[key]
        return self._mounts(snapshot_id, kind, parent_ids)

    def _build(self, snapshot_id: int, kind: Kind, parent_ids: list[int]) -> None:
        temp = os.path.join(self.snapshots, f"new-{snapshot_id}")
        os.mkdir(temp, 0o700)
        try:
            self._populate(temp, kind, parent_ids)
            os.rename(temp, self._dir(snapshot_id))
        except BaseException:
            self._delete(temp)
            raise
        # The rename must reach the disk before metadata.json names the id (power loss).
        fsync_dir(self.snapshots)

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the snapshotter is closed")

    def _get(self, key: str) -> Record:
        self._check_open()
        try:
            return self._meta.records[key]
        except KeyError:
            raise NotFound(f"snapshot {key} does not exist") from None

    def _check_new_key(self, key: str) -> None:
        self._check_open()
        if not key:
            raise InvalidParameter("a snapshot key must not be empty")
        if key in self._meta.records or key in self._building:
            raise Conflict(f"snapshot {key} already exists")

    def _check_parent(self, parent: str | None) -> None:
        if parent is None:
            return
        record = self._meta.records.get(parent)
        if record is None:
            raise NotFound(f"parent snapshot {parent} does not exist")
        if record.kind != Kind.COMMITTED:
            raise InvalidParameter(f"parent snapshot {parent} is not committed")

    def _parent_ids(self, parent: str | None) -> list[int]:
        """Ids of parent and its ancestors, parent first."""
        ids = []
        while parent is not None:
            record = self._meta.records[parent]
            ids.append(record.id)
            parent = record.parent
        return ids

    def _committable(self, name: str, key: str) -> Record:
        record = self._get(key)
        if record.kind != Kind.ACTIVE:
            raise Conflict(f"snapshot {key} is {record.kind}: only an active snapshot can be committed")
        if not name:
            raise InvalidParameter("a snapshot name must not be empty")
        if name in self._meta.records or name in self._building:
            raise Conflict(f"snapshot {name} already exists")
        return record

    @staticmethod
    def _delete(path: str) -> None:
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass
        except OSError as exc:  # repair() will try again at the next start
            log.warning("could not delete %s: %s", path, exc)


def _info(key: str, record: Record) -> SnapshotInfo:
    return SnapshotInfo(key, record.parent, record.kind, dict(record.labels), record.created)


class _Building(NamedTuple):
    id: int
    parent: str | None
