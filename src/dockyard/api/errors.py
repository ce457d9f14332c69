"""The one place where errors become HTTP status codes (DESIGN.md, "Layers").

Bodies are {"message": ...} as dockerd writes them; clients (docker-py among
them) match some messages ("No such image: …"), so the services' messages pass
through unchanged.
"""

from __future__ import annotations

import logging

from aiohttp import web

from dockyard.api.hijack import abandon_hijack
from dockyard.api.responses import json_response
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidParameter,
    NotFound,
    NotModified,
    PermissionDenied,
    Unavailable,
    Unsupported,
)

log = logging.getLogger(__name__)

STATUS = {
    NotFound: 404,
    Conflict: 409,
    InvalidParameter: 400,
    NotModified: 304,
    PermissionDenied: 403,
    Unavailable: 503,
    Unsupported: 501,
}


def status_of(error: DockyardError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def error_response(status: int, message: str) -> web.Response:
    if status == 304:
        return web.Response(status=304)
    return json_response({"message": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DockyardError as exc:
        status = status_of(exc)
        if status == 500:
            log.exception("internal error serving %s %s", request.method, request.path)
        return abandon_hijack(request) or error_response(status, str(exc))
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        # An endpoint Dockyard does not serve: docker's words, in docker's JSON, so clients print them. dockerd
        # answers a known path with another method so too (GET /containers/x, which only DELETE serves).
        return error_response(404, "page not found")
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug: say so, and keep it in the log
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return abandon_hijack(request) or error_response(500, f"internal error: {type(exc).__name__}: {exc}")
