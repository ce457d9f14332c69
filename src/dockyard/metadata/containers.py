"""Container records in the metadata database: identity, the create request, and the last known state."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from dockyard.errors import Conflict
from dockyard.metadata.db import Database


@dataclass
class ContainerRecord:
    id: str
    name: str
    image_id: str
    image_name: str
    created: str
    config: dict
    host_config: dict
    state: dict = field(default_factory=dict)
    restart_count: int = 0
    manually_stopped: bool = False
    mounts: list[dict] = field(default_factory=list)  # dockyard.volume.mountspec.MountPoint.to_json()s


_NAME_DRAWS = 6  # as dockerd's generateNewName
_COLUMNS = (
    "id, name, image_id, image_name, created, config, host_config, state, restart_count, manually_stopped, mounts"
)


def from_row(row: Sequence) -> ContainerRecord:
    """The record a row of ContainerTable.rows() holds."""
    # orjson: `ps -a` decodes every container's create request (HostConfig alone ~2 kB); json.loads made
    # that the largest part of listing 100 containers, orjson decodes the same 2.5 times faster.
    id_, name, image_id, image_name, created, config, host_config, state, restarts, manual, mounts = row
    return ContainerRecord(id_, name, image_id, image_name, created, orjson.loads(config),
                           orjson.loads(host_config), orjson.loads(state), restarts, bool(manual),
                           orjson.loads(mounts))  # fmt: skip


class ContainerTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: ContainerRecord, *, draw_name: Callable[[], str] | None = None) -> None:
        """Insert a new container; Conflict if its name is taken. With draw_name, the name was drawn at
        random: one another create took since it was drawn is drawn again (dockerd retries its random
        names too), so that concurrent creates without names do not fail each other."""
        for _ in range(_NAME_DRAWS):
            try:
                with self.db.transaction() as conn:
                    conn.execute(
                        f"INSERT INTO containers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record.id, record.name, record.image_id, record.image_name, record.created,
                         json.dumps(record.config), json.dumps(record.host_config), json.dumps(record.state),
                         record.restart_count, int(record.manually_stopped), json.dumps(record.mounts)),
                    )  # fmt: skip
                return
            except sqlite3.IntegrityError:
                if draw_name is None:
                    break
                record.name = draw_name()
        raise self._name_taken(record.name)

    def get(self, container_id: str) -> ContainerRecord | None:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM containers WHERE id = ?", (container_id,))
        return from_row(rows[0]) if rows else None

    def by_name(self, name: str) -> ContainerRecord | None:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM containers WHERE name = ?", (name,))
        return from_row(rows[0]) if rows else None

    def with_prefix(self, prefix: str) -> list[ContainerRecord]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM containers WHERE substr(id, 1, ?) = ?", (len(prefix), prefix))
        return [from_row(row) for row in rows]

    def all(self) -> list[ContainerRecord]:
        return [from_row(row) for row in self.rows()]

    def rows(self) -> list[tuple]:
        """Every container's row as stored, oldest first, id first: for a cache that decodes (from_row)
        only the rows that differ from those it saw."""
        return [tuple(row) for row in self.db.query(f"SELECT {_COLUMNS} FROM containers ORDER BY created")]

    def set_state(self, container_id: str, state: dict) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), container_id))

    def set_host_config(self, container_id: str, host_config: dict) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE containers SET host_config = ? WHERE id = ?", (json.dumps(host_config), container_id))

    def set_restarts(self, container_id: str, count: int, *, manually_stopped: bool) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE containers SET restart_count = ?, manually_stopped = ? WHERE id = ?",
                (count, int(manually_stopped), container_id),
            )

    def rename(self, container_id: str, name: str) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, container_id))
        except sqlite3.IntegrityError:
            raise self._name_taken(name) from None

    def _name_taken(self, name: str) -> Conflict:
        owner = self.by_name(name)
        return Conflict(
            f'Conflict. The container name "/{name}" is already in use by container '
            f'"{owner.id if owner else "?"}". You have to remove (or rename) that container to be able to '
            "reuse that name."
        )

    def delete(self, container_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))
