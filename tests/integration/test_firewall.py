"""The nftables firewall with real traffic between network namespaces of this machine.

The topology, built once for the module (all names carry dy-pt, everything is removed even on failure):

    bridge A (network "a")    c1 (serves tcp/udp 80 as "c1"), c2
    bridge B (network "b")    c4
    bridge I (internal "i")   c3
    bridge O (no network)     out (serves tcp 80 as "out"): stands for the world beyond the host

Each test gets a Firewall with a table of its own, torn down afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket

import pytest

from dockyard.errors import Conflict
from dockyard.network.nftables import Firewall, NetworkRules
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortMapping, PortRequest, Proto
from support.nettopo import Topology, ask, host_address, sh

pytestmark = pytest.mark.integration


def nft_ruleset_except(prefixes: tuple[str, ...]) -> str:
    """The ruleset without the tables named like ours (other helpers' Dockyards may come and go meanwhile)."""
    kept = []
    for item in json.loads(sh("nft", "-j", "list", "ruleset"))["nftables"]:
        [(kind, body)] = item.items()
        table = body["name"] if kind == "table" else body.get("table", "")
        if kind != "metainfo" and not table.startswith(prefixes):
            kept.append(item)
    return json.dumps(kept, sort_keys=True)


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    host = host_address()
    if host is None:
        pytest.skip("the host has no default route, so no address other hosts would use")
    with contextlib.ExitStack() as stack:
        topo = Topology(stack)
        topo.host = host
        topo.a, topo.a_net = topo.bridge("a", 1)
        topo.b, topo.b_net = topo.bridge("b", 2)
        topo.i, topo.i_net = topo.bridge("i", 3)
        topo.o, topo.o_net = topo.bridge("o", 4)
        topo.c1 = topo.namespace("c1", topo.a, topo.a_net[2])
        topo.c2 = topo.namespace("c2", topo.a, topo.a_net[3])
        topo.c4 = topo.namespace("c4", topo.b, topo.b_net[2])
        topo.c3 = topo.namespace("c3", topo.i, topo.i_net[2])
        # "out" has no route back to the containers: only masquerading lets it answer them.
        topo.out = topo.namespace("out", topo.o, topo.o_net[2], gateway=False)
        topo.serve(topo.c1, "serve", "tcp", "80", "c1")
        topo.serve(topo.c1, "serve", "udp", "80", "c1")
        topo.serve(topo.c4, "serve", "tcp", "80", "c4")
        topo.serve(topo.out, "serve", "tcp", "80", "out")
        yield topo


IPV6_FORWARDING = "/proc/sys/net/ipv6/conf/all/forwarding"


@pytest.fixture
def firewall(net):
    with _firewall(net) as fw:
        yield fw


@pytest.fixture
def firewall_without_proxy(net):
    """As dockyard daemon --userland-proxy=false runs it."""
    with _firewall(net, userland_proxy=False) as fw:
        yield fw


@contextlib.contextmanager
def _firewall(net, **options):
    before = nft_ruleset_except(("dockyard", "dy-"))
    with open(IPV6_FORWARDING) as f:
        forwarding = f.read()
    fw = Firewall(PortAllocator(), table=f"dockyard-test-{os.getpid()}", **options)
    try:
        fw.setup()
        fw.add_network(NetworkRules("a", net.a, net.a_net, subnet6=net.subnet6(1)))
        fw.add_network(NetworkRules("b", net.b, net.b_net, subnet6=net.subnet6(2)))
        fw.add_network(NetworkRules("i", net.i, net.i_net, internal=True, subnet6=net.subnet6(3)))
        yield fw
    finally:
        for owner in ("c1", "c4"):
            fw.unpublish(owner)
        fw.teardown()
        fw.close()
        # Dockyard, like dockerd, leaves IPv6 forwarding on; the test puts the machine back as it found it.
        with open(IPV6_FORWARDING, "w") as f:
            f.write(forwarding)
    assert fw.table not in sh("nft", "list", "tables")
    assert nft_ruleset_except(("dockyard", "dy-")) == before


def c1_ip(net) -> str:
    return str(net.a_net[2])


def test_published_tcp_port_answers_on_host_address_loopback_and_hairpin(net, firewall):
    mappings = firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP)])
    port = mappings[0].host_port
    low, high = firewall.allocator.range
    assert mappings == [PortMapping(80, Proto.TCP, "0.0.0.0", port), PortMapping(80, Proto.TCP, "::", port)]
    assert low <= port <= high
    gateway = str(net.a_net[1])
    # From the host itself: its own address arrives with that source, 127.0.0.1 masqueraded to the gateway.
    assert ask("tcp", net.host, port) == f"c1 {net.host}"
    assert ask("tcp", "127.0.0.1", port) == f"c1 {gateway}"
    # Hairpin: another container of the network, and the container itself, through the host's address.
    assert ask("tcp", net.host, port, ns=net.c2) == f"c1 {gateway}"
    assert ask("tcp", net.host, port, ns=net.c1) == f"c1 {gateway}"
    # A container of another network reaches published ports too (the host's address is public to it).
    assert ask("tcp", net.host, port, ns=net.c4) == f"c1 {gateway}"
    # IPv6 towards an IPv4-only container: the userland proxy connects from the host's side of the bridge.
    assert ask("tcp", "::1", port) == f"c1 {gateway}"
    host6 = host_address("-6")
    if host6:
        assert ask("tcp", host6, port) == f"c1 {gateway}"


