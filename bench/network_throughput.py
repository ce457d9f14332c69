"""Benchmark: TCP throughput over host loopback, container to container over a bridge, and through published ports.

Builds the topology of tests/support/nettopo.py (a bridge with two network
namespaces standing for containers), a Firewall with a table of its own that
publishes c1's port, and moves the same number of bytes with the same Python
sender and sink (tests/support/netprobe.py) along each path, interleaved run by
run. Loopback on the host is the ceiling; the issue's target is bridge
throughput within 80% of it. [::1] shows the userland proxy, which serves what
the kernel's NAT cannot. Everything is removed afterwards.

    .venv/bin/python bench/network_throughput.py [--runs 5] [--mib 256]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

from dockyard.network.nftables import Firewall, NetworkRules
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortRequest, Proto
from support.nettopo import PROBE, Topology, host_address, in_netns

SINK_PORT = 5001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def blast(ns: str | None, host: str, port: int, mib: int) -> float:
    """MiB/s of one transfer."""
    command = [*in_netns(ns), sys.executable, PROBE, "blast", host, str(port), str(mib)]
    seconds = float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return mib / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    host = host_address() or "127.0.0.1"
    with contextlib.ExitStack() as stack:
        topo = Topology(stack)
        bridge, subnet = topo.bridge("a", 1)
        c1 = topo.namespace("c1", bridge, subnet[2])
        c2 = topo.namespace("c2", bridge, subnet[3])
        topo.serve(c1, "sink", str(SINK_PORT))
        loopback_port = free_port()
        topo.serve(None, "sink", str(loopback_port))
        firewall = Firewall(PortAllocator(), table=f"dockyard-bench-{os.getpid()}")
        stack.callback(firewall.close)
        stack.callback(firewall.teardown)
        firewall.setup()
        firewall.add_network(NetworkRules("bench", bridge, subnet))
        published = firewall.publish("c1", str(subnet[2]), [PortRequest(SINK_PORT, Proto.TCP)])[0]
        stack.callback(firewall.unpublish, "c1")
        paths = {
            "host loopback (ceiling)": (None, "127.0.0.1", loopback_port),
            "container -> container, bridge": (c2, str(subnet[2]), SINK_PORT),
            f"host -> published port on {host}": (None, host, published.host_port),
            "host -> published port on 127.0.0.1": (None, "127.0.0.1", published.host_port),
            "container -> published port (hairpin)": (c2, host, published.host_port),
            "host -> [::1] published (userland proxy)": (None, "::1", published.host_port),
        }
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, (ns, target, port) in paths.items():
                results[name].append(blast(ns, target, port, args.mib))
    ceiling = statistics.median(results["host loopback (ceiling)"])
    print(f"TCP throughput, {args.mib} MiB per transfer, median of {args.runs} (one Python sender and sink)")
    print(f"{'path':42} {'MiB/s':>8} {'vs loopback':>12}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:42} {median:8.0f} {median / ceiling:12.2f}")


if __name__ == "__main__":
    main()
