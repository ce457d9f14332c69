"""/swarm, /services, /nodes, /tasks, /secrets, /configs: what dockerd answers on a node in no swarm.

Dockyard has no swarm mode. dockerd outside a swarm answers these with 503 and a message that clients
understand: docker-py's leave_swarm(force=True) takes the 503 as "nothing to leave" (its network tests
call it in every tearDown), and the docker CLI prints the message.
"""

from __future__ import annotations

from aiohttp import web

from dockyard.api.app import Routes
from dockyard.errors import Unavailable

NOT_IN_A_SWARM = "This node is not part of a swarm"
NOT_A_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to '
    "swarm and try again."
)
# The read endpoints of a manager's objects, each a list and an inspect by id.
MANAGER_OBJECTS = ("services", "nodes", "tasks", "secrets", "configs")


async def leave(request: web.Request) -> web.Response:
    raise Unavailable(NOT_IN_A_SWARM)


async def not_a_manager(request: web.Request) -> web.Response:
    raise Unavailable(NOT_A_MANAGER)


def register(routes: Routes) -> None:
    routes.add("POST", "/swarm/leave", leave)
    routes.add("GET", "/swarm", not_a_manager)
    routes.add("GET", "/swarm/unlockkey", not_a_manager)
    for objects in MANAGER_OBJECTS:
        routes.add("GET", f"/{objects}", not_a_manager)
        routes.add("GET", f"/{objects}/{{id}}", not_a_manager)