def test_published_udp_port_answers(net, firewall):
    mapping, mapping6 = firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.UDP, "", 40123, 40123)])
    assert (mapping, mapping6) == (
        PortMapping(80, Proto.UDP, "0.0.0.0", 40123),
        PortMapping(80, Proto.UDP, "::", 40123),
    )
    assert ask("udp", net.host, 40123) == f"c1 {net.host}"
    assert ask("udp", net.host, 40123, ns=net.c2) == f"c1 {net.a_net[1]}"
    assert ask("udp", "::1", 40123) == f"c1 {net.a_net[1]}"
    assert ask("udp", "::1", 40123) == f"c1 {net.a_net[1]}"  # the same flow, relayed again


def test_host_ip_binding_serves_only_that_address(net, firewall):
    requests = [
        PortRequest(80, Proto.TCP, "127.0.0.1", 40124, 40124),
        PortRequest(80, Proto.TCP, net.host, 40132, 40132),
    ]
    firewall.publish("c1", c1_ip(net), requests)
    assert ask("tcp", "127.0.0.1", 40124) == f"c1 {net.a_net[1]}"
    assert ask("tcp", net.host, 40124) is None
    assert ask("tcp", net.host, 40132) == f"c1 {net.host}"
    assert ask("tcp", net.host, 40132, ns=net.c2) == f"c1 {net.a_net[1]}"
    assert ask("tcp", "127.0.0.1", 40132) is None


def test_unpublish_closes_the_port_and_frees_it(net, firewall):
    firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40125, 40125)])
    assert firewall.unpublish("c1") == [
        PortMapping(80, Proto.TCP, "0.0.0.0", 40125),
        PortMapping(80, Proto.TCP, "::", 40125),
    ]
    assert ask("tcp", net.host, 40125) is None
    assert ask("tcp", "::1", 40125) is None
    assert firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40125, 40125)])


def test_same_host_port_twice_is_refused_and_leaves_nothing(net, firewall):
    firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40126, 40126)])
    elements_before = sh("nft", "list", "map", "ip", firewall.table, "published")
    with pytest.raises(Conflict, match=r"^Bind for 0\.0\.0\.0:40126 failed: port is already allocated$"):
        firewall.publish(
            "c4", str(net.b_net[2]), [PortRequest(81, Proto.TCP), PortRequest(80, Proto.TCP, "", 40126, 40126)]
        )
    assert sh("nft", "list", "map", "ip", firewall.table, "published") == elements_before
    assert firewall.allocator.held("c4") == []
    assert ask("tcp", net.host, 40126) == f"c1 {net.host}"


def test_port_used_by_a_host_process_is_refused(net, firewall):
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        message = re.escape(f"failed to bind host port for 0.0.0.0:{port}:80/tcp: address already in use")
        with pytest.raises(Conflict, match=f"^{message}$"):
            firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", port, port)])


