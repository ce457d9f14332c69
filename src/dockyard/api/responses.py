"""JSON responses as dockerd writes them.

The Content-Type must be exactly "application/json": the docker CLI decodes an
error body as {"message": ...} only then (aiohttp's json_response would add a
charset, and the CLI would print the raw JSON instead of the message).
"""

from __future__ import annotations

import json

from aiohttp import web

JSON = "application/json"


def json_response(document: object, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(document).encode() + b"\n", status=status, headers={"Content-Type": JSON})


def json_lines(documents: list[dict]) -> web.Response:
    """A JSON message stream (docker load, import): one object per line."""
    body = b"".join(json.dumps(document).encode() + b"\r\n" for document in documents)
    return web.Response(body=body, headers={"Content-Type": JSON})
