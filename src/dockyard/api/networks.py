"""/networks/...: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from aiohttp import web

from dockyard import timestamps
from dockyard.api.app import Routes, services_of
from dockyard.api.params import filters, json_object
from dockyard.api.responses import json_response
from dockyard.api.threads import blocking as _blocking
from dockyard.errors import InvalidParameter
from dockyard.metadata.networks import NetworkRecord
from dockyard.services.filters import check as check_filters
from dockyard.services.filters import label_matches
from dockyard.services.networks import PREDEFINED

_LIST_FILTERS = frozenset({"driver", "id", "label", "name", "scope", "type", "dangling"})
_PRUNE_FILTERS = frozenset({"label", "label!", "until"})


def _inspect(request: web.Request, record: NetworkRecord, *, containers: bool = True) -> dict:
    spec = record.spec
    document = {
        "Name": record.name,
        "Id": record.id,
        "Created": record.created,
        "Scope": spec["Scope"],
        "Driver": spec["Driver"],
        "EnableIPv4": spec["Driver"] == "bridge",
        "EnableIPv6": spec["EnableIPv6"],
        "IPAM": spec["IPAM"],
        "Internal": spec["Internal"],
        "Attachable": spec["Attachable"],
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": spec.get("Options") or {},
        "Labels": spec.get("Labels") or {},
    }
    if containers:
        document["Containers"] = services_of(request).sandboxes.network_containers(record)
    return document


def _matches(request: web.Request, record: NetworkRecord, wanted: dict[str, list[str]]) -> bool:
    for key, values in wanted.items():
        if key == "driver" and record.spec["Driver"] not in values:
            return False
        if key == "id" and not any(record.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v in record.name for v in values):
            return False
        if key == "scope" and record.spec["Scope"] not in values:
            return False
        if key == "label" and not all(label_matches(record.spec.get("Labels") or {}, v) for v in values):
            return False
        if key == "type":
            kind = "builtin" if record.name in PREDEFINED else "custom"
            if any(v not in ("builtin", "custom") for v in values):
                raise InvalidParameter(f"invalid filter: 'type'='{values[0]}'")
            if kind not in values:
                return False
        if key == "dangling":
            dangling = not services_of(request).networks.endpoints.of_network(record.id)
            if any(v not in ("true", "false", "1", "0") for v in values):
                raise InvalidParameter(f"invalid filter 'dangling={values[0]}'")
            if dangling != (values[0] in ("true", "1")) or record.name in PREDEFINED:
                return False
    return True


async def list_networks(request: web.Request) -> web.Response:
    wanted = filters(request)
    check_filters(wanted, _LIST_FILTERS)
    records = await _blocking(services_of(request).networks.list)

    def documents() -> list[dict]:
        # Containers are listed only by inspect since API 1.28; docker's list shows an empty map.
        return [_inspect(request, r, containers=False) for r in records if _matches(request, r, wanted)]

    return json_response(await _blocking(documents))


async def inspect(request: web.Request) -> web.Response:
    networks = services_of(request).networks
    record = await _blocking(networks.get, request.match_info["id"])
    return json_response(await _blocking(_inspect, request, record))


async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    record, warning = await _blocking(services_of(request).networks.create, body)
    return json_response({"Id": record.id, "Warning": warning}, status=201)


async def remove(request: web.Request) -> web.Response:
    await _blocking(services_of(request).networks.remove, request.match_info["id"])
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    wanted = filters(request)
    check_filters(wanted, _PRUNE_FILTERS)
    until = timestamps.seconds(wanted["until"][0]) if "until" in wanted else 0.0

    def matches(record: NetworkRecord) -> bool:
        labels = record.spec.get("Labels") or {}
        if until and timestamps.seconds(record.created) >= until:
            return False
        if not all(label_matches(labels, v) for v in wanted.get("label", [])):
            return False
        return not any(label_matches(labels, v) for v in wanted.get("label!", []))

    deleted = await _blocking(services_of(request).networks.prune, matches)
    return json_response({"NetworksDeleted": deleted})


async def connect(request: web.Request) -> web.Response:
    body = await json_object(request)
    container = body.get("Container") or ""
    if not container:
        raise InvalidParameter("container is required")
    sandboxes = services_of(request).sandboxes
    await _blocking(sandboxes.connect, request.match_info["id"], container, body.get("EndpointConfig") or {})
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = await json_object(request)
    container = body.get("Container") or ""
    if not container:
        raise InvalidParameter("container is required")
    sandboxes = services_of(request).sandboxes
    await _blocking(sandboxes.disconnect, request.match_info["id"], container, force=bool(body.get("Force")))
    return web.Response(status=200)


def register(routes: Routes) -> None:
    routes.add("GET", "/networks", list_networks)
    routes.add("POST", "/networks/create", create)
    routes.add("POST", "/networks/prune", prune)
    routes.add("GET", "/networks/{id}", inspect)
    routes.add("DELETE", "/networks/{id}", remove)
    routes.add("POST", "/networks/{id}/connect", connect)
    routes.add("POST", "/networks/{id}/disconnect", disconnect)
