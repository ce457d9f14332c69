"""BIG TCP limits on a bridge network's links (dockyard.network.tuning) with real traffic.

    bridge A, tuned    c1 (sink 5001), c2: bridge, veth host ends and container ends at BIG_TCP_SIZE
    bridge O, as made  out (sink 5001): a peer behind a link with the usual 64 KiB limits

A firewall of its own publishes c1's sink, so the hairpin path (DNAT on the bridge) is covered too.
All names carry dy-pt; everything is removed even on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
from pyroute2 import IPRoute

from dockyard.network import tuning
from dockyard.network.nftables import Firewall, NetworkRules
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortRequest, Proto
from support.nettopo import PROBE, Topology, host_address, in_netns, sh

pytestmark = pytest.mark.integration

SINK = 5001
MIB = 48
ETH_P_ALL = 0x0003


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with contextlib.ExitStack() as stack:
        topo = Topology(stack)
        topo.a, topo.a_net = topo.bridge("a", 1)
        topo.o, topo.o_net = topo.bridge("o", 2)
        topo.c1 = topo.namespace("c1", topo.a, topo.a_net[2], tune=True)
        topo.c2 = topo.namespace("c2", topo.a, topo.a_net[3], tune=True)
        topo.out = topo.namespace("out", topo.o, topo.o_net[2])
        topo.c2_host_end, topo.c2_end = f"{topo.tag}v2", f"{topo.tag}p2"
        with IPRoute() as ipr:
            (link,) = ipr.link("get", ifname=topo.c2_host_end)
        if link.get_attr("IFLA_GSO_MAX_SIZE") != tuning.BIG_TCP_SIZE:
            pytest.skip("this kernel has no BIG TCP (Linux 5.19 for IPv6, 6.3 for IPv4)")
        topo.serve(topo.c1, "sink", str(SINK))
        topo.serve(topo.out, "sink", str(SINK))
        yield topo


def blast(ns: str | None, host: str, port: int = SINK) -> None:
    """MIB mebibytes from ns (the host when None) to host:port; fails unless the sink counted every byte."""
    result = subprocess.run(
        [*in_netns(ns), sys.executable, PROBE, "blast", host, str(port), str(MIB)], capture_output=True
    )
    assert result.returncode == 0, result.stderr.decode()


def test_tune_link_sets_the_gso_and_gro_limits(net):
    with IPRoute() as ipr:
        for name in (net.a, net.c2_host_end):
            (link,) = ipr.link("get", ifname=name)
            assert link.get_attr("IFLA_GSO_MAX_SIZE") == tuning.BIG_TCP_SIZE
            assert link.get_attr("IFLA_GRO_MAX_SIZE") == tuning.BIG_TCP_SIZE


def test_tune_link_works_inside_the_containers_namespace(net):
    """As the bridge driver calls it on the container's end: in a thread or process inside the namespace."""
    code = f"from dockyard.network.tuning import tune_link; print(tune_link({net.c2_end!r}, 131072))"
    result = subprocess.run([*in_netns(net.c2), sys.executable, "-c", code], capture_output=True, text=True)
    try:
        assert result.stdout.strip() == "131072", result.stderr
        link = json.loads(sh("ip", "-n", net.c2, "-d", "-j", "link", "show", net.c2_end))[0]
        assert (link["gso_max_size"], link["gro_max_size"]) == (131072, 131072)
    finally:
        subprocess.run([*in_netns(net.c2), sys.executable, "-c", code.replace("131072", "")], check=True)


def test_tune_link_caps_at_what_the_device_takes(net):
    with IPRoute() as ipr:
        (link,) = ipr.link("get", ifname=net.c2_host_end)
    most = link.get_attr("IFLA_TSO_MAX_SIZE")
    try:
        assert tuning.tune_link(net.c2_host_end, most + 4096) == most
    finally:
        tuning.tune_link(net.c2_host_end)


def test_a_bridge_without_ports_keeps_the_legacy_limit(net):
    with contextlib.ExitStack() as stack:
        bridge, _ = Topology(stack).bridge("e", 3)
        assert tuning.tune_link(bridge) == 0


@pytest.mark.skipif(
    tuple(map(int, os.uname().release.split(".")[:2])) < (6, 3), reason="BIG TCP for IPv4 came in Linux 6.3"
)
def test_ipv4_packets_grow_beyond_64_kib_on_the_tuned_bridge(net):
    """The container's TCP builds IPv4 packets above the legacy limit: the kernel honours the IPv4 limits."""
    largest = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as sniffer:
        sniffer.bind((net.c2_host_end, 0))
        sniffer.settimeout(5)
        sender = threading.Thread(target=blast, args=(net.c2, str(net.a_net[2])))
        sender.start()
        with contextlib.suppress(TimeoutError):
            while sender.is_alive() and largest <= tuning.LEGACY_SIZE:
                largest = max(largest, len(sniffer.recv(1 << 20)))
        sender.join()
    assert largest > tuning.LEGACY_SIZE


def test_container_to_container_over_ipv4_and_ipv6(net):
    blast(net.c2, str(net.a_net[2]))
    blast(net.c2, str(net.subnet6(1)[2]))


def test_to_a_peer_behind_untuned_links_large_packets_are_segmented(net):
    blast(net.c2, str(net.o_net[2]))


def test_hairpin_through_a_published_port(net):
    host = host_address()
    if host is None:
        pytest.skip("the host has no default route, so no address other hosts would use")
    with contextlib.ExitStack() as stack:
        firewall = Firewall(PortAllocator(), table=f"dockyard-test-{os.getpid()}")
        stack.callback(firewall.close)
        stack.callback(firewall.teardown)
        firewall.setup()
        firewall.add_network(NetworkRules("a", net.a, net.a_net))
        published = firewall.publish("c1", str(net.a_net[2]), [PortRequest(SINK, Proto.TCP)])[0]
        stack.callback(firewall.unpublish, "c1")
        blast(net.c2, host, published.host_port)
        blast(None, host, published.host_port)  # from the host: out through the tuned bridge device