def test_egress_is_masqueraded_and_internal_networks_have_no_way_out(net, firewall):
    out = str(net.o_net[2])
    assert ask("tcp", out, 80, ns=net.c1) == f"out {net.o_net[1]}"
    assert ask("tcp", out, 80, ns=net.c3) is None


def test_networks_are_isolated_from_each_other(net, firewall):
    assert ask("tcp", str(net.a_net[2]), 80, ns=net.c2) == f"c1 {net.a_net[3]}"  # same network: allowed
    assert ask("tcp", str(net.a_net[2]), 80, ns=net.c4) is None
    assert ask("tcp", str(net.b_net[2]), 80, ns=net.c1) is None
    assert ask("tcp", str(net.a_net[2]), 80, ns=net.c3) is None


def test_reconcile_removes_what_is_not_live_and_setup_is_idempotent(net, firewall):
    firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40127, 40127)])
    firewall.publish("c4", str(net.b_net[2]), [PortRequest(80, Proto.TCP, "", 40128, 40128)])
    firewall.setup()
    assert ask("tcp", net.host, 40127) == f"c1 {net.host}"
    removed = firewall.reconcile(live_networks=["a", "i"], live_containers=["c1"])
    assert removed == ["ctr:c4", "net:b"]
    listing = sh("nft", "list", "table", "ip", firewall.table)
    assert "ctr:c4" not in listing and "net:b" not in listing and "ctr:c1" in listing and "net:a" in listing
    assert ask("tcp", net.host, 40127) == f"c1 {net.host}"
    assert ask("tcp", net.host, 40128) is None
    firewall.add_network(NetworkRules("b", net.b, net.b_net))


def test_restore_after_restart_is_idempotent(net, firewall):
    # The daemon that published, gone: its proxy and sockets closed, the kernel's rules still there.
    before = Firewall(PortAllocator(), table=firewall.table)
    mappings = before.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40129, 40129)])
    before.close()
    before.allocator.release("c1")
    firewall.reconcile(["a", "b", "i"], ["c1"])
    firewall.restore("c1", c1_ip(net), mappings)
    firewall.restore("c1", c1_ip(net), mappings)
    assert sh("nft", "list", "map", "ip", firewall.table, "published").count("ctr:c1") == 1
    assert ask("tcp", net.host, 40129) == f"c1 {net.host}"
    assert ask("tcp", "::1", 40129) == f"c1 {net.a_net[1]}"


def test_sctp_ports_are_published(net, firewall):
    [mapping] = firewall.publish("c1", c1_ip(net), [PortRequest(132, Proto.SCTP, "", 40130, 40130)])
    assert mapping == PortMapping(132, Proto.SCTP, "0.0.0.0", 40130)
    elements = sh("nft", "list", "map", "ip", firewall.table, "published")
    assert f'0.0.0.0/0 . sctp . 40130 comment "ctr:c1" : {c1_ip(net)} . 132' in elements
    with pytest.raises(Conflict, match="port is already allocated"):
        firewall.publish("c4", str(net.b_net[2]), [PortRequest(132, Proto.SCTP, "", 40130, 40130)])


def test_a_dual_stack_container_is_published_on_both_families_with_one_port(net, firewall):
    host6 = host_address("-6")
    if host6 is None:
        pytest.skip("the host has no global IPv6 address on its default route's interface")
    c1_ip6, gateway6 = str(net.subnet6(1)[2]), str(net.subnet6(1)[1])
    mappings = firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP)], container_ip6=c1_ip6)
    port = mappings[0].host_port
    assert mappings == [PortMapping(80, Proto.TCP, "0.0.0.0", port), PortMapping(80, Proto.TCP, "::", port)]
    assert ask("tcp", host6, port) == f"c1 {host6}"
    assert ask("tcp", host6, port, ns=net.c2) == f"c1 {gateway6}"
    assert ask("tcp", host6, port, ns=net.c1) == f"c1 {gateway6}"
    assert ask("tcp", host6, port, ns=net.c4) == f"c1 {gateway6}"
    assert ask("tcp", net.host, port) == f"c1 {net.host}"
    # [::1] is relayed by the userland proxy, to the container's IPv6 address.
    assert ask("tcp", "::1", port) == f"c1 {gateway6}"


