"""The SQLite metadata store: migrations, all-or-nothing transactions, tags moving between images, container
names drawn again."""

from __future__ import annotations

import sqlite3

import pytest

from dockyard.errors import Conflict
from dockyard.metadata.containers import ContainerRecord, ContainerTable
from dockyard.metadata.db import MIGRATIONS, Database
from dockyard.metadata.images import ImageRecord, ImageTable


def record(n: int, **changes) -> ImageRecord:
    fields = dict(
        id=f"sha256:{n:064x}",
        target=f"sha256:{n + 100:064x}",
        media_type="application/vnd.oci.image.manifest.v1+json",
        target_size=400,
        created="2024-01-01T00:00:00Z",
        parent="",
        size=1000,
        added=float(n),
    )
    return ImageRecord(**{**fields, **changes})


@pytest.fixture
def table(tmp_path):
    db = Database(str(tmp_path / "metadata.db"))
    yield ImageTable(db)
    db.close()


def test_a_new_database_is_at_the_newest_schema_and_reopens(tmp_path):
    path = str(tmp_path / "metadata.db")
    Database(path).close()
    again = Database(path)
    assert again.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert again.query("PRAGMA journal_mode")[0][0] == "wal"


def test_a_failed_transaction_leaves_nothing(table):
    with pytest.raises(sqlite3.IntegrityError), table.db.transaction() as conn:
        conn.execute("INSERT INTO images VALUES (?, 't', 'm', 1, '', '', 1, 1, 0)", ("sha256:a",))
        conn.execute("INSERT INTO tags VALUES ('x', 'sha256:no-such-image')")  # the foreign key fails
    assert table.all() == []


def test_a_tag_moves_to_a_new_image_and_says_from_where(table):
    assert table.add(record(1), ["docker.io/library/a:1"]) == {}
    assert table.add(record(2), ["docker.io/library/a:1", "docker.io/library/b:1"]) == {
        "docker.io/library/a:1": record(1).id
    }
    assert table.tags_of(record(1).id) == []
    assert table.tags_of(record(2).id) == ["docker.io/library/a:1", "docker.io/library/b:1"]


def test_deleting_an_image_deletes_its_tags(table):
    table.add(record(1), ["docker.io/library/a:1"])
    table.delete(record(1).id)
    assert table.resolve("docker.io/library/a:1") is None


def test_prefixes_and_children(table):
    table.add(record(0xABC), [])
    table.add(record(0xABD, parent=record(0xABC).id), [])
    assert [r.id for r in table.with_prefix("0" * 61 + "ab")] == [record(0xABC).id, record(0xABD).id]
    assert table.children(record(0xABC).id) == [record(0xABD).id]


def _container(container_id: str, name: str) -> ContainerRecord:
    return ContainerRecord(container_id, name, "sha256:" + "0" * 64, "busybox", "2024-01-01T00:00:00Z", {}, {})


def test_a_drawn_container_name_taken_meanwhile_is_drawn_again(tmp_path):
    """Two creates without a name can draw the same one; the second draws again instead of failing."""
    db = Database(str(tmp_path / "metadata.db"))
    try:
        containers = ContainerTable(db)
        containers.add(_container("a" * 64, "calm_dock1"))
        draws = iter(["calm_dock1", "keen_pier2"])
        second = _container("b" * 64, "calm_dock1")
        containers.add(second, draw_name=lambda: next(draws))
        assert containers.by_name("keen_pier2").id == "b" * 64 and second.name == "keen_pier2"
        with pytest.raises(Conflict, match='The container name "/calm_dock1" is already in use'):
            containers.add(_container("c" * 64, "calm_dock1"))  # a name asked for is not drawn again
    finally:
        db.close()
