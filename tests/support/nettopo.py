"""Network topologies for tests and benchmarks: bridges, network namespaces on them, probes inside.

Every name carries dy-pt<pid>; every object is registered with the caller's ExitStack, so it is
removed even when the test fails.

    with contextlib.ExitStack() as stack:
        topo = Topology(stack)
        bridge, subnet = topo.bridge("a", 1)                   # dy-pt123a, 10.x.1.1/24 on it
        ns = topo.namespace("c1", bridge, subnet[2])            # dy-pt123-c1 at 10.x.1.2, routed via 10.x.1.1
        topo.serve(ns, "tcp", 80, "c1")                         # netprobe answering "c1 <peer>"
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import subprocess
import sys

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netprobe.py")


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def host_address(family: str = "-4") -> str | None:
    """The address ("-4" or "-6", global scope) of the interface carrying the default route: the host as
    other hosts see it."""
    routes = json.loads(sh("ip", "-j", family, "route", "show", "default"))
    if not routes:
        return None
    info = json.loads(sh("ip", "-j", family, "addr", "show", "dev", routes[0]["dev"], "scope", "global"))
    addresses = [a["local"] for entry in info for a in entry["addr_info"] if "local" in a]
    return addresses[0] if addresses else None


def free_subnet_base() -> int:
    """A second octet x such that 10.x.0.0/16 touches no route of the host."""
    routes = json.loads(sh("ip", "-j", "-4", "route", "show", "table", "all"))
    used = [ipaddress.ip_network(r["dst"], strict=False) for r in routes if r.get("dst", "default") != "default"]
    while True:
        x = random.randint(200, 250)
        if not any(ipaddress.ip_network(f"10.{x}.0.0/16").overlaps(net) for net in used):
            return x


def ask(proto: str, host: str, port: int, ns: str | None = None) -> str | None:
    """The answer of the netprobe server at host:port, asked from ns (the host when None); None if none came."""
    command = [*in_netns(ns), sys.executable, PROBE, "ask", proto, host, str(port)]
    result = subprocess.run(command, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def in_netns(ns: str | None) -> list[str]:
    return ["ip", "netns", "exec", ns] if ns else []


class Topology:
    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.tag = f"dy-pt{os.getpid() % 10000}"
        self.x = free_subnet_base()
        self.links = 0

    def bridge(self, letter: str, third: int) -> tuple[str, ipaddress.IPv4Network]:
        """A bridge with the first addresses of 10.x.<third>.0/24 and of subnet6(third), up."""
        name = f"{self.tag}{letter}"
        subnet = ipaddress.ip_network(f"10.{self.x}.{third}.0/24")
        sh("ip", "link", "add", "name", name, "type", "bridge")
        self.stack.callback(subprocess.run, ["ip", "link", "del", name], check=False)
        sh("ip", "addr", "add", f"{subnet[1]}/24", "dev", name)
        sh("ip", "addr", "add", f"{self.subnet6(third)[1]}/64", "dev", name, "nodad")
        sh("ip", "link", "set", name, "up")
        return name, subnet

    def subnet6(self, third: int) -> ipaddress.IPv6Network:
        """The IPv6 subnet of the bridge made with `third`: a ULA /64 named after 10.x.<third>.0/24."""
        return ipaddress.ip_network(f"fdd0:{self.x:x}:{third}::/64")

    def namespace(self, name: str, bridge: str, address: ipaddress.IPv4Address, gateway: bool = True) -> str:
        """A network namespace with a veth on bridge at address and at the same host number of the bridge's
        IPv6 subnet; its default routes via the bridge's addresses."""
        self.links += 1
        ns = f"{self.tag}-{name}"
        host_end, peer = f"{self.tag}v{self.links}", f"{self.tag}p{self.links}"
        sh("ip", "netns", "add", ns)
        self.stack.callback(subprocess.run, ["ip", "netns", "del", ns], check=False)
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", peer)
        self.stack.callback(subprocess.run, ["ip", "link", "del", host_end], check=False)
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "link", "set", host_end, "master", bridge, "up")
        # As the bridge driver does: with br_netfilter loaded, a container's packet to its own published
        # port is DNATed on the bridge and must go back out of the port it came in by.
        sh("ip", "link", "set", host_end, "type", "bridge_slave", "hairpin", "on")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        third, host = (int(address) >> 8) & 0xFF, int(address) & 0xFF
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", peer)
        sh("ip", "-n", ns, "addr", "add", f"{self.subnet6(third)[host]}/64", "dev", peer, "nodad")
        sh("ip", "-n", ns, "link", "set", peer, "up")
        if gateway:
            sh("ip", "-n", ns, "route", "add", "default", "via", str(address - host + 1))
            sh("ip", "-n", ns, "-6", "route", "add", "default", "via", str(self.subnet6(third)[1]))
        return ns

    def serve(self, ns: str | None, *probe_args: str) -> None:
        """A netprobe server (serve tcp 80 NAME, sink 5001) in ns, killed when the stack closes."""
        server = subprocess.Popen(
            [*in_netns(ns), sys.executable, PROBE, *probe_args], stdout=subprocess.PIPE, text=True
        )
        self.stack.callback(server.wait)
        self.stack.callback(server.kill)
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"netprobe {' '.join(probe_args)} did not start in {ns}")
