"""The local content store: blobs/sha256/<hex> under the data root.

    <root>/blobs/sha256/<hex>     verified blobs, written once, read-only
    <root>/ingest/<random>        blobs being written; never trusted, removed by repair()
    <root>/leases/<id>            one digest per line: blobs a running operation still needs

Every blob is hashed while it is written and renamed into place only once its
digest is known to be right, after an fsync of the data and then of the
directory, so a crash at any moment leaves either the whole verified blob or
nothing under blobs/ (DESIGN.md, "On disk").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.core.content import BlobInfo
from dockyard.errors import InvalidParameter, NotFound

_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


def check_digest(digest: str) -> str:
    """Return the hex part of a sha256 digest, or raise InvalidParameter."""
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256":
        raise InvalidParameter(f"unsupported digest {digest!r}: only sha256 is supported")
    if len(hexpart) != 64 or not set(hexpart) <= _HEX:
        raise InvalidParameter(f"invalid digest {digest!r}")
    return hexpart


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalContentStore:
    """ContentStore on a local filesystem (see dockyard.core.content for the contract)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.ingests = os.path.join(root, "ingest")
        self.leases = os.path.join(root, "leases")
        for path in (self.blobs, self.ingests, self.leases):
            os.makedirs(path, exist_ok=True)

    def _path(self, digest: str) -> str:
        return os.path.join(self.blobs, check_digest(digest))

    def info(self, digest: str) -> BlobInfo:
        try:
            return BlobInfo(digest, os.stat(self._path(digest)).st_size)
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")  # the caller closes it
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def ingest(
        self, stream: BinaryIO, *, expected: str | None = None, size: int | None = None, lease: str | None = None
    ) -> BlobInfo:
        if expected is not None and os.path.exists(self._path(expected)):
            if lease is not None:
                self._add_to_lease(lease, expected)
            return self.info(expected)
        temp = os.path.join(self.ingests, secrets.token_hex(16))
        try:
            digest, written = self._write(stream, temp)
            if expected is not None and digest != expected:
                raise InvalidParameter(f"digest mismatch: expected {expected}, got {digest}")
            if size is not None and written != size:
                raise InvalidParameter(f"size mismatch for {digest}: expected {size} bytes, got {written}")
            if lease is not None:
                self._add_to_lease(lease, digest)
            os.rename(temp, self._path(digest))
            _fsync_dir(self.blobs)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        return BlobInfo(digest, written)

    def _write(self, stream: BinaryIO, temp: str) -> tuple[str, int]:
        hasher = hashlib.sha256()
        written = 0
        with open(temp, "xb") as out:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o444)
        return f"sha256:{hasher.hexdigest()}", written

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self._path(digest))
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def walk(self) -> Iterator[BlobInfo]:
        with os.scandir(self.blobs) as entries:
            for entry in entries:
                if len(entry.name) == 64 and set(entry.name) <= _HEX:
                    yield BlobInfo(f"sha256:{entry.name}", entry.stat().st_size)

    # -- leases and garbage collection -------------------------------------------

    @contextlib.contextmanager
    def lease(self) -> Iterator[str]:
        """A lease for the duration of the block; its blobs are safe from gc() meanwhile.

        Lease files outlive a crash; repair() removes those whose owner is gone.
        """
        lease_id = f"{os.getpid()}-{secrets.token_hex(8)}"
        path = os.path.join(self.leases, lease_id)
        open(path, "x").close()
        try:
            yield lease_id
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _add_to_lease(self, lease: str, digest: str) -> None:
        path = os.path.join(self.leases, lease)
        if not os.path.exists(path):
            raise InvalidParameter(f"lease {lease} does not exist")
        with open(path, "a") as f:
            f.write(digest + "\n")

    def _leased(self) -> set[str]:
        leased: set[str] = set()
        with os.scandir(self.leases) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError), open(entry.path) as f:
                    leased.update(line.strip() for line in f if line.strip())
        return leased

    def gc(self, roots: set[str]) -> list[BlobInfo]:
        keep = roots | self._leased()
        freed = []
        for blob in list(self.walk()):
            if blob.digest not in keep:
                with contextlib.suppress(NotFound):
                    self.delete(blob.digest)
                    freed.append(blob)
        return freed

    # -- after a crash ---------------------------------------------------------------

    def repair(self) -> list[str]:
        """Remove what a crash can leave: half-written ingests and leases of dead processes.

        Call it at start-up, before anything else uses the store: it treats every
        ingest in progress as abandoned.

        Returns what was removed. Blobs under blobs/ need no check: only verified
        data is ever renamed there.
        """
        removed = []
        for name in os.listdir(self.ingests):
            os.unlink(os.path.join(self.ingests, name))
            removed.append(f"ingest/{name}")
        for name in os.listdir(self.leases):
            pid = name.split("-", 1)[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                os.unlink(os.path.join(self.leases, name))
                removed.append(f"leases/{name}")
        return removed
