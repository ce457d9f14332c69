"""Query parameters as dockerd reads them: booleans, JSON filters, lists."""

from __future__ import annotations

import json

from aiohttp import web

from dockyard.errors import InvalidParameter

_FALSE = ("", "0", "false", "False", "no")


def boolean(request: web.Request, name: str, default: bool = False) -> bool:
    """dockerd's BoolValue: absent is the default; "", 0, false and no are false; anything else true."""
    if name not in request.query:
        return default
    return request.query[name].strip() not in _FALSE


def filters(request: web.Request) -> dict[str, list[str]]:
    """The `filters` parameter: {"key": ["value", ...]}, or the old {"key": {"value": true}} form."""
    raw = request.query.get("filters", "")
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid filters: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidParameter("invalid filters: expected a JSON object")
    result = {}
    for key, values in document.items():
        if isinstance(values, dict):
            values = [value for value, on in values.items() if on]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidParameter(f"invalid filters: the values of {key!r} must be strings")
        result[key] = values
    return result


async def json_object(request: web.Request) -> dict:
    """The request body as a JSON object; an empty body is {}."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: expected an object")
    return body
