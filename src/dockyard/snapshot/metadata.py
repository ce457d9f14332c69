"""A snapshotter's metadata: one small JSON file, always replaced whole.

    {"version": 1, "next_id": 7, "snapshots": {"<key>": {"id": 3, "kind": "committed",
     "parent": "<key>" | null, "labels": {}, "created": 1700000000.0, "size": 0, "inodes": 0}}}

A write goes to metadata.json.tmp, is fsynced, renamed over metadata.json and
the directory fsynced: a reader (the next start, after any crash) sees the old
file or the new one, never a mix. Rewriting a few hundred records costs well
under a millisecond, so one file beats a database here.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

from dockyard.core.snapshot import Kind
from dockyard.errors import Internal

FILE = "metadata.json"
TEMP = FILE + ".tmp"
_VERSION = 1


@dataclass(slots=True, frozen=True)
class Record:
    """One snapshot as stored; its files live under snapshots/<id>/."""

    id: int
    kind: Kind
    parent: str | None
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    size: int = 0  # usage, measured at commit; 0 until then
    inodes: int = 0


class MetaFile:
    """The records of one snapshotter root, in memory, and their atomic persistence.

    records and next_id change only through write(), after the file holds them.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.path = os.path.join(root, FILE)
        self.records: dict[str, Record] = {}
        self.next_id = 1
        self._encoded: dict[str, tuple[Record | None, str]] = {}  # key -> (record, its JSON entry)
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                raw = json.load(f)
        except FileNotFoundError:
            return  # a new root
        except ValueError as exc:  # never written partially, so this is outside damage
            raise Internal(f"snapshot metadata {self.path} is corrupt: {exc}") from exc
        if raw.get("version") != _VERSION:
            raise Internal(f"snapshot metadata {self.path}: unknown version {raw.get('version')!r}")
        self.records = {key: _record(value) for key, value in raw["snapshots"].items()}
        self.next_id = max([raw["next_id"], *(r.id + 1 for r in self.records.values())])

    def write(self, records: dict[str, Record], next_id: int) -> None:
        """Persist records (the whole new state) atomically, then adopt them."""
        data = self._encode(records, next_id)
        temp = os.path.join(self.root, TEMP)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, self.path)
        # Adopted as soon as the file holds them, so memory never disagrees with the disk.
        self.records = records
        self.next_id = next_id
        fsync_dir(self.root)

    def _encode(self, records: dict[str, Record], next_id: int) -> bytes:
        # Records are immutable, so each one is encoded once and its JSON reused by
        # every later write: this keeps a prepare fast on a host with thousands of snapshots.
        cache = {key: self._encoded.get(key, (None, "")) for key in records}
        entries = []
        for key, record in records.items():
            cached_record, text = cache[key]
            if cached_record is not record:
                text = json.dumps(key) + ":" + json.dumps(_plain(record), separators=(",", ":"))
                cache[key] = (record, text)
            entries.append(text)
        self._encoded = cache
        return f'{{"version":{_VERSION},"next_id":{next_id},"snapshots":{{{",".join(entries)}}}}}'.encode()

    def remove_temp(self) -> bool:
        """Remove a temp file an interrupted write() left; True if there was one."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.root, TEMP))
            return True
        return False


def _plain(record: Record) -> dict:
    # By hand: dataclasses.asdict deep-copies, ten times slower; the kind as a plain str
    # keeps json's C encoder on its fast path.
    return {
        "id": record.id,
        "kind": record.kind.value,
        "parent": record.parent,
        "labels": record.labels,
        "created": record.created,
        "size": record.size,
        "inodes": record.inodes,
    }


def _record(raw: dict) -> Record:
    return Record(
        id=raw["id"],
        kind=Kind(raw["kind"]),
        parent=raw["parent"],
        labels=dict(raw["labels"]),
        created=raw["created"],
        size=raw["size"],
        inodes=raw["inodes"],
    )


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
