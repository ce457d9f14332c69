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
    import calendar  # only the daemon parses times; the runtime's start-up does not pay for it

    try:
        whole = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0
    fraction = stamp[20:].rstrip("Z") if stamp[19:20] == "." else ""
    return whole + (float("0." + fraction) if fraction.isdigit() else 0.0)
