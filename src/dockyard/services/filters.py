"""What every list and prune endpoint's `filters` share: known keys, booleans, labels."""

from __future__ import annotations

import time

from dockyard import timestamps
from dockyard.errors import InvalidParameter


def check(filters: dict[str, list[str]], allowed: frozenset[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"invalid filter '{key}'")


def boolean(value: str, key: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidParameter(f"invalid filter '{key}={value}'")


def label_matches(labels: dict, wanted: str) -> bool:
    """`label=key` (present) or `label=key=value` (equal)."""
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def until(value: str) -> int:
    """An `until` filter's moment in seconds since the epoch: given as such, as RFC 3339, or as a Go
    duration ago ("10m")."""
    from dockyard.image.changes import parse_duration

    if value.replace(".", "", 1).isdigit():
        return int(float(value))
    stamp = int(timestamps.seconds(value))
    if stamp:
        return stamp
    return int(time.time() - parse_duration(value) / 1e9)
