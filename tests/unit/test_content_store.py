"""The ContentStore contract, run against every implementation, plus crash safety."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.core.content import BlobInfo
from dockyard.errors import InvalidParameter, NotFound
from dockyard.image.content import LocalContentStore


class MemoryContentStore:
    """The fake: the contract with nothing but a dict."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.leases: dict[str, set[str]] = {}

    def info(self, digest):
        _check(digest)
        if digest not in self.blobs:
            raise NotFound(f"blob {digest} not found")
        return BlobInfo(digest, len(self.blobs[digest]))

    def open(self, digest):
        return io.BytesIO(self.blobs[self.info(digest).digest])

    def ingest(self, stream, *, expected=None, size=None, lease=None):
        data = stream.read()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected is not None and digest != expected:
            raise InvalidParameter(f"digest mismatch: expected {expected}, got {digest}")
        if size is not None and len(data) != size:
            raise InvalidParameter(f"size mismatch for {digest}")
        if lease is not None:
            self.leases[lease].add(digest)
        self.blobs[digest] = data
        return BlobInfo(digest, len(data))

    def delete(self, digest):
        self.info(digest)
        del self.blobs[digest]

    def walk(self):
        return iter([BlobInfo(d, len(b)) for d, b in self.blobs.items()])

    @contextlib.contextmanager
    def lease(self):
        lease_id = f"lease{len(self.leases)}"
        self.leases[lease_id] = set()
        try:
            yield lease_id
        finally:
            del self.leases[lease_id]

    def gc(self, roots):
        keep = roots.union(*self.leases.values())
        freed = [BlobInfo(d, len(b)) for d, b in self.blobs.items() if d not in keep]
        for blob in freed:
            del self.blobs[blob.digest]
        return freed


def _check(digest):
    if not digest.startswith("sha256:") or len(digest) != 71 or not set(digest[7:]) <= set("0123456789abcdef"):
        raise InvalidParameter(f"invalid digest {digest!r}")


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    return LocalContentStore(str(tmp_path / "content")) if request.param == "local" else MemoryContentStore()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_ingest_then_read_back(store):
    info = store.ingest(io.BytesIO(b"hello"))
    assert info == BlobInfo(digest_of(b"hello"), 5)
    with store.open(info.digest) as f:
        assert f.read() == b"hello"
    assert store.info(info.digest) == info
    assert list(store.walk()) == [info]


def test_a_digest_mismatch_is_refused_and_leaves_nothing(store):
    with pytest.raises(InvalidParameter, match=r"digest mismatch: expected sha256:0+, got sha256:"):
        store.ingest(io.BytesIO(b"hello"), expected="sha256:" + "0" * 64)
    assert list(store.walk()) == []


def test_a_size_mismatch_is_refused(store):
    with pytest.raises(InvalidParameter, match="size mismatch"):
        store.ingest(io.BytesIO(b"hello"), size=4)
    assert list(store.walk()) == []


def test_ingesting_twice_keeps_one_blob(store):
    first = store.ingest(io.BytesIO(b"same"))
    second = store.ingest(io.BytesIO(b"same"), expected=first.digest)
    assert first == second and len(list(store.walk())) == 1


@pytest.mark.parametrize("digest", ["sha256:xyz", "md5:" + "0" * 32, "sha256:" + "A" * 64])
def test_malformed_digests_are_invalid(store, digest):
    with pytest.raises(InvalidParameter):
        store.info(digest)


def test_unknown_digests_are_not_found(store):
    missing = digest_of(b"missing")
    for call in (store.info, store.open, store.delete):
        with pytest.raises(NotFound):
            call(missing)


def test_gc_keeps_roots_and_leased_blobs_only(store):
    kept = store.ingest(io.BytesIO(b"root"))
    dropped = store.ingest(io.BytesIO(b"garbage"))
    with store.lease() as lease:
        leased = store.ingest(io.BytesIO(b"in flight"), lease=lease)
        assert store.gc({kept.digest}) == [dropped]
        assert {b.digest for b in store.walk()} == {kept.digest, leased.digest}
    assert store.gc({kept.digest}) == [leased]
    assert [b.digest for b in store.walk()] == [kept.digest]


@settings(max_examples=30, deadline=None)
@given(data=st.lists(st.binary(max_size=3000), max_size=6))
def test_walk_lists_exactly_what_was_ingested(tmp_path_factory, data):
    store = LocalContentStore(str(tmp_path_factory.mktemp("content")))
    digests = {store.ingest(io.BytesIO(item)).digest for item in data}
    assert {b.digest for b in store.walk()} == digests


_WRITER = """
import io, sys
from dockyard.image.content import LocalContentStore

class Slow(io.RawIOBase):
    def __init__(self):
        self.left = 64
    def readable(self):
        return True
    def readinto(self, buffer):
        if not self.left:
            return 0
        self.left -= 1
        sys.stdout.write("chunk\\n"); sys.stdout.flush()
        buffer[: 1 << 16] = b"x" * (1 << 16)
        return 1 << 16

store = LocalContentStore(sys.argv[1])
with store.lease() as lease:
    store.ingest(io.BufferedReader(Slow(), 1 << 16), lease=lease)
"""


@pytest.mark.parametrize("chunks_before_kill", [1, 7, 30])
def test_sigkill_during_ingest_leaves_no_blob_and_repair_clears_the_rest(tmp_path, chunks_before_kill):
    root = str(tmp_path / "content")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, root], stdout=subprocess.PIPE)
    for _ in range(chunks_before_kill):
        writer.stdout.readline()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    store = LocalContentStore(root)
    assert list(store.walk()) == []  # nothing unverified is ever visible
    removed = store.repair()
    assert any(item.startswith("ingest/") for item in removed)
    assert any(item.startswith("leases/") for item in removed)
    assert os.listdir(store.ingests) == [] and os.listdir(store.leases) == []
    data = b"x" * (64 << 16)
    assert store.ingest(io.BytesIO(data)).digest == digest_of(data)
