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


async def json_lines(request: web.Request, documents: list[dict]) -> web.StreamResponse:
    """A JSON message stream (docker load, import): one object per line, chunked as dockerd streams it.

    docker-py reads an unchunked answer as a single JSON document, which several lines are not.
    """
    response = web.StreamResponse(headers={"Content-Type": JSON})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for document in documents:
        await response.write(json.dumps(document).encode() + b"\r\n")
    await response.write_eof()
    return response


def error_message(message: str) -> dict:
    """An error inside a JSON message stream, as dockerd writes one once the answer has begun."""
    return {"errorDetail": {"message": message}, "error": message}
