"""The network driver contract: the kernel objects of a network and of its endpoints.

A driver knows links, not records: the network service and the sandbox service
decide addresses, names and which namespace; the driver makes it so.

    driver.create(links)                       at network create and at every daemon start
    driver.attach(links, netns_path, a)        an endpoint comes up in a container's namespace
    driver.detach(links, netns_path, id)       it goes (the container stopped, or disconnect)
    driver.delete(links)                       at network remove

Contract (tests/integration/test_network_drivers.py runs it against every driver):
- create() is idempotent and leaves the network usable by attach(); what it makes
  carries `dy-` in its name (or is the user's, like a macvlan parent, and is left alone).
- attach() leaves exactly one new interface in the namespace at netns_path, named
  attachment.ifname, up, holding attachment.address (and address6), with the
  default routes when attachment.default_route; lo is up. On failure it leaves nothing.
- Two endpoints attached to one network reach each other (IPv4, and IPv6 when given).
- detach() removes the endpoint's interface and anything it made on the host; it is
  idempotent and works whether the namespace still exists or not.
- delete() removes what create() made; absent is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class NetworkLinks:
    """What a driver needs of a network."""

    id: str
    driver: str  # "bridge", "macvlan", "ipvlan"
    device: str  # the bridge (bridge), or the parent interface (macvlan, ipvlan)
    gateway: str  # IPv4 gateway with its prefix; a bridge holds it, other drivers route to it
    gateway6: str  # the same for IPv6, "" without
    mtu: int
    mode: str  # macvlan_mode / ipvlan_mode; "" for a bridge
    owner: str  # the tag (link alias) on what the driver makes, for reconciling


@dataclass(frozen=True)
class Attachment:
    """What one endpoint looks like inside the container."""

    endpoint_id: str
    ifname: str  # eth0, eth1... in the container
    address: str  # with its prefix: 172.18.0.2/16
    gateway: str  # "" for none
    mac: str
    mtu: int
    default_route: bool  # whether this endpoint carries the container's default route
    address6: str = ""  # with its prefix, on a network with IPv6
    gateway6: str = ""


class NetworkDriver(Protocol):
    def create(self, links: NetworkLinks) -> None: ...

    def delete(self, links: NetworkLinks) -> None: ...

    def attach(self, links: NetworkLinks, netns_path: str, attachment: Attachment) -> None: ...

    def detach(self, links: NetworkLinks, netns_path: str, endpoint_id: str) -> None: ...
