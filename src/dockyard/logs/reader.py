"""The daemon's side of a container's log: every file of it, oldest first, then what comes while it runs."""

from __future__ import annotations

import concurrent.futures
import gzip
import os
from collections.abc import Callable, Iterator

from dockyard import timestamps

Decoder = Callable[[bytes], tuple[list[dict], bytes]]
_POLL = 0.05
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
    log = open(path, "rb")  # noqa: SIM115 handed to the generator, which closes it
    data = log.read()
    if tail != 0:
        older = b"".join(_read_file(name) for name in rotated_files(path))
        records, _ = decode(older + data)
    else:
        records = []
    if tail >= 0:
        records = records[-tail:] if tail else []
    wanted = [r for r in records if _in_window(r, since, until)]
    return _follow(log, path, decode, wanted, exited, since, until)


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
    log, path: str, decode: Decoder, records: list[dict], exited: concurrent.futures.Future | None, since: float,
    until: float,
) -> Iterator[dict]:  # fmt: skip
    try:
        yield from records
        if exited is None:
            return
        pending = b""
        while True:
            done = exited.done()
            entries, pending = decode(pending + log.read())
            yield from (entry for entry in entries if _in_window(entry, since, until))
            if _rotated(log, path):  # what came before the rotation, then on with the new file, exited or not
                entries, _ = decode(pending + log.read() + _missed(log, path))
                yield from (entry for entry in entries if _in_window(entry, since, until))
                log.close()
                log = open(path, "rb")  # noqa: SIM115 closed below or at the next rotation
                pending = b""
                continue
            if done:
                return
            # Woken by the exit at once rather than at the next tick: `docker run` (attached) ends when
            # this does, and sleeping the whole tick added 25 ms to every run on average.
            concurrent.futures.wait([exited], timeout=_POLL)
    finally:
        log.close()


def _missed(log, path: str) -> bytes:
    """The files that rotated in and out while the follower slept (output faster than it polls).

    The file the follower held is found among the rotated ones by its first bytes (every record
    carries a nanosecond time, so no two files start alike); the ones after it were never read.
    """
    head = os.pread(log.fileno(), _HEAD, 0)
    if not head:
        return b""
    newer = []
    for name in reversed(rotated_files(path)):  # newest first: the held file is usually <path>.1
        if _read_file(name, _HEAD) == head:
            return b"".join(_read_file(name) for name in reversed(newer))
        newer.append(name)
    return b""  # it fell off the end (max-file) or went with the container: nothing to add


def _rotated(log, path: str) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(log.fileno()).st_ino
    except FileNotFoundError:
        return False  # removed with the container (run --rm): the open file is all there is


def _in_window(record: dict, since: float, until: float) -> bool:
    if not since and not until:
        return True
    moment = timestamps.seconds(record["time"])
    return (not since or moment >= since) and (not until or moment <= until)
