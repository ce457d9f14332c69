"""The aiohttp application: every route under / and under /v<version>/, and the middlewares.

version   reads the path's version (or takes the newest), refuses one out of range
errors    DockyardError kinds -> docker's status codes (dockyard.api.errors)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from dockyard import __version__
from dockyard.api import versions
from dockyard.api.errors import error_response, errors
from dockyard.services.archive import ArchiveService
from dockyard.services.containers import ContainerService
from dockyard.services.execs import ExecService
from dockyard.services.images import ImageService
from dockyard.services.networks import NetworkService
from dockyard.services.sandboxes import SandboxService
from dockyard.services.stats import StatsService
from dockyard.services.volumes import VolumeService

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICES = web.AppKey("services", object)


@dataclass
class Services:
    """What the routes call; the daemon (the composition root) builds it."""

    images: ImageService
    containers: ContainerService
    volumes: VolumeService
    networks: NetworkService
    sandboxes: SandboxService
    execs: ExecService
    archives: ArchiveService
    stats: StatsService
    info: Callable[[], dict]  # the host facts /info and /version report
    experimental: bool = False  # the daemon's --experimental, in every response's Docker-Experimental


class Routes:
    """Registers a handler at path and at /v{version}/path."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def add(self, method: str, path: str, handler: Handler) -> None:
        for prefix in ("", r"/{version:v[0-9]+\.[0-9]+}"):
            self.app.router.add_route(method, prefix + path, handler)


@web.middleware
async def version(request: web.Request, handler: Handler) -> web.StreamResponse:
    asked = request.match_info.get("version", "").removeprefix("v") or versions.MAX_VERSION
    if versions.before(versions.MAX_VERSION, asked):
        return error_response(
            400, f"client version {asked} is too new. Maximum supported API version is {versions.MAX_VERSION}"
        )
    if versions.before(asked, versions.MIN_VERSION):
        return error_response(
            400,
            f"client version {asked} is too old. Minimum supported API version is {versions.MIN_VERSION}, "
            "please upgrade your client to a newer version",
        )
    request["api_version"] = asked
    return await handler(request)


async def _server_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers dockerd adds to every response."""
    response.headers["Api-Version"] = versions.MAX_VERSION
    response.headers["Docker-Experimental"] = "true" if request.app[SERVICES].experimental else "false"
    response.headers["Ostype"] = "linux"
    response.headers["Server"] = f"Dockyard/{__version__} (linux)"
    if "path_stat" in request:  # docker cp reads what it is copying from this header
        response.headers["X-Docker-Container-Path-Stat"] = request["path_stat"]


def make_app(services: Services) -> web.Application:
    from dockyard.api import attach, containers, events, execs, images, networks, swarm, system, volumes

    app = web.Application(middlewares=[version, errors], client_max_size=1 << 40)
    app.on_response_prepare.append(_server_headers)
    app[SERVICES] = services
    routes = Routes(app)
    system.register(routes)
    images.register(routes)
    containers.register(routes)
    attach.register(routes)
    volumes.register(routes)
    networks.register(routes)
    execs.register(routes)
    events.register(routes)
    swarm.register(routes)
    return app


def services_of(request: web.Request) -> Services:
    return request.app[SERVICES]
