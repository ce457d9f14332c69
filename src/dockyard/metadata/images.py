"""Image records, tags and layer records in the metadata database.

An image is stored once per config digest (its ID); names point at it. The
blobs it needs live in the content store and its layers in the snapshotter
(committed snapshots named by chain ID, labelled with diffID and size); these
records are what says they belong to an image, so garbage collection starts
from them.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from dockyard.metadata.db import Database


@dataclass(frozen=True)
class ImageRecord:
    id: str
    target: str  # the manifest's digest
    media_type: str  # the manifest's media type
    target_size: int
    created: str
    parent: str
    size: int
    added: float
    last_tagged: float = 0.0


_IMAGE_COLUMNS = "id, target, media_type, target_size, created, parent, size, added, last_tagged"


def _image(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(*row)


class ImageTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- images ----------------------------------------------------------------------

    def get(self, image_id: str) -> ImageRecord | None:
        rows = self.db.query(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,))
        return _image(rows[0]) if rows else None

    def with_prefix(self, prefix: str) -> list[ImageRecord]:
        """Images whose ID (without "sha256:") starts with prefix, a lower-case hex string."""
        rows = self.db.query(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE substr(id, 8, ?) = ?", (len(prefix), prefix))
        return [_image(row) for row in rows]

    def all(self) -> list[ImageRecord]:
        return [_image(row) for row in self.db.query(f"SELECT {_IMAGE_COLUMNS} FROM images ORDER BY added")]

    def ids(self) -> set[str]:
        return {row[0] for row in self.db.query("SELECT id FROM images")}

    def children(self, image_id: str) -> list[str]:
        return [row[0] for row in self.db.query("SELECT id FROM images WHERE parent = ?", (image_id,))]

    def add(self, image: ImageRecord, tags: list[str]) -> dict[str, str]:
        """Store image (if new) and point tags at it, in one transaction.

        Returns {tag: id of the image it was taken from} for tags that moved.
        """
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO images ({_IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    image.id,
                    image.target,
                    image.media_type,
                    image.target_size,
                    image.created,
                    image.parent,
                    image.size,
                    image.added,
                    image.last_tagged,
                ),
            )
            return self._tag(conn, image.id, tags)

    def delete(self, image_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))

    # -- tags --------------------------------------------------------------------------

    def tag(self, image_id: str, name: str) -> str | None:
        """Point name at image_id; return the image it pointed at before, if another."""
        with self.db.transaction() as conn:
            return self._tag(conn, image_id, [name]).get(name)

    @staticmethod
    def _tag(conn: sqlite3.Connection, image_id: str, names: list[str]) -> dict[str, str]:
        moved = {}
        for name in names:
            row = conn.execute("SELECT image_id FROM tags WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != image_id:
                moved[name] = row[0]
            conn.execute("INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)", (name, image_id))
        if names:
            conn.execute("UPDATE images SET last_tagged = ? WHERE id = ?", (time.time(), image_id))
        return moved

    def untag(self, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM tags WHERE name = ?", (name,))

    def resolve(self, name: str) -> str | None:
        rows = self.db.query("SELECT image_id FROM tags WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def tags_of(self, image_id: str) -> list[str]:
        return [row[0] for row in self.db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))]

    def all_tags(self) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = {}
        for name, image_id in self.db.query("SELECT name, image_id FROM tags ORDER BY name"):
            tags.setdefault(image_id, []).append(name)
        return tags
