"""Writing layers: digests of what passes, and compression into a blob.

DigestWriter counts the diffID of a tar as it is written; CompressingWriter compresses
it into a blob and counts the blob's digest, so that one pass over a snapshot yields
both numbers a pushed image needs (the config's diff_ids and the manifest's digests).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import BinaryIO

import zstandard

from dockyard.image.layer_format import Compression


class DigestWriter:
    """Passes writes through to `out` while computing their sha256 and length."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._out.write(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if flush is not None:
            flush()


class CompressingWriter:
    """A writable that compresses into `out` and counts the compressed blob's digest and size.

        with CompressingWriter(blob_file, Compression.GZIP) as blob:
            diff = diff_layer(lowers, upper, blob)
        blob.digest, blob.size   # the manifest's layer descriptor; diff.diff_id goes in the config

    The output is deterministic for the same input (zlib's gzip header carries mtime 0
    and no file name), so committing the same changes twice yields the same blob.
    close() finishes the compressed stream but leaves `out` open.
    """

    def __init__(self, out: BinaryIO, compression: str = Compression.GZIP, *, level: int | None = None) -> None:
        kind = Compression(compression)
        if kind is Compression.NONE:
            self._compressor = None
        elif kind is Compression.GZIP:
            self._compressor = zlib.compressobj(6 if level is None else level, zlib.DEFLATED, 31)
        else:
            self._compressor = zstandard.ZstdCompressor(level=3 if level is None else level).compressobj()
        self._out = DigestWriter(out)
        self._in = 0
        self._closed = False

    @property
    def digest(self) -> str:
        return self._out.digest

    @property
    def size(self) -> int:
        return self._out.size

    def write(self, data: bytes) -> int:
        self._in += len(data)
        if self._compressor is None:
            self._out.write(data)
        else:
            compressed = self._compressor.compress(data)
            if compressed:
                self._out.write(compressed)
        return len(data)

    def tell(self) -> int:
        return self._in

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compressor is not None:
            self._out.write(self._compressor.flush())
        self._out.flush()

    def __enter__(self) -> CompressingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
