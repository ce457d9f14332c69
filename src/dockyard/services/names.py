"""Container names for the embedded DNS server: the DnsBackend over the sandboxes' endpoints, kept in memory.

    sandbox start / connect ──on_endpoint_up──▶ index the endpoint's names and address,
                                                serve 127.0.0.11 in the container's namespace
    stop / disconnect ──────on_endpoint_down──▶ forget them; stop serving after its last user network

The hooks run in worker threads, the DNS server's questions on the event loop:
the index is a few dicts under a lock, so an answer never waits for the store.
Only user-defined networks resolve names (docker's default bridge does not).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.metadata.containers import ContainerRecord
from dockyard.metadata.networks import EndpointRecord, NetworkRecord
from dockyard.network.dns import EmbeddedDns
from dockyard.network.resolvconf import Upstream
from dockyard.services.sandboxes import SandboxService

log = logging.getLogger(__name__)
_SERVE_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Entry:
    container_id: str
    container_name: str
    network_name: str
    names: frozenset[str]  # lower-case
    addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]


class ContainerNames:
    """The DnsBackend of dockyard.network.dns_answer, and what starts and stops the server per container."""

    def __init__(self, sandboxes: SandboxService) -> None:
        self.sandboxes = sandboxes
        self._lock = threading.Lock()
        self._by_network: dict[str, dict[str, _Entry]] = {}  # network id -> endpoint id -> entry
        self._networks_of: dict[str, set[str]] = {}  # container id -> ids of its user networks
        self._upstreams: dict[str, tuple[Upstream, ...]] = {}
        self._links: dict[str, dict[str, str]] = {}  # container id -> legacy link alias -> the linked name
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dns = EmbeddedDns(self)
        sandboxes.on_endpoint_up.append(self.endpoint_up)
        sandboxes.on_endpoint_down.append(self.endpoint_down)

    # -- the index, from the sandboxes' hooks (worker threads) -----------------------------------

    def endpoint_up(self, record: ContainerRecord, network: NetworkRecord, endpoint: EndpointRecord) -> None:
        if not network.spec.get("DNS"):
            return
        upstreams = self.sandboxes.container_dns(record).upstreams
        entry = _Entry(record.id, record.name, network.name,
                       frozenset(n.lower() for n in self.sandboxes.dns_names(record, endpoint)),
                       tuple(ipaddress.ip_address(a) for a in (endpoint.address, endpoint.address6) if a))  # fmt: skip
        with self._lock:
            first = not self._networks_of.get(record.id)
            self._by_network.setdefault(network.id, {})[endpoint.id] = entry
            self._networks_of.setdefault(record.id, set()).add(network.id)
            self._upstreams[record.id] = upstreams
            self._links.setdefault(record.id, {}).update(_links(endpoint))
        if first:
            self._run(self.dns.serve(record.id, self.sandboxes.netns_path(record.id)))

    def endpoint_down(self, record: ContainerRecord, network: NetworkRecord, endpoint: EndpointRecord) -> None:
        with self._lock:
            if self._by_network.get(network.id, {}).pop(endpoint.id, None) is None:
                return
            networks = self._networks_of.get(record.id, set())
            networks.discard(network.id)
            last = not networks
            if last:
                self._networks_of.pop(record.id, None)
                self._upstreams.pop(record.id, None)
                self._links.pop(record.id, None)
        if last:
            self._run(self.dns.stop(record.id))

    def _run(self, coroutine) -> None:
        """Run a server call on the daemon's loop and wait; before the loop runs, start() does it later."""
        if self._loop is None:
            coroutine.close()
            return
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_SERVE_TIMEOUT)

    async def start(self) -> None:
        """On the daemon's loop: serve the containers that were indexed before it ran (live restore)."""
        self._loop = asyncio.get_running_loop()
        with self._lock:
            served = list(self._networks_of)
        for container_id in served:
            try:
                await self.dns.serve(container_id, self.sandboxes.netns_path(container_id))
            except Exception as exc:  # a container gone meanwhile: reconcile already let it go
                log.warning("embedded DNS for container %s: %s", container_id[:12], exc)

    async def close(self) -> None:
        await self.dns.close()

    # -- DnsBackend (the event loop) -----------------------------------------------------------

    def _visible(self, container_id: str) -> list[_Entry]:
        with self._lock:
            return [entry for network_id in self._networks_of.get(container_id, ())
                    for entry in self._by_network.get(network_id, {}).values()]  # fmt: skip

    def addresses(self, container_id: str, name: str) -> Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        with self._lock:
            name = self._links.get(container_id, {}).get(name, name)
        found = [a for e in self._visible(container_id) if name in e.names for a in e.addresses]
        return list(dict.fromkeys(found))

    def hostnames(self, container_id: str, address) -> Sequence[str]:
        visible = self._visible(container_id)
        return [f"{e.container_name}.{e.network_name}" for e in visible if address in e.addresses]

    def upstreams(self, container_id: str) -> Sequence[Upstream]:
        with self._lock:
            return self._upstreams.get(container_id, ())


def _links(endpoint: EndpointRecord) -> dict[str, str]:
    """EndpointSettings.Links ("container:alias"): on a user network docker resolves the alias, for this
    container only, to the linked container."""
    found = {}
    for link in endpoint.config.get("Links") or []:
        target, _, alias = link.partition(":")
        found[(alias or target).lower()] = target.removeprefix("/").lower()
    return found
