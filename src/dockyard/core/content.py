"""The content store contract: blobs (manifests, configs, layers) by digest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, NamedTuple, Protocol


class BlobInfo(NamedTuple):
    digest: str  # "sha256:<64 hex>"
    size: int


class ContentStore(Protocol):
    """Content-addressed, verified, crash-safe blob storage.

    Contract (tests/unit/test_content_store.py runs it against every implementation):
    - ingest() hashes while it writes. A blob becomes visible only whole and only
      if its digest (and size, when given) is what the caller expected; otherwise
      InvalidParameter names both digests and nothing of it remains.
    - Ingesting a blob that exists is cheap and returns the same BlobInfo.
    - info()/open()/delete() of an unknown digest raise NotFound; a malformed
      digest raises InvalidParameter.
    - A blob ingested under a lease survives gc() until the lease ends, even when
      no root names it: that is how a half-finished pull or load is protected.
    - gc(roots) deletes every blob that is neither in roots nor leased and
      returns what it freed; walk() then lists exactly the survivors.
    """

    def info(self, digest: str) -> BlobInfo: ...

    def open(self, digest: str) -> BinaryIO: ...

    def ingest(
        self, stream: BinaryIO, *, expected: str | None = None, size: int | None = None, lease: str | None = None
    ) -> BlobInfo: ...

    def delete(self, digest: str) -> None: ...

    def walk(self) -> Iterator[BlobInfo]: ...

    def lease(self) -> AbstractContextManager[str]: ...

    def gc(self, roots: set[str]) -> list[BlobInfo]: ...
