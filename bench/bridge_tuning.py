"""Benchmark: what each bridge/veth setting costs or gains in container-to-container TCP throughput.

Builds several two-container bridges side by side (same shape as Dockyard's bridge driver: a
bridge, a veth per container in hairpin mode, a network namespace per container), each with
one setting changed, and runs short iperf3 transfers over each, interleaved run by run so the
load of a shared machine falls on all variants alike. Host loopback is the ceiling the issue
measures against. Reports medians, the spread (min-max) and each variant's ratio to loopback
and to the default bridge. Each variant also sends to a peer beyond the host (routed by the
host to a bridge of its own with a NIC's usual limits), which is what a setting must not slow down.

The "no br_netfilter" variant lives inside a lab namespace of its own whose per-namespace
net.bridge.bridge-nf-call-iptables is 0: the upper bound of what skipping the IP hooks for
bridged frames could give. The host's sysctls are never changed. Everything is removed afterwards.

    .venv/bin/python bench/bridge_tuning.py [--runs 9] [--seconds 1] [--length 128K] [--only default,MTU]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

from pyroute2.ethtool import Ethtool

from dockyard.network import tuning
from support.nettopo import free_subnet_base, sh

IPERF_PORT = 5201
TAG = f"dy-bt{os.getpid() % 10000}"


@dataclass
class Pair:
    """Two containers on one bridge: the iperf3 client runs in `client`, the server at `server_ip`;
    routed: the client also reaches the peer beyond the host (Lab.beyond)."""

    client: str
    server_ip: str
    routed: bool = True


class Lab:
    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.x = free_subnet_base()
        self.count = 0
        self.table = f"dockyard-bt{os.getpid()}"

    def netns(self, name: str) -> str:
        ns = f"{TAG}-{name}"
        sh("ip", "netns", "add", ns)
        self.stack.callback(subprocess.run, ["ip", "netns", "del", ns], check=False)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def beyond(self) -> str:
        """A peer beyond the host, as far as containers can tell: routed by the host, on a bridge of its own
        with the usual MTU and 64 KiB limits (a NIC's). Its address."""
        bridge, subnet = f"{TAG}o", ipaddress.ip_network(f"10.{self.x}.250.0/24")
        sh("ip", "link", "add", "name", bridge, "type", "bridge")
        self.stack.callback(subprocess.run, ["ip", "link", "del", bridge], check=False)
        sh("ip", "addr", "add", f"{subnet[1]}/24", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        ns = self.netns("out")
        end, peer = f"{TAG}vo", f"{TAG}po"
        sh("ip", "link", "add", end, "type", "veth", "peer", "name", peer, "netns", ns)
        self.stack.callback(subprocess.run, ["ip", "link", "del", end], check=False)
        sh("ip", "link", "set", end, "master", bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{subnet[2]}/24", "dev", peer)
        sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", str(subnet[1]))
        self.serve(ns)
        return str(subnet[2])

    def pair(
        self, mtu: int = 1500, host_ns: str | None = None, big_tcp: int = 0, gro: bool = False, route_mtu: int = 0
    ) -> Pair:
        """A bridge (in host_ns, the host when None) with two containers at .2 and .3; route_mtu: the
        MTU of the containers' default routes (beyond the bridge)."""
        self.count += 1
        n = self.count
        ipn = ["ip", "-n", host_ns] if host_ns else ["ip"]
        bridge = f"{TAG}b{n}"
        subnet = ipaddress.ip_network(f"10.{self.x}.{n}.0/24")
        sh(*ipn, "link", "add", "name", bridge, "mtu", str(mtu), "type", "bridge")
        self.stack.callback(subprocess.run, [*ipn, "link", "del", bridge], check=False)
        sh(*ipn, "addr", "add", f"{subnet[1]}/24", "dev", bridge)
        sh(*ipn, "link", "set", bridge, "up")
        names = []
        for host in (2, 3):
            ns = self.netns(f"{n}c{host}")
            end, peer = f"{TAG}v{n}c{host}", f"{TAG}p{n}c{host}"
            sh(*ipn, "link", "add", end, "mtu", str(mtu), "type", "veth", "peer", "name", peer, "mtu", str(mtu))
            self.stack.callback(subprocess.run, [*ipn, "link", "del", end], check=False)
            for dev in (end, peer):  # before the peer moves: the settings stay with the device
                if big_tcp:
                    tuning.tune_link(dev, big_tcp)
                if gro:
                    set_gro(dev)
            sh(*ipn, "link", "set", peer, "netns", ns)
            sh(*ipn, "link", "set", end, "master", bridge, "up")
            sh(*ipn, "link", "set", end, "type", "bridge_slave", "hairpin", "on")
            sh("ip", "-n", ns, "addr", "add", f"{subnet[host]}/24", "dev", peer)
            sh("ip", "-n", ns, "link", "set", peer, "up")
            mtu_beyond = ["mtu", str(route_mtu)] if route_mtu else []
            sh("ip", "-n", ns, "route", "add", "default", "via", str(subnet[1]), *mtu_beyond)
            names.append(ns)
        if big_tcp:  # once it has ports: see tuning.tune_link
            tuning.tune_link(bridge, big_tcp)
        self.serve(names[0])
        return Pair(names[1], str(subnet[2]), routed=host_ns is None)

    def serve(self, ns: str | None) -> None:
        command = [*in_ns(ns), "iperf3", "--server", "--port", str(IPERF_PORT)]
        if ns is None:
            command += ["--bind", "127.0.0.1"]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.stack.callback(server.wait)
        self.stack.callback(server.kill)

    def notrack(self, pair: Pair) -> None:
        """A rule in a table of our own: bridged frames between this bridge's containers skip conntrack."""
        subnet = ipaddress.ip_network(pair.server_ip + "/24", strict=False)
        rules = (
            f"table ip {self.table} {{ chain raw {{ type filter hook prerouting priority raw; "
            f"ip saddr {subnet} ip daddr {subnet} notrack; }}; }}"
        )
        subprocess.run(["nft", "-f", "-"], input=rules, check=True, text=True)
        self.stack.callback(subprocess.run, ["nft", "delete", "table", "ip", self.table], check=False)


def set_gro(ifname: str) -> None:
    with Ethtool() as ethtool:
        features = ethtool.get_features(ifname)
        features.features["rx-gro"].enable = True
        ethtool.set_features(ifname, features)


def in_ns(ns: str | None) -> list[str]:
    return ["ip", "netns", "exec", ns] if ns else []


def iperf(ns: str | None, host: str, seconds: float, length: str) -> float:
    """Gbit/s the receiver saw in one transfer of writes of `length` bytes (iperf3's K/M suffixes)."""
    command = [*in_ns(ns), "iperf3", "--client", host, "--port", str(IPERF_PORT), "--time", str(seconds)]
    command += ["--length", length, "--json"]
    for _attempt in range(20):
        result = subprocess.run(command, capture_output=True, text=True)
        received = json.loads(result.stdout or "{}").get("end", {}).get("sum_received")
        if result.returncode == 0 and received:
            return received["bits_per_second"] / 1e9
        time.sleep(0.1)  # the server not yet listening, or still closing the previous test
    raise RuntimeError(f"iperf3 to {host} in {ns}: {result.stdout[-300:]} {result.stderr[-300:]}")


def variants(lab: Lab) -> dict[str, Callable[[], Pair]]:
    def no_br_netfilter() -> Pair:
        ns = lab.netns("lab")
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "net.bridge.bridge-nf-call-iptables=0")
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "net.bridge.bridge-nf-call-ip6tables=0")
        return lab.pair(host_ns=ns)

    def notrack() -> Pair:
        pair = lab.pair()
        lab.notrack(pair)
        return pair

    plan = tuning.bridge_mtu(tuning.DOCKER_MTU)
    return {
        "default (MTU 1500, br_netfilter)": lambda: lab.pair(),
        "BIG TCP 192 KiB (tuning.tune_link)": lambda: lab.pair(big_tcp=tuning.BIG_TCP_SIZE),
        "BIG TCP 512 KiB": lambda: lab.pair(big_tcp=524280),
        "veth GRO on": lambda: lab.pair(gro=True),
        "conntrack skipped (notrack)": notrack,
        "no br_netfilter (lab netns)": no_br_netfilter,
        "MTU 9000": lambda: lab.pair(mtu=9000),
        "MTU 65535": lambda: lab.pair(mtu=65535),
        "MTU 65535, 1500 beyond (tuning.bridge_mtu)": lambda: lab.pair(mtu=plan.link, route_mtu=plan.beyond or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--length", default="128K", help="bytes per write (iperf3's default 128K)")
    parser.add_argument("--only", help="comma-separated prefixes of the variants to run (loopback always runs)")
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else None
    with contextlib.ExitStack() as stack:
        lab = Lab(stack)
        lab.serve(None)
        out = lab.beyond()
        paths: dict[str, tuple[str | None, str]] = {"host loopback (ceiling)": (None, "127.0.0.1")}
        for name, build in variants(lab).items():
            if wanted is None or any(name.startswith(w) for w in wanted):
                pair = build()
                paths[name] = (pair.client, pair.server_ip)
                if pair.routed:
                    paths[f"  {name}: routed peer"] = (pair.client, out)
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, (ns, host) in paths.items():
                results[name].append(iperf(ns, host, args.seconds, args.length))
    ceiling = statistics.median(results["host loopback (ceiling)"])
    default = results.get("default (MTU 1500, br_netfilter)", [ceiling])
    default_routed = results.get("  default (MTU 1500, br_netfilter): routed peer", default)
    load = os.getloadavg()[0]
    print(f"iperf3 TCP, {args.seconds:g} s transfers of {args.length} writes, median of {args.runs}, load {load:.1f}")
    header = f"{'path (container to container unless routed)':56} {'Gbit/s':>7} {'min-max':>12}"
    print(f"{header} {'vs loopback':>12} {'vs default':>11}")
    for name, values in results.items():
        median = statistics.median(values)
        spread = f"{min(values):.1f}-{max(values):.1f}"
        base = statistics.median(default_routed if name.endswith("routed peer") else default)
        print(f"{name:56} {median:7.1f} {spread:>12} {median / ceiling:12.2f} {median / base:11.2f}")


if __name__ == "__main__":
    main()
