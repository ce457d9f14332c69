"""Volume records in the metadata database: name, driver, options, labels, creation time."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from dockyard.errors import Conflict
from dockyard.metadata.db import Database


@dataclass
class VolumeRecord:
    name: str
    driver: str
    created: str
    labels: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


_COLUMNS = "name, driver, created, labels, options"


def _record(row: sqlite3.Row) -> VolumeRecord:
    name, driver, created, labels, options = row
    return VolumeRecord(name, driver, created, json.loads(labels), json.loads(options))


class VolumeTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: VolumeRecord) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO volumes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (record.name, record.driver, record.created, json.dumps(record.labels),
                     json.dumps(record.options)),
                )  # fmt: skip
        except sqlite3.IntegrityError:
            raise Conflict(f"volume name {record.name} is already in use") from None

    def get(self, name: str) -> VolumeRecord | None:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM volumes WHERE name = ?", (name,))
        return _record(rows[0]) if rows else None

    def all(self) -> list[VolumeRecord]:
        return [_record(row) for row in self.db.query(f"SELECT {_COLUMNS} FROM volumes ORDER BY created, name")]

    def delete(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
