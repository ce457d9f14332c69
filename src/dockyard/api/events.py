"""GET /events: docker events, replayed from `since` and then live until `until` or the client leaves."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from dockyard.api.app import Routes, services_of
from dockyard.api.params import filters
from dockyard.api.responses import JSON
from dockyard.errors import InvalidParameter
from dockyard.services.filters import check as check_filters
from dockyard.services.filters import label_matches

_FILTERS = frozenset({"type", "event", "container", "image", "label", "volume"})


def _moment(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r} (seconds since the epoch)") from None


def _matches(event: dict, wanted: dict[str, list[str]]) -> bool:
    actor = event["Actor"]
    attributes = actor["Attributes"]
    names = (actor["ID"], attributes.get("name"))
    images = (attributes.get("image"), attributes.get("name"), actor["ID"])
    for key, values in wanted.items():
        if key == "type" and event["Type"] not in values:
            return False
        # "exec_start: sh -c ..." is matched by event=exec_start, as dockerd matches the action's first word.
        if key == "event" and event["Action"] not in values and event["Action"].partition(":")[0] not in values:
            return False
        is_container = event["Type"] == "container"
        if key == "container" and not (is_container and any(v in names or actor["ID"].startswith(v) for v in values)):
            return False
        if key == "image" and not any(v in images for v in values):
            return False
        if key == "volume" and not (event["Type"] == "volume" and actor["ID"] in values):
            return False
        if key == "label" and not all(label_matches(attributes, value) for value in values):
            return False
    return True


def _in_window(event: dict, since: float | None, until: float | None) -> bool:
    return (since is None or event["timeNano"] >= since * 1e9) and (until is None or event["timeNano"] <= until * 1e9)


async def events(request: web.Request) -> web.StreamResponse:
    wanted = filters(request)
    check_filters(wanted, _FILTERS)
    since, until = _moment(request, "since"), _moment(request, "until")
    bus = services_of(request).containers.events
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict] = asyncio.Queue()

    def listener(event: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    past = bus.subscribe(listener)
    response = web.StreamResponse(headers={"Content-Type": JSON})
    try:
        await response.prepare(request)
        if since is not None:
            for event in past:
                if _in_window(event, since, until) and _matches(event, wanted):
                    await response.write(json.dumps(event).encode() + b"\n")
        while until is None or time.time() < until:
            timeout = None if until is None else max(0.0, until - time.time())
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break
            if _matches(event, wanted):
                await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
    except ConnectionError:
        pass
    finally:
        bus.unsubscribe(listener)
    return response


def register(routes: Routes) -> None:
    routes.add("GET", "/events", events)
