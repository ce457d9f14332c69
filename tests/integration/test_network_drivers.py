"""The network driver contract (dockyard.core.network), run against every driver on real namespaces.

Each case builds its own network (a bridge dy-tc<hex>, or a veth end dy-tp<hex> as
the parent of macvlan and ipvlan: this kernel has no dummy interfaces), attaches
two scratch namespaces under the test's directory, makes TCP connections between
them over IPv4 and IPv6 (sockets opened inside the namespaces), and removes it all.
"""

from __future__ import annotations

import os
import secrets
import socket

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.core.network import Attachment, NetworkDriver, NetworkLinks
from dockyard.errors import NotFound
from dockyard.kernel import netns
from dockyard.network import interfaces
from dockyard.network.bridge import BridgeDriver, host_end
from dockyard.network.macvlan import SubInterfaceDriver

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

OWNER = f"dockyard:test-network-drivers-{os.getpid()}"  # this session's: others may run beside it


def kernel_has(kind: str) -> bool:
    with IPRoute() as ipr:
        try:
            ipr.link("add", ifname="dy-probe", kind=kind, link=ipr.link_lookup(ifname="lo")[0])
        except NetlinkError as exc:
            return exc.code != 95  # EOPNOTSUPP: no such link type in this kernel
        ipr.link("del", ifname="dy-probe")
        return True


@pytest.fixture(params=["bridge", "macvlan", "ipvlan"])
def network(request, tmp_path):
    """(driver, links, third octet) for a network of the kind asked, removed afterwards."""
    kind = request.param
    tag, third = secrets.token_hex(3), {"bridge": 1, "macvlan": 2, "ipvlan": 3}[kind]
    parent = f"dy-tp{tag}"
    if kind == "bridge":
        driver: NetworkDriver = BridgeDriver()
        device = f"dy-tc{tag}"
    else:
        with IPRoute() as ipr:  # a veth pair, both ends up, stands for the host's parent interface
            ipr.link("add", ifname=parent, kind="veth", peer={"ifname": f"dy-tq{tag}"})
            for name in (parent, f"dy-tq{tag}"):
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
        if kind == "ipvlan" and not kernel_has("ipvlan"):
            interfaces.delete_link(parent)
            pytest.skip("this kernel has no ipvlan interfaces (CONFIG_IPVLAN)")
        driver, device = SubInterfaceDriver(kind), parent
    links = NetworkLinks(id=secrets.token_hex(32), driver=kind, device=device, gateway=f"10.249.{third}.1/24",
                         gateway6=f"fd42:d0c:{third}::1/64", mtu=1500,
                         mode={"bridge": "", "macvlan": "bridge", "ipvlan": "l2"}[kind], owner=OWNER)  # fmt: skip
    try:
        driver.create(links)
        yield driver, links, third
    finally:
        driver.delete(links)
        interfaces.delete_link(parent)


@pytest.fixture
def namespaces(tmp_path):
    paths = []

    def make() -> str:
        path = str(tmp_path / f"dy-ns{len(paths)}")
        netns.create(path)
        paths.append(path)
        return path

    yield make
    for path in paths:
        netns.remove(path)


def attachment(third: int, host: int) -> Attachment:
    return Attachment(endpoint_id=secrets.token_hex(32), ifname="eth0", address=f"10.249.{third}.{host}/24",
                      gateway=f"10.249.{third}.1", mac=f"02:42:0a:f9:{third:02x}:{host:02x}", mtu=1500,
                      default_route=True, address6=f"fd42:d0c:{third}::{host}/64",
                      gateway6=f"fd42:d0c:{third}::1")  # fmt: skip


def host_links_of(endpoint: Attachment) -> set[str]:
    """Links on the host that an endpoint's attach made: its veth's host end by name (tagged or not
    yet), or any link with this session's owner tag but the network's own device. Other sessions' links,
    which come and go meanwhile, are not looked at."""

    def kind(link: dict) -> str:
        info = link.get("IFLA_LINKINFO")
        return info.get("IFLA_INFO_KIND") if info else ""

    with IPRoute() as ipr:
        return {
            link.get("IFLA_IFNAME")
            for link in ipr.get_links()
            if link.get("IFLA_IFNAME") == host_end(endpoint.endpoint_id)
            or (link.get("IFLA_IFALIAS") == OWNER and kind(link) not in ("bridge", "dummy"))
        }


def links_in(path: str) -> dict[str, dict]:
    def read() -> dict[str, dict]:
        with IPRoute() as ipr:
            return {link.get("IFLA_IFNAME"): link for link in ipr.get_links()}

    return netns.run_in_netns(path, read)


def connects(server_ns: str, client_ns: str, address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server = netns.run_in_netns(server_ns, lambda: socket.socket(family, socket.SOCK_STREAM))
    client = netns.run_in_netns(client_ns, lambda: socket.socket(family, socket.SOCK_STREAM))
    with server, client:
        server.bind((address, 7300))
        server.listen()
        client.settimeout(5)
        try:
            client.connect((address, 7300))
        except OSError:
            return False
        server.accept()[0].close()
        return True


def test_attached_endpoints_are_configured_and_reach_each_other(network, namespaces):
    driver, links, third = network
    one, two = namespaces(), namespaces()
    first, second = attachment(third, 2), attachment(third, 3)
    driver.attach(links, one, first)
    driver.attach(links, two, second)
    inside = links_in(one)
    assert set(inside) == {"lo", "eth0"}
    assert inside["eth0"].get("IFLA_OPERSTATE") in ("UP", "UNKNOWN")
    if links.driver != "ipvlan":  # ipvlan shares its parent's MAC
        assert inside["eth0"].get("IFLA_ADDRESS") == first.mac
    assert connects(one, two, f"10.249.{third}.2")
    assert connects(two, one, f"fd42:d0c:{third}::3")


def test_detach_removes_the_interface_and_is_idempotent(network, namespaces):
    driver, links, third = network
    path = namespaces()
    endpoint = attachment(third, 4)
    driver.attach(links, path, endpoint)
    driver.detach(links, path, endpoint.endpoint_id)
    driver.detach(links, path, endpoint.endpoint_id)
    assert set(links_in(path)) == {"lo"}
    assert host_links_of(endpoint) == set()
    netns.remove(path)
    driver.detach(links, path, endpoint.endpoint_id)  # the namespace is gone: nothing to do


def test_a_failed_attach_leaves_nothing(network, namespaces, tmp_path):
    driver, links, third = network
    endpoint = attachment(third, 5)
    with pytest.raises((OSError, NotFound)):
        driver.attach(links, str(tmp_path / "dy-missing-ns"), endpoint)
    assert host_links_of(endpoint) == set()


def test_create_is_idempotent_and_delete_removes_what_it_made(network):
    driver, links, _ = network
    driver.create(links)
    with IPRoute() as ipr:
        present = bool(ipr.link_lookup(ifname=links.device))
    assert present
    if links.driver == "bridge":
        driver.delete(links)
        with IPRoute() as ipr:
            assert not ipr.link_lookup(ifname=links.device)
        driver.delete(links)


def test_a_missing_parent_is_refused():
    links = NetworkLinks(id=secrets.token_hex(32), driver="macvlan", device="dy-noparent", gateway="10.249.9.1/24",
                         gateway6="", mtu=1500, mode="bridge", owner=OWNER)  # fmt: skip
    with pytest.raises(NotFound, match="parent interface was not found"):
        SubInterfaceDriver("macvlan").create(links)
