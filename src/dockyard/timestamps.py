"""Times as the Engine API writes them: RFC 3339 in UTC with nanoseconds ("2026-11-23T12:00:00.123456789Z")."""

from __future__ import annotations

import time

ZERO = "0001-01-01T00:00:00Z"  # Go's zero time: "never" in docker's JSON


def from_ns(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def now() -> str:
    return from_ns(time.time_ns())


def from_seconds(seconds: float) -> str:
    return from_ns(int(seconds * 10**9))


def seconds(stamp: str) -> float:
    """Seconds since the epoch; 0 for docker's zero time, an empty string or an unreadable one."""
    if not stamp or stamp.startswith("0001-"):
        return 0.0
    # Only the daemon parses times (the runtime's start-up does not pay for the import). fromisoformat
    # (3.11: "Z" and more than six fractional digits) is 20 times faster than strptime, which showed in
    # `ps -a` over 100 containers; its microseconds are as precise as a float of the epoch anyway.
    import datetime

    try:
        moment = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
