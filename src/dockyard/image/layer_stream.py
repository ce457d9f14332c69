"""Layer byte streams: decompression by magic number, and digests computed on the way through.

Layers can be gigabytes and arrive from a socket, so nothing here seeks backwards or
holds more than a few MiB: LayerReader decompresses a few chunks ahead (in a helper
thread, which is the only thread that reads the raw stream), hashes every uncompressed
byte as it passes (that sha256 is the layer's diffID) and offers tarfile the
forward-only seek it needs. The writing direction is in layer_writers.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import zlib
from typing import BinaryIO, Protocol

import zstandard

from dockyard.errors import InvalidParameter, Unavailable, Unsupported
from dockyard.image.layer_format import Compression

CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
# zstd cannot bound its output per call, and an RLE block turns 4 bytes into 128 KiB:
# feeding it small input chunks keeps one call under ~128 MiB even for a hostile frame.
_ZSTD_FEED = 4096


class _Decoder(Protocol):
    def read(self) -> bytes:
        """The next piece of uncompressed data; b"" once the stream has ended cleanly."""
        ...


def _read_exactly(raw: BinaryIO, n: int) -> bytes:
    chunks, have = [], 0
    while have < n:
        chunk = raw.read(n - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def detect_compression(head: bytes) -> Compression:
    """Compression of a layer from its first bytes, as docker's DecompressStream does."""
    if head.startswith(_GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(_ZSTD_MAGIC):
        return Compression.ZSTD
    if head.startswith((_BZIP2_MAGIC, _XZ_MAGIC)):
        raise Unsupported("layer is bzip2 or xz compressed: only gzip, zstd and uncompressed layers are supported")
    return Compression.NONE


class _Plain:
    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self._raw, self._head = raw, head

    def read(self) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._raw.read(CHUNK)


class _Members:
    """Concatenated compressed members (gzip members, zstd frames), as pigz and zstd -T write.

    The single-member decompressors of zlib and zstandard tell where a member ends
    (eof, unused_data); input that stops inside a member is a truncated layer.
    """

    def __init__(self, raw: BinaryIO, head: bytes, compression: Compression) -> None:
        self._raw, self._compression = raw, compression
        self._gzip = compression is Compression.GZIP
        self._feed = CHUNK if self._gzip else _ZSTD_FEED
        self._input, self._pos = head, 0  # compressed bytes read, and how far they were fed
        self._input_done = False
        self._member = self._new_member()

    def _new_member(self):
        if self._gzip:
            return zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=False)

    def _pending(self) -> int:
        return len(self._input) - self._pos

    def _more_input(self) -> bool:
        if self._input_done:
            return False
        data = self._raw.read(CHUNK)
        self._input_done = not data
        self._input, self._pos = self._input[self._pos :] + data, 0
        return bool(data)

    def read(self) -> bytes:
        # Gathered up to a MiB: zstd yields pieces of a few KiB (it is fed 4 KiB at a time), and
        # every piece passed on costs a buffer copy and a write() downstream.
        pieces, size = [], 0
        while size < CHUNK:
            piece = self._read_piece()
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _read_piece(self) -> bytes:
        while True:
            if self._member.eof:
                if not self._next_member():
                    return b""
            elif self._pending() or self._more_input():
                out = self._decompress()
                if out:
                    return out
            else:
                # The input has ended; zlib may still hold output that max_length held back.
                out = self._member.flush() if self._gzip else b""
                if out:
                    return out
                if not self._member.eof:
                    raise InvalidParameter(f"layer is truncated: the {self._compression} stream ends mid-member")

    def _decompress(self) -> bytes:
        data = memoryview(self._input)[self._pos : self._pos + self._feed]
        self._pos += len(data)
        try:
            if self._gzip:
                # max_length bounds memory against decompression bombs; the rest waits in unconsumed_tail.
                out = self._member.decompress(data, CHUNK)
                self._pos -= len(self._member.unconsumed_tail)
            else:
                out = self._member.decompress(data)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise InvalidParameter(f"layer is corrupt: bad {self._compression} data: {exc}") from exc
        if self._member.eof:
            self._pos -= len(self._member.unused_data)  # the start of the next member, if any
        return out

    def _starts_member(self) -> bool:
        head = self._input[self._pos : self._pos + 4]
        if self._gzip:
            return head.startswith(_GZIP_MAGIC)
        # zstd skippable frames (magic 0x184D2A5?) are members too; the decoder passes over them.
        return head == _ZSTD_MAGIC or (len(head) == 4 and head[0] & 0xF0 == 0x50 and head[1:] == b"\x2a\x4d\x18")

    def _next_member(self) -> bool:
        """A member has ended: start the next one, or accept the end of the stream."""
        while self._pending() < 4 and self._more_input():
            pass
        if not self._pending():
            return False
        if self._starts_member():
            self._member = self._new_member()
            return True
        # Some writers pad the compressed file to a record size with NULs; anything else is garbage.
        while not self._input[self._pos :].strip(b"\0"):
            self._pos = len(self._input)
            if not self._more_input():
                return False
        raise InvalidParameter(f"layer is corrupt: unexpected data after the {self._compression} stream")


