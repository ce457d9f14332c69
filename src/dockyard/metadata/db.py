"""One SQLite database (WAL) under the data root, with numbered schema migrations.

Why SQLite: the engine's records (images, tags, containers, volumes, later
networks) change together and must survive kill -9 whole or not at all. SQLite's
transactions give that for free, where a directory of JSON files would need a
hand-made journal. WAL lets readers go on while one writer commits.

synchronous=NORMAL: in WAL mode a committed transaction survives the process
being killed; a power cut may lose the last commits but never corrupts the
file. Blobs and snapshots are made durable before a transaction names them, so
a lost commit only leaves unreferenced data that the next start collects.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence

# Each entry upgrades the schema by one version; never edit one that has shipped, append.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE images (
        id           TEXT PRIMARY KEY,      -- sha256 of the config blob
        target       TEXT NOT NULL,         -- digest of the manifest blob in the content store
        media_type   TEXT NOT NULL,         -- the manifest's media type
        target_size  INTEGER NOT NULL,
        created      TEXT NOT NULL,         -- the config's "created", RFC 3339, "" when absent
        parent       TEXT NOT NULL DEFAULT '',  -- the image this one was committed from, docker's Parent
        size         INTEGER NOT NULL,      -- bytes of content in all its layers
        added        REAL NOT NULL,         -- when it entered this store (seconds since the epoch)
        last_tagged  REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,          -- a normalised reference: docker.io/library/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX tags_by_image ON tags(image_id);
    """,
    """
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,       -- 64 hex
        name        TEXT NOT NULL UNIQUE,   -- without docker's leading "/"
        image_id    TEXT NOT NULL,
        image_name  TEXT NOT NULL,          -- as the create request named it
        created     TEXT NOT NULL,          -- RFC 3339 with nanoseconds
        config      TEXT NOT NULL,          -- JSON: the create request's Config
        host_config TEXT NOT NULL,          -- JSON: its HostConfig
        state       TEXT NOT NULL           -- JSON: docker's State (Status, Running, Pid, ExitCode...)
    );
    """,
    """
    ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN manually_stopped INTEGER NOT NULL DEFAULT 0;  -- by docker stop
    """,
    """
    CREATE TABLE volumes (
        name     TEXT PRIMARY KEY,          -- [a-zA-Z0-9][a-zA-Z0-9_.-]+, or 64 hex for an anonymous one
        driver   TEXT NOT NULL,             -- "local"
        created  TEXT NOT NULL,             -- RFC 3339, docker's CreatedAt
        labels   TEXT NOT NULL,             -- JSON object
        options  TEXT NOT NULL              -- JSON object: the driver's options (type, device, o)
    );
    ALTER TABLE containers ADD COLUMN mounts TEXT NOT NULL DEFAULT '[]';  -- JSON: the container's mount points
    """,
    """
    CREATE TABLE networks (
        id       TEXT PRIMARY KEY,          -- 64 hex
        name     TEXT NOT NULL UNIQUE,
        created  TEXT NOT NULL,             -- RFC 3339 with nanoseconds
        spec     TEXT NOT NULL              -- JSON: driver, IPAM config, options, labels, bridge name...
    );
    CREATE TABLE endpoints (
        id           TEXT PRIMARY KEY,      -- 64 hex
        network_id   TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        config       TEXT NOT NULL,         -- JSON: the EndpointSettings asked for (Aliases, IPAMConfig...)
        address      TEXT NOT NULL DEFAULT '',  -- the IPv4 address held while the container runs, "" otherwise
        address6     TEXT NOT NULL DEFAULT '',  -- its IPv6 address, on a network with IPv6
        ports        TEXT NOT NULL DEFAULT '{}',  -- JSON: NetworkSettings.Ports published through this endpoint
        UNIQUE (network_id, container_id)
    );
    CREATE INDEX endpoints_by_container ON endpoints(container_id);
    """,
)


class Database:
    """A connection shared by the engine's threads; writes go through transaction()."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        # isolation_level=None: no implicit transactions; transaction() says BEGIN IMMEDIATE
        # itself, so a writer takes the lock before reading what it will change.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements in the block commit together, or none does."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def revision(self, *, wait: bool = True) -> tuple[int, int] | None:
        """Changes so far: another value means rows changed since, through this connection (its count of
        rows written, whichever way) or by another process (SQLite's data_version), so a view built
        from the tables may be stale. Rolled-back writes count too: a spurious change, never a missed one.
        None if not wait and another thread is using the connection (the event loop must not wait)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            return self._conn.total_changes, self._conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            self._lock.release()

    def query(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, parameters).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
