"""Benchmark: what publishing ports adds to a container's start and stop (Firewall.publish / unpublish).

A Firewall with a table of its own publishes two ports (tcp and udp, random host
ports, on 0.0.0.0 and ::) for one container and takes them back, with 0 and
with --others containers already published, so that the cost of a large
ruleset shows. The issue's target: network setup adds under 15 ms to a start.
No traffic, no bridge; the tables are deleted afterwards.

    .venv/bin/python bench/publish_latency.py [--runs 50] [--others 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from dockyard.network.nftables import Firewall
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortRequest, Proto

REQUESTS = [PortRequest(80, Proto.TCP), PortRequest(53, Proto.UDP)]


def measure(firewall: Firewall, runs: int) -> tuple[float, float]:
    """Median milliseconds of publish and of unpublish."""
    publish, unpublish = [], []
    for _ in range(runs):
        start = time.perf_counter()
        firewall.publish("bench", "10.254.0.2", REQUESTS)
        publish.append(time.perf_counter() - start)
        start = time.perf_counter()
        firewall.unpublish("bench")
        unpublish.append(time.perf_counter() - start)
    return statistics.median(publish) * 1000, statistics.median(unpublish) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--others", type=int, default=200)
    args = parser.parse_args()
    firewall = Firewall(PortAllocator(), table=f"dockyard-bench-{os.getpid()}")
    others = [f"other{n}" for n in range(args.others)]
    try:
        start = time.perf_counter()
        firewall.setup()
        setup_ms = (time.perf_counter() - start) * 1000
        alone = measure(firewall, args.runs)
        for other in others:
            firewall.publish(other, "10.254.0.3", REQUESTS)
        start = time.perf_counter()
        firewall.reconcile([], [*others, "bench"])
        reconcile_ms = (time.perf_counter() - start) * 1000
        crowded = measure(firewall, args.runs)
    finally:
        for other in others:
            firewall.allocator.release(other)
        firewall.teardown()
        firewall.close()
    print(f"publish/unpublish of 2 ports (4 mappings with ::), median of {args.runs}")
    print(f"{'containers already published':30} {'publish ms':>11} {'unpublish ms':>13}")
    print(f"{0:<30} {alone[0]:11.2f} {alone[1]:13.2f}")
    print(f"{args.others:<30} {crowded[0]:11.2f} {crowded[1]:13.2f}")
    print(f"setup {setup_ms:.1f} ms; reconcile with {args.others} containers {reconcile_ms:.1f} ms")


if __name__ == "__main__":
    main()
