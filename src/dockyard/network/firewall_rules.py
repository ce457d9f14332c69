"""The rules of Dockyard's nftables tables, as text in nft's syntax: pure functions of networks and mappings.

nftables.py explains the layout and applies them; see its docstring.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.network.ports import PortMapping

FAMILIES = ("ip", "ip6")

# base chain -> (type, hook, priority, the one rule it holds)
_BASE_CHAINS = {
    "prerouting": ("nat", "prerouting", "dstnat", "fib daddr type local jump published"),
    # nft 1.0 knows the name "dstnat" only at the prerouting hook; -100 is its value.
    "output": ("nat", "output", "-100", "fib daddr type local jump published"),
    "postrouting": ("nat", "postrouting", "srcnat", "jump nat_out"),
    "forward": ("filter", "forward", "filter", "jump isolation"),
    "localnet": ("filter", "prerouting", "raw", "jump loopback_guard"),
}
_REGULAR_CHAINS = ("published", "nat_out", "isolation", "loopback_guard")
# IPv6 has no route_localnet: ::1 never leaves lo, so there is nothing to guard.
_IPV4_ONLY = ("localnet", "loopback_guard")

Rule = tuple[str, str, str]  # (family, chain, rule)


@dataclass(frozen=True)
class NetworkRules:
    """What the firewall needs to know of a bridge network; subnet6 for one created with --ipv6."""

    id: str
    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool = False
    subnet6: ipaddress.IPv6Network | None = None


def skeleton(table: str) -> list[str]:
    """Commands that make both tables and their fixed chains, or bring them back to shape, keeping other rules."""
    batch = []
    for family in FAMILIES:
        prefix = f"{family} {table}"
        batch.append(f"add table {prefix}")
        batch += [f"add chain {prefix} {chain}" for chain in _REGULAR_CHAINS if _has(family, chain)]
        for chain, (kind, hook, priority, rule) in _BASE_CHAINS.items():
            if _has(family, chain):
                batch += [
                    f"add chain {prefix} {chain} {{ type {kind} hook {hook} priority {priority}; policy accept; }}",
                    f"flush chain {prefix} {chain}",
                    f"add rule {prefix} {chain} {rule}",
                ]
    return batch


def _has(family: str, chain: str) -> bool:
    return family == "ip" or chain not in _IPV4_ONLY


def _quote(name: str) -> str:
    return json.dumps(name)


def network_rules(net: NetworkRules) -> list[Rule]:
    """(family, chain, rule) for one network, each commented net:<id>."""
    bridge = _quote(net.bridge)
    rules: list[Rule] = []
    # Isolation in both families whatever the subnets: a container that gives itself an
    # address of the other family must not get through either.
    for family in FAMILIES:
        if net.internal:
            rules += [
                (family, "isolation", f"iifname {bridge} oifname != {bridge} drop"),
                (family, "isolation", f"oifname {bridge} iifname != {bridge} drop"),
            ]
        else:
            # Docker 28 too: from outside the bridge, only published ports (DNATed) open connections.
            rule = f"oifname {bridge} iifname != {bridge} ct state new ct status ! dnat drop"
            rules.append((family, "isolation", rule))
    if not net.internal:
        for family, subnet in (("ip", net.subnet), ("ip6", net.subnet6)):
            if subnet is not None:
                rules += [
                    (family, "nat_out", f"{family} saddr {subnet} oifname != {bridge} masquerade"),
                    (family, "nat_out", f"oifname {bridge} {family} saddr {subnet} ct status dnat masquerade"),
                ]
        rules += [
            ("ip", "nat_out", f"oifname {bridge} ip saddr 127.0.0.0/8 masquerade"),
            ("ip", "loopback_guard", f"iifname {bridge} ip daddr 127.0.0.0/8 drop"),
        ]
    return [(family, chain, f'{rule} comment "net:{net.id}"') for family, chain, rule in rules]


def kernel_serves(mapping: PortMapping, container_ip6: str | None) -> bool:
    """Whether the kernel serves mapping: everything but [::1], and IPv6 only towards an IPv6 address."""
    return ":" not in mapping.host_ip or (container_ip6 is not None and mapping.host_ip != "::1")


def proxy_serves(mapping: PortMapping, container_ip6: str | None) -> bool:
    """Whether the userland proxy serves (part of) mapping: what kernel_serves leaves out, and [::1] within [::]."""
    return ":" in mapping.host_ip and (container_ip6 is None or mapping.host_ip in ("::", "::1"))


def publish_rules(
    container_id: str, container_ip: str, mappings: Sequence[PortMapping], container_ip6: str | None = None
) -> list[Rule]:
    """(family, chain, rule) DNATing each mapping the kernel can serve to the container, commented ctr:<id>."""
    rules: list[Rule] = []
    for m in mappings:
        if not kernel_serves(m, container_ip6):
            continue
        if ":" in m.host_ip:
            family, target = "ip6", f"[{ipaddress.IPv6Address(container_ip6)}]"
            # [::1] is the proxy's: a DNATed packet from ::1 could not leave lo.
            match = "ip6 daddr != ::1 " if m.host_ip == "::" else f"ip6 daddr {m.host_ip} "
        else:
            family, target = "ip", str(ipaddress.IPv4Address(container_ip))
            match = "" if m.host_ip == "0.0.0.0" else f"ip daddr {m.host_ip} "
        rule = f"{match}meta l4proto {m.proto} th dport {m.host_port} dnat to {target}:{m.container_port}"
        rules.append((family, "published", f'{rule} comment "ctr:{container_id}"'))
    return rules
