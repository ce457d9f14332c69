"""tuning.bridge_mtu's plan with real traffic: 64 KiB packets inside the network, docker's MTU beyond it.

    bridge A, links at BridgeMTU.link    c1 (sink 5001), c2; default routes with BridgeMTU.beyond
    bridge O, links at 65535             out (sink 5001): a peer beyond the host, routed to by it

All names carry dy-pt; everything is removed even on failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from dockyard.network import tuning
from support.nettopo import PROBE, Topology, in_netns

pytestmark = pytest.mark.integration

SINK = 5001
# The MSS the kernel settled on for a connection from inside a namespace (TCP_MAXSEG after connect).
MSS_CODE = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
"""


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    plan = tuning.bridge_mtu(tuning.DOCKER_MTU)
    with contextlib.ExitStack() as stack:
        topo = Topology(stack)
        topo.a, topo.a_net = topo.bridge("a", 1)
        topo.o, topo.o_net = topo.bridge("o", 2)
        topo.c1 = topo.namespace("c1", topo.a, topo.a_net[2], mtu=plan)
        topo.c2 = topo.namespace("c2", topo.a, topo.a_net[3], mtu=plan)
        # The peer's own links are large too: only the container's routes keep its packets small.
        topo.out = topo.namespace("out", topo.o, topo.o_net[2], mtu=tuning.BridgeMTU(tuning.LINK_MTU))
        topo.serve(topo.c1, "sink", str(SINK))
        topo.serve(topo.out, "sink", str(SINK))
        yield topo


def mss(ns: str, host: str) -> int:
    command = [*in_netns(ns), sys.executable, "-c", MSS_CODE, host, str(SINK)]
    return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def test_the_bridge_follows_its_ports(net):
    with open(f"/sys/class/net/{net.a}/mtu") as f:
        assert int(f.read()) == tuning.LINK_MTU


def test_containers_of_one_network_use_large_segments(net):
    """Far above 1460 (Linux bounds the MSS to half the largest window seen, so not the full 64 KiB)."""
    assert mss(net.c2, str(net.a_net[2])) > 16384
    assert mss(net.c2, str(net.subnet6(1)[2])) > 16384


def test_beyond_the_bridge_a_container_talks_as_at_docker_mtu(net):
    """The route's MTU caps what the container sends and advertises, whatever the peer's own MTU."""
    assert mss(net.c2, str(net.o_net[2])) <= 1460
    assert mss(net.c2, str(net.subnet6(2)[2])) <= 1440
    route = subprocess.run(
        [*in_netns(net.c2), "ip", "route", "get", str(net.o_net[2])], check=True, capture_output=True, text=True
    ).stdout
    assert "mtu 1500" in route


def test_transfers_arrive_whole_both_ways(net):
    for ns, host in ((net.c2, str(net.a_net[2])), (net.c2, str(net.o_net[2])), (net.out, str(net.a_net[2]))):
        command = [*in_netns(ns), sys.executable, PROBE, "blast", host, str(SINK), "32"]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
