"""/volumes...: create, list, inspect, remove, prune (and update, which needs a swarm)."""

from __future__ import annotations

from aiohttp import web

from dockyard.api import versions
from dockyard.api.app import Routes, services_of
from dockyard.api.params import boolean, filters, json_object
from dockyard.api.responses import json_response
from dockyard.api.threads import blocking
from dockyard.errors import InvalidParameter, Unavailable
from dockyard.services.volumes import VolumeService


def _volumes(request: web.Request) -> VolumeService:
    return services_of(request).volumes


def _strings(body: dict, key: str) -> dict:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"invalid {key}: expected an object of strings")
    return value


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    volumes = _volumes(request)
    record = await blocking(
        volumes.create,
        str(body.get("Name") or ""),
        str(body.get("Driver") or "local"),
        _strings(body, "DriverOpts"),
        _strings(body, "Labels"),
    )
    return json_response(volumes.inspect(record), status=201)


async def list_volumes(request: web.Request) -> web.Response:
    found = await blocking(_volumes(request).list, filters(request))
    return json_response({"Volumes": found, "Warnings": []})


async def inspect(request: web.Request) -> web.Response:
    volumes = _volumes(request)
    record = await blocking(volumes.get, request.match_info["name"])
    return json_response(volumes.inspect(record))


async def update(request: web.Request) -> web.Response:
    """PUT /volumes/{name}: only swarm's cluster volumes can be updated, and there is no swarm here."""
    await blocking(_volumes(request).get, request.match_info["name"])
    raise Unavailable("volume update only valid for cluster volumes, but swarm is unavailable")


async def remove(request: web.Request) -> web.Response:
    await blocking(_volumes(request).remove, request.match_info["name"], force=boolean(request, "force"))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    # API 1.42 made prune take only anonymous volumes unless all=true; older clients prune them all.
    anonymous_only = not versions.before(request["api_version"], "1.42")
    return json_response(await blocking(_volumes(request).prune, filters(request), anonymous_only=anonymous_only))


def register(routes: Routes) -> None:
    routes.add("POST", "/volumes/create", create)
    routes.add("POST", "/volumes/prune", prune)
    routes.add("GET", "/volumes", list_volumes)
    routes.add("GET", "/volumes/{name}", inspect)
    routes.add("PUT", "/volumes/{name}", update)
    routes.add("DELETE", "/volumes/{name}", remove)