def test_ipv6_egress_is_masqueraded_isolated_and_closed_for_internal_networks(net, firewall):
    out6 = str(net.subnet6(4)[2])
    assert ask("tcp", out6, 80, ns=net.c1) == f"out {net.subnet6(4)[1]}"
    assert ask("tcp", out6, 80, ns=net.c3) is None
    assert ask("tcp", str(net.subnet6(1)[2]), 80, ns=net.c2) == f"c1 {net.subnet6(1)[3]}"
    assert ask("tcp", str(net.subnet6(1)[2]), 80, ns=net.c4) is None
    assert ask("tcp", str(net.subnet6(2)[2]), 80, ns=net.c1) is None


def test_no_host_process_can_take_a_published_port(net, firewall):
    firewall.publish("c1", c1_ip(net), [PortRequest(80, Proto.TCP, "", 40131, 40131)])
    for address in ("0.0.0.0", "127.0.0.1", net.host):
        with socket.socket() as intruder:
            intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="Address already in use"):
                intruder.bind((address, 40131))


def test_without_the_proxy_the_kernel_serves_ipv4_loopback_and_hairpin_and_ipv6_is_not_published(
    net, firewall_without_proxy
):
    """dockerd --userland-proxy=false: 127.0.0.1 and hairpin through NAT as before; an IPv4-only container
    gets no :: mapping and an IPv6 host address is dropped from its requests, so [::1] finds no port."""
    requests = [PortRequest(80, Proto.TCP, "", 40140, 40140), PortRequest(80, Proto.TCP, "::1", 40141, 40141),
                PortRequest(80, Proto.UDP, "", 40142, 40142)]  # fmt: skip
    mappings = firewall_without_proxy.publish("c1", c1_ip(net), requests)
    assert mappings == [PortMapping(80, Proto.TCP, "0.0.0.0", 40140), PortMapping(80, Proto.UDP, "0.0.0.0", 40142)]
    gateway = str(net.a_net[1])
    assert ask("tcp", net.host, 40140) == f"c1 {net.host}"
    assert ask("tcp", "127.0.0.1", 40140) == f"c1 {gateway}"
    assert ask("tcp", net.host, 40140, ns=net.c2) == f"c1 {gateway}"
    assert ask("tcp", net.host, 40140, ns=net.c1) == f"c1 {gateway}"
    assert ask("udp", net.host, 40142, ns=net.c2) == f"c1 {gateway}"
    assert ask("tcp", "::1", 40140) is None
    assert ask("tcp", "::1", 40141) is None
    assert ask("udp", "::1", 40142) is None
    with socket.socket(socket.AF_INET6) as free:  # nothing holds the IPv6 side of the port
        free.bind(("::1", 40140))


def test_without_the_proxy_a_dual_stack_container_keeps_both_families_but_not_ipv6_loopback(
    net, firewall_without_proxy
):
    c1_ip6, gateway6 = str(net.subnet6(1)[2]), str(net.subnet6(1)[1])
    requests = [PortRequest(80, Proto.TCP, "", 40143, 40143), PortRequest(80, Proto.TCP, "::1", 40144, 40144)]
    mappings = firewall_without_proxy.publish("c1", c1_ip(net), requests, container_ip6=c1_ip6)
    assert mappings == [
        PortMapping(80, Proto.TCP, "0.0.0.0", 40143),
        PortMapping(80, Proto.TCP, "::", 40143),
        PortMapping(80, Proto.TCP, "::1", 40144),
    ]
    assert ask("tcp", str(net.subnet6(1)[1]), 40143, ns=net.c2) == f"c1 {gateway6}"
    # [::1] never leaves lo and nothing relays it: the port is held (no host process takes it) and unserved.
    assert ask("tcp", "::1", 40143) is None
    assert ask("tcp", "::1", 40144) is None
    with socket.socket(socket.AF_INET6) as intruder, pytest.raises(OSError, match="Address already in use"):
        intruder.bind(("::1", 40144))
