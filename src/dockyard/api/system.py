"""/_ping, /version and /info."""

from __future__ import annotations

import asyncio

from aiohttp import web

from dockyard.api import versions
from dockyard.api.app import Routes, services_of
from dockyard.api.responses import json_response
from dockyard.errors import InvalidParameter

# Headers dockerd sends with every /_ping, which clients use to negotiate (and Docker-Experimental, which
# every response carries: dockyard.api.app).
_PING_HEADERS = {
    "API-Version": versions.MAX_VERSION,
    "Builder-Version": "1",  # the classic builder's protocol; BuildKit's would be "2"
    "OSType": "linux",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: web.Request) -> web.Response:
    body = None if request.method == "HEAD" else "OK"
    return web.Response(text=body, headers=_PING_HEADERS, content_type="text/plain")


async def version(request: web.Request) -> web.Response:
    services = services_of(request)
    facts = services.info()
    details = {
        "ApiVersion": versions.MAX_VERSION,
        "MinAPIVersion": versions.MIN_VERSION,
        "GitCommit": facts["GitCommit"],
        "GoVersion": facts["PythonVersion"],  # the field clients read for the toolchain
        "Os": "linux",
        "Arch": facts["Architecture"],
        "KernelVersion": facts["KernelVersion"],
        "BuildTime": facts["BuildTime"],
    }
    return json_response(
        {
            "Platform": {"Name": "Dockyard Engine"},
            "Components": [
                {
                    "Name": "Engine",
                    "Version": facts["ServerVersion"],
                    "Details": {k: str(v) for k, v in details.items()}
                    | {"Experimental": str(services.experimental).lower()},
                }
            ],
            "Version": facts["ServerVersion"],
            **details,
            "Experimental": services.experimental,
        }
    )


async def info(request: web.Request) -> web.Response:
    services = services_of(request)
    facts = services.info()
    return json_response({**facts["Info"], **await asyncio.get_running_loop().run_in_executor(None, _counts, services)})


def _counts(services) -> dict:
    """How many containers (by state) and images there are: records only, no blob is read."""
    states = [record.state for record in services.containers.list()]
    return {
        "Containers": len(states),
        "ContainersRunning": sum(1 for s in states if s["Running"] and not s["Paused"]),
        "ContainersPaused": sum(1 for s in states if s["Paused"]),
        "ContainersStopped": sum(1 for s in states if not s["Running"]),
        "Images": services.images.count(),
    }


async def disk_usage(request: web.Request) -> web.Response:
    """GET /system/df: images, containers and volumes with their sizes (no build cache yet)."""
    services = services_of(request)
    loop = asyncio.get_running_loop()
    wanted = set(request.query.getall("type", [])) or {"image", "container", "volume", "build-cache"}
    unknown = wanted - {"image", "container", "volume", "build-cache"}
    if unknown:
        raise InvalidParameter(f"unknown type: {sorted(unknown)[0]}")
    result: dict = {}
    if "image" in wanted:
        images = await loop.run_in_executor(None, services.images.list, None)
        result["Images"] = images
        result["LayersSize"] = await loop.run_in_executor(None, services.images.layers_size)
    if "container" in wanted:
        from dockyard.api.containers import container_summaries_with_sizes

        result["Containers"] = await loop.run_in_executor(None, container_summaries_with_sizes, request)
    if "volume" in wanted:
        result["Volumes"] = await loop.run_in_executor(None, services.volumes.disk_usage)
    if "build-cache" in wanted:
        result["BuildCache"] = []
    return json_response(result)


def register(routes: Routes) -> None:
    routes.add("GET", "/system/df", disk_usage)
    routes.add("GET", "/_ping", ping)
    routes.add("HEAD", "/_ping", ping)
    routes.add("GET", "/version", version)
    routes.add("GET", "/info", info)
