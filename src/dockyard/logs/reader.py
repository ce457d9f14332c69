"""The daemon's side of a container's log: every file of it, oldest first, then what comes while it runs."""

from __future__ import annotations

import concurrent.futures
import gzip
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterator

from dockyard import timestamps
from dockyard.kernel.inotify import DirectoryWatch

log = logging.getLogger(__name__)
Decoder = Callable[[bytes], tuple[list[dict], bytes]]
_POLL = 0.05
_REOPEN_WAIT = 2.0  # seconds a rotation may take between the writer's rename and its new file
_HEAD = 256  # bytes that tell one file of a log from another: its first record, time included


def read(
    path: str, decode: Decoder, exited: concurrent.futures.Future | None, *, since: float, until: float, tail: int
) -> Iterator[dict]:
    """Read what the log holds now (eagerly: a follower must start from this moment, not from its first
    next()), then return the records ({"log", "stream", "time"}) and, with exited, what comes after until
    the container exits. tail: the last N records, -1 for all.

    The file is opened here and read through that descriptor: `run --rm` removes the container, log
    included, as soon as it exits, and the follower must still read the last lines.
    """
    file = open(path, "rb")  # noqa: SIM115 handed to the generator, which closes it
    data = file.read()
    if tail != 0:
        older = b"".join(_read_file(name) for name in rotated_files(path))
        records, _ = decode(older + data)
    else:
        records = []
    if tail >= 0:
        records = records[-tail:] if tail else []
    wanted = [r for r in records if _in_window(r, since, until)]
    return _follow(file, path, decode, wanted, exited, since, until)


def rotated_files(path: str) -> list[str]:
    """<path>.N ... <path>.1, oldest first; <path>.N.gz where the writer compressed one."""
    directory, base = os.path.split(path)
    numbers: dict[int, str] = {}
    for name in os.listdir(directory):
        number = name.removeprefix(base + ".").removesuffix(".gz")
        # <path>.N and <path>.N.gz both exist for a moment while the writer compresses: the .gz is
        # complete (it appears by rename), so it wins.
        if name.startswith(base + ".") and number.isdigit() and (name.endswith(".gz") or int(number) not in numbers):
            numbers[int(number)] = name
    return [os.path.join(directory, numbers[n]) for n in sorted(numbers, reverse=True)]


def _read_file(path: str, size: int = -1) -> bytes:
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read(size)
        with open(path, "rb") as f:
            return f.read(size)
    except FileNotFoundError:
        return b""  # rotated away (the oldest falls off) since the listing


def _follow(
    file, path: str, decode: Decoder, records: list[dict], exited: concurrent.futures.Future | None,
    since: float, until: float,
) -> Iterator[dict]:  # fmt: skip
    wake = None
    try:
        yield from records
        if exited is None:
            return
        wake = _Wake(os.path.dirname(path), exited)  # before the first read below: a write after it wakes
        pending = b""
        while True:
            done = exited.done()
            entries, pending = decode(pending + file.read())
            yield from (entry for entry in entries if _in_window(entry, since, until))
            if _rotated(file, path):  # what came before the rotation, then on with the new file, exited or not
                entries, _ = decode(pending + file.read() + _missed(file, path))
                yield from (entry for entry in entries if _in_window(entry, since, until))
                file.close()
                file = _reopen(path, wake)
                if file is None:
                    return
                pending = b""
                continue
            if done:
                return
            wake.wait(_POLL)
    finally:
        file.close()
        if wake is not None:
            wake.close()


class _Wake:
    """What a follower sleeps on: a write to the log (inotify on its directory, so that an attached
    terminal's echo does not wait for a poll) and the container's exit or a detach (the future's
    end: `docker run` attached ends when the follower does, and a whole tick added 25 ms to every
    run). The timeout of wait bounds how late anything else is noticed (no inotify instance left)."""

    def __init__(self, directory: str, exited: concurrent.futures.Future) -> None:
        try:
            self.watch: DirectoryWatch | None = DirectoryWatch(directory)
        except OSError as exc:  # out of inotify instances: poll
            log.debug("following the log in %s by polling: %s", directory, exc)
            self.watch = None
        self.event = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.lock = threading.Lock()  # the future's callback runs in another thread, maybe after close
        exited.add_done_callback(self._ended)

    def _ended(self, _future: concurrent.futures.Future) -> None:
        with self.lock:
            if self.event >= 0:
                os.eventfd_write(self.event, 1)

    def wait(self, timeout: float) -> None:
        if self.watch is not None:
            self.watch.wait(timeout, self.event)
        else:
            select.select([self.event], [], [], timeout)

    def close(self) -> None:
        with self.lock:
            os.close(self.event)
            self.event = -1
        if self.watch is not None:
            self.watch.close()


def _missed(file, path: str) -> bytes:
    """The files that rotated in and out while the follower slept (output faster than it polls).

    The file the follower held is found among the rotated ones by its first bytes (every record
    carries a nanosecond time, so no two files start alike); the ones after it were never read.
    """
    head = os.pread(file.fileno(), _HEAD, 0)
    if not head:
        return b""
    newer = []
    for name in reversed(rotated_files(path)):  # newest first: the held file is usually <path>.1
        if _read_file(name, _HEAD) == head:
            return b"".join(_read_file(name) for name in reversed(newer))
        newer.append(name)
    return b""  # it fell off the end (max-file) or went with the container: nothing to add


def _reopen(path: str, wake: _Wake):
    """The log's next file after a rotation. The writer renames the full file away before it creates the
    next one, so for a moment there is none (and a fast writer may have rotated again since the follower
    looked); None if none comes: the log went with the container, or its writer died in between."""
    deadline = time.monotonic() + _REOPEN_WAIT
    while os.path.isdir(os.path.dirname(path)) and time.monotonic() < deadline:
        try:
            return open(path, "rb")  # closed by the follower, or at its next rotation
        except FileNotFoundError:
            wake.wait(_POLL)
    return None


def _rotated(file, path: str) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(file.fileno()).st_ino
    except FileNotFoundError:
        return False  # removed with the container (run --rm): the open file is all there is


def _in_window(record: dict, since: float, until: float) -> bool:
    if not since and not until:
        return True
    moment = timestamps.seconds(record["time"])
    return (not since or moment >= since) and (not until or moment <= until)
