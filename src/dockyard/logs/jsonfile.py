"""docker's json-file format: {"log": line, "stream": "stdout", "time": RFC 3339 nano} and a newline per line;
with the labels, env or tag log options an "attrs" object before "time" (logs/attributes.py)."""

from __future__ import annotations

import json

from dockyard import timestamps

SUFFIX = "-json.log"  # docker's file name: <data root>/containers/<id>/<id>-json.log


def encode(stream: str, lines: list[bytes], attrs: dict[str, str] | None = None) -> list[bytes]:
    """One record per line; a line keeps its newline (or has none, when it is the unterminated end)."""
    stamp = timestamps.now()
    extra = {"attrs": dict(sorted(attrs.items()))} if attrs else {}  # Go marshals a map's keys sorted
    return [
        (json.dumps({"log": line.decode(errors="replace"), "stream": stream, **extra, "time": stamp}) + "\n").encode()
        for line in lines
    ]


def decode(data: bytes) -> tuple[list[dict], bytes]:
    """The complete records in data, and the bytes of an incomplete last one."""
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].splitlines() if line], data[end:]
