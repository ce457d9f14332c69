"""Benchmark: TCP throughput over host loopback, container to container over a bridge, and through published ports.

Builds the topology of tests/support/nettopo.py twice: a bridge as docker makes
it (MTU 1500) and one with dockyard.network.tuning.bridge_mtu's plan (links at
65535, docker's 1500 on the containers' default routes), each with two network
namespaces standing for containers, and a peer beyond the host (routed to); a Firewall
with a table of its own publishes c1's port on each. The same sender and
receiver move data along each path, interleaved run by run: iperf3 (C, the
default) or the Python pair of tests/support/netprobe.py (1 MiB writes), which
is CPU-bound itself and so understates the faster paths. Loopback on the host
is the ceiling; the issue's target is bridge throughput within 80% of it. [::1]
shows the userland proxy, which serves what the kernel's NAT cannot.
Everything is removed afterwards.

    .venv/bin/python bench/network_throughput.py [--runs 5] [--tool iperf3|python] [--mib 256] [--seconds 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

from dockyard.network import tuning
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
    """MiB/s of one transfer of the Python pair."""
    command = [*in_netns(ns), sys.executable, PROBE, "blast", host, str(port), str(mib)]
    seconds = float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return mib / seconds


def iperf(ns: str | None, host: str, port: int, seconds: float) -> float:
    """MiB/s the iperf3 server received in one transfer."""
    command = [*in_netns(ns), "iperf3", "--client", host, "--port", str(port), "--time", str(seconds), "--json"]
    for _attempt in range(20):
        result = subprocess.run(command, capture_output=True, text=True)
        received = json.loads(result.stdout or "{}").get("end", {}).get("sum_received")
        if result.returncode == 0 and received:
            return received["bits_per_second"] / 8 / (1 << 20)
        time.sleep(0.1)  # the server not yet listening, or still closing the previous test
    raise RuntimeError(f"iperf3 to {host}:{port} from {ns}: {result.stdout[-300:]} {result.stderr[-300:]}")


def serve_iperf(stack: contextlib.ExitStack, ns: str | None, port: int) -> None:
    server = subprocess.Popen([*in_netns(ns), "iperf3", "--server", "--port", str(port)], stdout=subprocess.DEVNULL)
    stack.callback(server.wait)
    stack.callback(server.kill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tool", choices=("iperf3", "python"), default="iperf3")
    parser.add_argument("--mib", type=int, default=256, help="per transfer of the Python pair")
    parser.add_argument("--seconds", type=float, default=1.0, help="per transfer of iperf3")
    args = parser.parse_args()
    host = host_address() or "127.0.0.1"
    with contextlib.ExitStack() as stack:
        topo = Topology(stack)

        def serve(ns: str | None, port: int) -> None:
            if args.tool == "iperf3":
                serve_iperf(stack, ns, port)
            else:
                topo.serve(ns, "sink", str(port))

        firewall = Firewall(PortAllocator(), table=f"dockyard-bench-{os.getpid()}")
        stack.callback(firewall.close)
        stack.callback(firewall.teardown)
        firewall.setup()
        loopback_port = free_port()
        serve(None, loopback_port)
        paths = {"host loopback (ceiling)": (None, "127.0.0.1", loopback_port)}
        # A peer beyond the host, as far as the containers can tell: on a bridge no network owns, reached
        # through the host's routing and masquerading, its links with the usual 64 KiB limits.
        beyond, beyond_subnet = topo.bridge("o", 3)
        out = topo.namespace("out", beyond, beyond_subnet[2], gateway=False)
        serve(out, SINK_PORT)
        plan = tuning.bridge_mtu(tuning.DOCKER_MTU)
        for letter, third, mtu, label in (("a", 1, None, "as docker"), ("t", 2, plan, "bridge_mtu")):
            bridge, subnet = topo.bridge(letter, third)
            c1 = topo.namespace(f"{letter}1", bridge, subnet[2], mtu=mtu)
            c2 = topo.namespace(f"{letter}2", bridge, subnet[3], mtu=mtu)
            serve(c1, SINK_PORT)
            firewall.add_network(NetworkRules(f"bench-{letter}", bridge, subnet))
            published = firewall.publish(c1, str(subnet[2]), [PortRequest(SINK_PORT, Proto.TCP)])[0]
            stack.callback(firewall.unpublish, c1)
            port = published.host_port
            paths |= {
                f"container -> container ({label})": (c2, str(subnet[2]), SINK_PORT),
                f"host -> published on {host} ({label})": (None, host, port),
                f"host -> published on 127.0.0.1 ({label})": (None, "127.0.0.1", port),
                f"container -> published, hairpin ({label})": (c2, host, port),
                f"container -> routed peer, 64 KiB links ({label})": (c2, str(beyond_subnet[2]), SINK_PORT),
            }
            if mtu is None:
                paths["host -> [::1] published (userland proxy)"] = (None, "::1", port)
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, (ns, target, port) in paths.items():
                if args.tool == "iperf3":
                    results[name].append(iperf(ns, target, port, args.seconds))
                else:
                    results[name].append(blast(ns, target, port, args.mib))
    ceiling = statistics.median(results["host loopback (ceiling)"])
    amount = f"{args.seconds:g} s" if args.tool == "iperf3" else f"{args.mib} MiB"
    print(f"TCP throughput ({args.tool}, {amount} per transfer), median of {args.runs}, load {os.getloadavg()[0]:.1f}")
    print(f"{'path':48} {'MiB/s':>8} {'min-max':>12} {'vs loopback':>12}")
    for name, values in results.items():
        median = statistics.median(values)
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{name:48} {median:8.0f} {spread:>12} {median / ceiling:12.2f}")


if __name__ == "__main__":
    main()
