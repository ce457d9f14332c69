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

# One rule per family DNATs every published port: a lookup of (destination, protocol, port) in the
# published map, whose elements are the containers' mappings.
_DNAT = {
    "ip": "fib daddr type local meta l4proto { tcp, udp, sctp }"
    " dnat ip to ip daddr . meta l4proto . th dport map @published",
    # [::1] is the userland proxy's: a DNATed packet from ::1 could not leave lo.
    "ip6": "fib daddr type local ip6 daddr != ::1 meta l4proto { tcp, udp, sctp }"
    " dnat ip6 to ip6 daddr . meta l4proto . th dport map @published",
}
_ADDRESS_TYPE = {"ip": "ipv4_addr", "ip6": "ipv6_addr"}
# base chain -> (type, hook, priority, the one rule it holds; None: the family's DNAT)
_BASE_CHAINS = {
    "prerouting": ("nat", "prerouting", "dstnat", None),
    # nft 1.0 knows the name "dstnat" only at the prerouting hook; -100 is its value.
    "output": ("nat", "output", "-100", None),
    "postrouting": ("nat", "postrouting", "srcnat", "jump nat_out"),
    "forward": ("filter", "forward", "filter", "jump isolation"),
    "localnet": ("filter", "prerouting", "raw", "jump loopback_guard"),
}
_REGULAR_CHAINS = ("nat_out", "isolation", "loopback_guard")
# IPv6 has no route_localnet: ::1 never leaves lo, so there is nothing to guard.
_IPV4_ONLY = ("localnet", "loopback_guard")
_ANY_KEYS = {"0.0.0.0": "0.0.0.0/0", "::": "::/0"}

Rule = tuple[str, str, str]  # (family, chain, rule)
Element = tuple[str, str, str]  # (family, key, "comment ... : value") of the published map


@dataclass(frozen=True)
class NetworkRules:
    """What the firewall needs to know of a bridge network; subnet6 for one created with --ipv6."""

    id: str
    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool = False
    subnet6: ipaddress.IPv6Network | None = None
    icc: bool = True  # False: no traffic between the bridge's containers (dockerd's --icc=false, enable_icc)


def skeleton(table: str) -> list[str]:
    """Commands that make both tables and their fixed chains, or bring them back to shape, keeping other rules."""
    batch = []
    for family in FAMILIES:
        prefix = f"{family} {table}"
        address = _ADDRESS_TYPE[family]
        batch.append(f"add table {prefix}")
        batch.append(
            f"add map {prefix} published {{ type {address} . inet_proto . inet_service : {address} . inet_service;"
            " flags interval; }"
        )
        batch += [f"add chain {prefix} {chain}" for chain in _REGULAR_CHAINS if _has(family, chain)]
        for chain, (kind, hook, priority, rule) in _BASE_CHAINS.items():
            if _has(family, chain):
                batch += [
                    f"add chain {prefix} {chain} {{ type {kind} hook {hook} priority {priority}; policy accept; }}",
                    f"flush chain {prefix} {chain}",
                    f"add rule {prefix} {chain} {rule or _DNAT[family]}",
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
        if not net.icc:
            # Frames bridged between two ports pass the ip/ip6 forward hook with the bridge as both
            # interfaces (br_netfilter; the firewall makes sure it is on), as dockerd's -i/-o docker0 DROP.
            rules.append((family, "isolation", f"iifname {bridge} oifname {bridge} drop"))
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


def publish_elements(
    container_id: str, container_ip: str, mappings: Sequence[PortMapping], container_ip6: str | None = None
) -> list[Element]:
    """The published map's elements for each mapping the kernel can serve, commented ctr:<id>.

    The map has interval keys, so 0.0.0.0 and :: become /0 prefixes; the kernel refuses an
    element that overlaps another (a second safeguard behind the allocator).
    """
    elements: list[Element] = []
    for m in mappings:
        if not kernel_serves(m, container_ip6):
            continue
        if ":" in m.host_ip:
            family, target = "ip6", str(ipaddress.IPv6Address(container_ip6))
        else:
            family, target = "ip", str(ipaddress.IPv4Address(container_ip))
        value = f'comment "ctr:{container_id}" : {target} . {m.container_port}'
        elements.append((family, element_key(m), value))
    return elements


def element_key(m: PortMapping) -> str:
    return f"{_ANY_KEYS.get(m.host_ip, m.host_ip)} . {m.proto} . {m.host_port}"


def key_from_json(key: list) -> str:
    """A key of the published map as nft's JSON lists it (concat of address, proto, port) -> nft's syntax."""
    parts = []
    for part in key:
        if isinstance(part, dict) and "prefix" in part:
            parts.append(f"{part['prefix']['addr']}/{part['prefix']['len']}")
        elif isinstance(part, dict) and "range" in part:
            parts.append("-".join(str(bound) for bound in part["range"]))
        else:
            parts.append(str(part))
    return " . ".join(parts)
