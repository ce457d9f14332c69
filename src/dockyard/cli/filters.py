"""--filter key=value flags as the Engine API's `filters` parameter: {"key": {"value": true}}."""

from __future__ import annotations

from dockyard import fastjson
from dockyard.cli.flags import UsageError


def parse_filters(values: list[str]) -> dict[str, dict[str, bool]]:
    filters: dict[str, dict[str, bool]] = {}
    for value in values:
        key, eq, wanted = value.partition("=")
        if not eq:
            raise UsageError("bad format of filter (expected name=value)")
        filters.setdefault(key.strip().lower(), {})[wanted.strip()] = True
    return filters


def filters_param(values: list[str]) -> str | None:
    return fastjson.dumps(parse_filters(values)) if values else None
