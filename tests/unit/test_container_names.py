"""The embedded DNS backend's index: who sees which names, aliases, links and upstreams (no sockets)."""

from __future__ import annotations

import ipaddress

from dockyard.metadata.containers import ContainerRecord
from dockyard.metadata.networks import EndpointRecord, NetworkRecord
from dockyard.network.resolvconf import ContainerDns, Upstream
from dockyard.services.names import ContainerNames
from dockyard.services.sandboxes import SandboxService


class FakeSandboxes:
    """What ContainerNames uses of the sandbox service."""

    dns_names = staticmethod(SandboxService.dns_names)

    def __init__(self) -> None:
        self.on_endpoint_up: list = []
        self.on_endpoint_down: list = []

    def container_dns(self, record: ContainerRecord) -> ContainerDns:
        return ContainerDns("", (Upstream("10.0.0.2"),))

    def netns_path(self, container_id: str) -> str:
        return f"/nonexistent/{container_id}"


def container(name: str) -> ContainerRecord:
    return ContainerRecord(name * 8, name, "img", "img", "", {}, {}, {"Running": True})


def network(name: str, dns: bool = True) -> NetworkRecord:
    return NetworkRecord(name * 8, name, "", {"DNS": dns, "Driver": "bridge"})


def endpoint(record: ContainerRecord, net: NetworkRecord, address: str, **config) -> EndpointRecord:
    return EndpointRecord(f"{record.id}-{net.id}", net.id, record.id, config, address)


def addresses(names: ContainerNames, record: ContainerRecord, name: str) -> list[str]:
    return [str(a) for a in names.addresses(record.id, name)]


def test_names_aliases_and_short_ids_resolve_only_on_shared_networks():
    names = ContainerNames(FakeSandboxes())  # no loop yet: serving waits for start()
    front, back = network("front"), network("back")
    web, db, lone = container("web"), container("db"), container("lone")
    names.endpoint_up(web, front, endpoint(web, front, "10.1.0.2"))
    names.endpoint_up(web, back, endpoint(web, back, "10.2.0.2"))
    names.endpoint_up(db, back, endpoint(db, back, "10.2.0.3", Aliases=["database"]))
    names.endpoint_up(lone, front, endpoint(lone, front, "10.1.0.9"))
    assert addresses(names, web, "database") == ["10.2.0.3"]
    assert addresses(names, web, db.id[:12]) == ["10.2.0.3"]
    assert addresses(names, lone, "db") == []  # not on a network lone is on
    assert sorted(addresses(names, db, "web")) == ["10.2.0.2"]
    assert names.hostnames(web.id, ipaddress.ip_address("10.2.0.3")) == ["db.back"]
    assert names.upstreams(web.id) == (Upstream("10.0.0.2"),)


def test_a_default_bridge_endpoint_resolves_nothing():
    names = ContainerNames(FakeSandboxes())
    bridge = network("bridge", dns=False)
    a, b = container("a"), container("b")
    names.endpoint_up(a, bridge, endpoint(a, bridge, "172.17.0.2"))
    names.endpoint_up(b, bridge, endpoint(b, bridge, "172.17.0.3"))
    assert addresses(names, a, "b") == []


def test_legacy_links_resolve_for_the_linking_container_only():
    names = ContainerNames(FakeSandboxes())
    net = network("net")
    upstream, linking, other = container("upstream"), container("linking"), container("other")
    names.endpoint_up(upstream, net, endpoint(upstream, net, "10.3.0.2"))
    names.endpoint_up(linking, net, endpoint(linking, net, "10.3.0.3", Links=["upstream:bar"]))
    names.endpoint_up(other, net, endpoint(other, net, "10.3.0.4"))
    assert addresses(names, linking, "bar") == ["10.3.0.2"]
    assert addresses(names, other, "bar") == []


def test_an_endpoint_going_down_takes_its_names_and_the_last_one_the_upstreams():
    names = ContainerNames(FakeSandboxes())
    net = network("net")
    a, b = container("a"), container("b")
    a_endpoint = endpoint(a, net, "10.4.0.2", Aliases=["svc"])
    names.endpoint_up(a, net, a_endpoint)
    names.endpoint_up(b, net, endpoint(b, net, "10.4.0.3", Aliases=["svc"]))
    assert sorted(addresses(names, b, "svc")) == ["10.4.0.2", "10.4.0.3"]  # round robin over both
    names.endpoint_down(a, net, a_endpoint)
    assert addresses(names, b, "svc") == ["10.4.0.3"]
    assert names.upstreams(a.id) == ()
    names.endpoint_down(a, net, a_endpoint)  # twice is nothing