class _Digesting:
    """Hashes what the decoder yields: the uncompressed tar, whose sha256 is the diffID."""

    def __init__(self, decoder: _Decoder, digest: hashlib._Hash) -> None:
        self._decoder, self._digest = decoder, digest

    def read(self) -> bytes:
        data = self._decoder.read()
        self._digest.update(data)
        return data


class _Prefetch:
    """Runs a decoder (and the diffID hash) in a helper thread a few chunks ahead of the reader.

    zlib, zstandard and hashlib release the GIL while they work, so decompressing and
    hashing overlap with the (mostly Python) extraction instead of adding to it. The
    queue is bounded: memory stays at a few chunks whatever the layer size (a hostile
    zstd stream can inflate one 4 KiB feed to 128 MiB; gzip output is capped at a chunk).
    """

    _DEPTH = 4
    # After a failure the helper may sit in a read() of a stalled stream; the caller
    # closing that stream ends it. Waiting longer than this would only hide the error.
    _JOIN_TIMEOUT = 2.0

    def __init__(self, decoder: _Digesting) -> None:
        self._decoder = decoder
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(self._DEPTH)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="dy-layer-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._decoder.read()
                self._put(data)
                if not data:
                    return
        except OSError as exc:  # the stream itself failed (a socket reset, a read error)
            self._put(Unavailable(f"reading the layer stream failed: {exc}"))
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self) -> bytes:
        if self._done:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._done = not item
        return item

    def close(self) -> None:
        """Stop the helper thread, whether or not the stream was read to its end."""
        self._stop.set()
        self._thread.join(self._JOIN_TIMEOUT)


class LayerReader:
    """A read-only, forward-only file object over a layer's uncompressed tar bytes.

    Every byte handed out is hashed, so once the stream has been drained `diff_id` and
    `size` describe the whole tar. seek() accepts only positions at or after tell():
    tarfile's "r:" mode needs that much, and it is what makes streaming possible
    without tarfile's own "r|" buffer (which copies its remainder on every read).
    """

    def __init__(self, raw: BinaryIO, compression: str | None = None) -> None:
        try:
            head = _read_exactly(raw, 6)
        except OSError as exc:
            raise Unavailable(f"reading the layer stream failed: {exc}") from exc
        try:
            kind = Compression(compression) if compression is not None else detect_compression(head)
        except ValueError as exc:
            raise InvalidParameter(f"unknown layer compression {compression!r}") from exc
        self.compression = kind
        self._hash = hashlib.sha256()
        decoder = _Plain(raw, head) if kind is Compression.NONE else _Members(raw, head, kind)
        self._decoder = _Prefetch(_Digesting(decoder, self._hash))
        self._buf = b""
        self._off = 0
        self._pos = 0
        self._eof = False
        self.last_read = b""  # what the latest read() returned: tells an end-of-archive block from a torn one

    @property
    def diff_id(self) -> str:
        """Valid once drain() has returned."""
        return "sha256:" + self._hash.hexdigest()

    @property
    def size(self) -> int:
        return self._pos + (len(self._buf) - self._off)

    def close(self) -> None:
        self._decoder.close()

    def __enter__(self) -> LayerReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def at_eof(self) -> bool:
        return self._eof and self._off >= len(self._buf)

    def _fill(self) -> bool:
        data = self._decoder.read()
        if not data:
            self._eof = True
            return False
        self._buf = self._buf[self._off :] + data if self._off < len(self._buf) else data
        self._off = 0
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = 1 << 62
        while len(self._buf) - self._off < n and not self._eof and self._fill():
            pass
        chunk = self._buf[self._off : self._off + n]
        self._off += len(chunk)
        self._pos += len(chunk)
        self.last_read = chunk
        return chunk

    def copy_to_fd(self, fd: int, n: int) -> int:
        """Write the next n bytes to fd without building intermediate copies; returns bytes written."""
        done = 0
        while done < n:
            if self._off >= len(self._buf) and not self._fill():
                break
            view = memoryview(self._buf)[self._off : self._off + (n - done)]
            while view:
                written = os.write(fd, view)
                view = view[written:]
                self._off += written
                self._pos += written
                done += written
        return done

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        target = pos if whence == os.SEEK_SET else self._pos + pos
        if whence not in (os.SEEK_SET, os.SEEK_CUR) or target < self._pos:
            raise OSError(f"layer stream is forward-only: cannot seek from {self._pos} to {target}")
        while self._pos < target:
            if not self.read(min(CHUNK, target - self._pos)):
                break
        return self._pos

    def drain(self) -> None:
        """Read to the end of the stream so the digest covers trailing padding too."""
        self._pos += len(self._buf) - self._off
        self._buf, self._off = b"", 0
        while self._fill():
            self._pos += len(self._buf)
            self._buf = b""
