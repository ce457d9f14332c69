"""The shim's side of a container's log: lines -> its driver's records -> a file that rotates.

Past max_size bytes the file is rotated: it becomes <path>.1 (<path>.1.gz with
compress, as docker names them), older ones shift up, and at most max_files files
are kept. A record is never split across files, so a file grows past max_size by
at most one record, as docker's. With max_files 1 the file is replaced by a new
one rather than truncated: a follower holding it open notices the new inode.

Compression runs in a child the writer forks when a file rotates, so the
container's output is never held up by it (about a second per 20 MB) and gzip
is never imported into the shim, whose memory is measured. The next rotation
waits for that child first: its <path>.1 must have become <path>.1.gz.

raw (a terminal's output): what is read is written at once, a line not yet ended
included, because attach reads the log and a shell's prompt ends no line; only
an unfinished UTF-8 character waits for the rest of its bytes. Otherwise an
unended line waits for its end, or for the shim's flush after a moment of quiet
(pending says whether one waits).
"""

from __future__ import annotations

import os
from collections.abc import Callable

Encoder = Callable[[str, list[bytes]], list[bytes]]


class LogWriter:
    def __init__(
        self,
        path: str,
        encode: Encoder,
        *,
        max_size: int = 0,
        max_files: int = 1,
        compress: bool = False,
        raw: bool = False,
    ) -> None:
        self.path = path
        self.raw = raw
        self.encode = encode
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.compress = compress and self.max_files > 1
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 kept open for the container's life
        self.size = self.file.tell()
        self.partial = {"stdout": b"", "stderr": b""}
        self.compressor = 0  # the child gzipping the last rotated file, until reaped

    def write(self, stream: str, data: bytes) -> None:
        *lines, rest = (self.partial[stream] + data).split(b"\n")
        chunks = [line + b"\n" for line in lines]
        if self.raw and rest:
            cut = _complete_utf8(rest)
            chunks.append(rest[:cut])
            rest = rest[cut:]
        self.partial[stream] = rest
        chunks = [chunk for chunk in chunks if chunk]
        if chunks:
            self._emit(self.encode(stream, chunks))

    @property
    def pending(self) -> bool:
        """Whether some output waits for the end of its line."""
        return any(self.partial.values())

    def flush(self) -> None:
        """The output's unterminated ends, as records of their own (quiet output, or the container has exited)."""
        for stream, rest in self.partial.items():
            if rest:
                self._emit(self.encode(stream, [rest]))
            self.partial[stream] = b""

    def close(self) -> None:
        self.file.close()
        self._wait_for_compressor()

    def _emit(self, records: list[bytes]) -> None:
        if not self.max_size:
            batch = b"".join(records)
        else:
            batch = b""
            for record in records:
                if self.size + len(batch) + len(record) > self.max_size and self.size + len(batch) > 0:
                    self.file.write(batch)
                    batch = b""
                    self._rotate()
                batch += record
        self.file.write(batch)
        self.size += len(batch)

    def _rotate(self) -> None:
        """The current file steps aside before the new one appears: a reader always finds every line."""
        self._wait_for_compressor()
        self.file.close()
        if self.max_files == 1:
            open(f"{self.path}.new", "wb").close()
            os.replace(f"{self.path}.new", self.path)
        else:
            suffix = ".gz" if self.compress else ""
            for n in range(self.max_files - 1, 1, -1):  # path.1 -> path.2 -> ... (the oldest falls off)
                if os.path.exists(f"{self.path}.{n - 1}{suffix}"):
                    os.replace(f"{self.path}.{n - 1}{suffix}", f"{self.path}.{n}{suffix}")
            os.replace(self.path, f"{self.path}.1")
        self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115 the next file of the same log
        self.size = 0
        if self.compress:
            # Readers take <path>.1.gz over <path>.1 once both exist: the .gz appears whole, by rename.
            self.compressor = os.fork()
            if self.compressor == 0:
                code = 1
                try:
                    _gzip(f"{self.path}.1", f"{self.path}.1.gz")
                    os.unlink(f"{self.path}.1")
                    code = 0
                finally:
                    os._exit(code)

    def _wait_for_compressor(self) -> None:
        if self.compressor:
            os.waitpid(self.compressor, 0)
            self.compressor = 0


def _complete_utf8(data: bytes) -> int:
    """The length of data without a UTF-8 character cut short at its end (invalid bytes count as complete)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the last lead byte (or ASCII): does its character fit?
            needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            return len(data) - back if needed > back else len(data)
    return len(data)


def _gzip(source: str, target: str) -> None:
    """source compressed into target, which appears whole or not at all."""
    import gzip
    import shutil

    with open(source, "rb") as plain, gzip.open(f"{target}.tmp", "wb") as packed:
        shutil.copyfileobj(plain, packed, 1 << 20)
    os.replace(f"{target}.tmp", target)
