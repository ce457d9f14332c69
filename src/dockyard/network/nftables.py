"""Dockyard's own nftables table: egress NAT, isolation, internal networks and published ports.

Everything Dockyard does to the packet path lives in one table of its own,
``table ip dockyard`` (the name is configurable so that test daemons keep to
theirs). No other table is read for changing, the ruleset is never flushed, and
``teardown`` deletes exactly that table. Base chains hold one fixed jump each;
what varies lives in regular chains, one rule set per network and per container,
each rule carrying a comment ``net:<id>`` or ``ctr:<id>`` so that it can be
removed by handle, and so that after a crash ``reconcile`` can delete what
belongs to no live network or container::

    table ip dockyard
      prerouting  nat    dstnat  fib daddr type local jump published   (from other hosts and containers)
      output      nat    dstnat  fib daddr type local jump published   (from the host itself, 127.0.0.1 too)
      postrouting nat    srcnat  jump nat_out
      forward     filter filter  jump isolation
      localnet    filter raw     jump loopback_guard
      published        ctr:<id>  [ip daddr <HostIp>] <proto> dport <HostPort> dnat to <ip>:<port>
      nat_out          net:<id>  ip saddr <subnet> oifname != <bridge> masquerade   egress
                       net:<id>  oifname <bridge> ip saddr <subnet> ct status dnat masquerade   hairpin
                       net:<id>  oifname <bridge> ip saddr 127.0.0.0/8 masquerade   localhost
      isolation        net:<id>  new connections into <bridge> from elsewhere: only published ports
                                 (internal: nothing in or out of <bridge> at all)
      loopback_guard   net:<id>  iifname <bridge> ip daddr 127.0.0.0/8 drop

Published ports are served by the kernel alone, from every path docker's
userland proxy serves: another host (prerouting), the host itself on any of its
addresses including 127.0.0.1 (output chain; the bridge gets ``route_localnet``
so that a packet from 127.0.0.1 may leave through it, and it is masqueraded to
the bridge's address), and a container reaching its own or another container's
published port through the host's address (hairpin: masqueraded so that the
reply comes back through the host). ``route_localnet`` would also let a
container send packets to the host's 127.0.0.1 services; ``loopback_guard``
drops those before routing (docker's CVE-2020-8558 fix).

Our chains accept by policy and only drop; an ``accept`` here cannot overrule a
``drop`` in another table (nftables runs every base chain of a hook). A host
firewall whose forward chain drops by default (iptables' FORWARD policy DROP,
which dockerd itself sets) therefore also drops Dockyard's egress and published
ports until it accepts them; :meth:`Firewall.foreign_forward_drops` names such
chains so that the daemon can warn, and docs/networking.md shows the rule to add.

API (for NetworkService; every method is idempotent and thread-safe)::

    firewall = Firewall(PortAllocator())
    firewall.setup()                                   # the table and its fixed chains; ip_forward on
    firewall.add_network(NetworkRules(id, bridge, subnet, internal))
    mappings = firewall.publish(container_id, container_ip, port_requests(...))  # -> [PortMapping]
    firewall.restore(container_id, container_ip, mappings)   # after a daemon restart
    firewall.unpublish(container_id)
    firewall.remove_network(id)
    firewall.reconcile(live_network_ids, live_container_ids)  # drop everything else of ours
    firewall.teardown()                                # the whole table (tests, uninstall)

The ``nft`` command is the interface, not libnftables through ctypes: it is the
tool netfilter maintains for this (``-f -`` applies a batch atomically, ``-j``
lists as JSON), it costs a few milliseconds a call, and its Python binding is a
Debian package outside our virtualenv, not a PyPI distribution.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from dockyard.errors import Internal, Unavailable, Unsupported
from dockyard.network.ports import PortAllocator, PortMapping, PortRequest

FAMILY = "ip"
DEFAULT_TABLE = "dockyard"

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


@dataclass(frozen=True)
class NetworkRules:
    """What the firewall needs to know of a bridge network."""

    id: str
    bridge: str
    subnet: ipaddress.IPv4Network
    internal: bool = False


class Nft:
    """The nft command: atomic batches in, JSON listings out."""

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin")
        if found is None:
            raise Unavailable("the nft command is not installed (apt-get install nftables)")
        self.binary = found

    def apply(self, batch: Sequence[str]) -> None:
        """Run the commands as one transaction: all of them take effect or none."""
        if batch:
            self._run(["-f", "-"], "\n".join(batch) + "\n")

    def list_table(self, table: str) -> list[dict] | None:
        """The table's objects as nft's JSON items, or None when it does not exist."""
        try:
            out = self._run(["-j", "list", "table", FAMILY, table])
        except Internal as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        return json.loads(out)["nftables"]

    def list_chains(self) -> list[dict]:
        """Every base and regular chain of every table (read only)."""
        items = json.loads(self._run(["-j", "list", "chains"]))["nftables"]
        return [item["chain"] for item in items if "chain" in item]

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        result = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise Internal(f"nft {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout


def _quote(name: str) -> str:
    return json.dumps(name)


def network_rules(net: NetworkRules) -> list[tuple[str, str]]:
    """(chain, rule) pairs for one network, each commented net:<id>."""
    bridge, subnet = _quote(net.bridge), str(net.subnet)
    if net.internal:
        rules = [
            ("isolation", f"iifname {bridge} oifname != {bridge} drop"),
            ("isolation", f"oifname {bridge} iifname != {bridge} drop"),
        ]
    else:
        rules = [
            ("nat_out", f"ip saddr {subnet} oifname != {bridge} masquerade"),
            ("nat_out", f"oifname {bridge} ip saddr {subnet} ct status dnat masquerade"),
            ("nat_out", f"oifname {bridge} ip saddr 127.0.0.0/8 masquerade"),
            # Docker 28 too: from outside the bridge, only published ports (DNATed) open connections.
            ("isolation", f"oifname {bridge} iifname != {bridge} ct state new ct status ! dnat drop"),
            ("loopback_guard", f"iifname {bridge} ip daddr 127.0.0.0/8 drop"),
        ]
    return [(chain, f'{rule} comment "net:{net.id}"') for chain, rule in rules]


def publish_rules(container_id: str, container_ip: str, mappings: Sequence[PortMapping]) -> list[tuple[str, str]]:
    """(chain, rule) pairs DNATing each mapping to the container, each commented ctr:<id>."""
    address = ipaddress.IPv4Address(container_ip)
    rules = []
    for m in mappings:
        if ":" in m.host_ip:
            raise Unsupported(f"publishing on IPv6 address {m.host_ip} is not supported yet")
        match = "" if m.host_ip == "0.0.0.0" else f"ip daddr {m.host_ip} "
        rule = f"{match}meta l4proto {m.proto} th dport {m.host_port} dnat to {address}:{m.container_port}"
        rules.append(("published", f'{rule} comment "ctr:{container_id}"'))
    return rules


class Firewall:
    """Dockyard's nftables table and the host ports it publishes (see the module docstring)."""

    def __init__(
        self,
        allocator: PortAllocator,
        nft: Nft | None = None,
        table: str = DEFAULT_TABLE,
        proc_net: str = "/proc/sys/net",
    ) -> None:
        self.allocator = allocator
        self.table = table
        self._nft = nft or Nft()
        self._proc_net = proc_net
        self._lock = threading.Lock()

    def setup(self) -> None:
        """Create the table and its fixed chains, or bring them back to shape; keeps every network's rules."""
        prefix = f"{FAMILY} {self.table}"
        batch = [f"add table {prefix}"]
        batch += [f"add chain {prefix} {chain}" for chain in _REGULAR_CHAINS]
        for chain, (kind, hook, priority, rule) in _BASE_CHAINS.items():
            batch += [
                f"add chain {prefix} {chain} {{ type {kind} hook {hook} priority {priority}; policy accept; }}",
                f"flush chain {prefix} {chain}",
                f"add rule {prefix} {chain} {rule}",
            ]
        with self._lock:
            self._nft.apply(batch)
        # Routing between the bridges and the host's interfaces, as dockerd switches it on.
        self._write_sysctl("ipv4/ip_forward", "1")

    def teardown(self) -> None:
        """Delete the whole table (nothing else); the allocator's reservations are the owners' to release."""
        prefix = f"{FAMILY} {self.table}"
        with self._lock:
            # "add" first makes the delete succeed whether or not the table exists.
            self._nft.apply([f"add table {prefix}", f"delete table {prefix}"])

    def add_network(self, net: NetworkRules) -> None:
        """Egress NAT, isolation and published-port support for a bridge network (replacing any earlier rules)."""
        with self._lock:
            if not net.internal:
                # Lets the host's own 127.0.0.1 reach published ports (docker does it without its proxy).
                self._write_sysctl(f"ipv4/conf/{net.bridge}/route_localnet", "1")
            self._replace(f"net:{net.id}", network_rules(net))

    def remove_network(self, network_id: str) -> None:
        with self._lock:
            self._replace(f"net:{network_id}", [])

    def publish(self, container_id: str, container_ip: str, requests: Sequence[PortRequest]) -> list[PortMapping]:
        """Allocate host ports for the requests and DNAT them to container_ip; the mappings, in request order.

        Conflict (docker's "port is already allocated") or InvalidParameter leave nothing allocated.
        """
        mappings = self.allocator.allocate(container_id, requests)
        try:
            with self._lock:
                self._nft.apply(self._add_commands(publish_rules(container_id, container_ip, mappings)))
        except BaseException:
            self.allocator.release(container_id)
            raise
        return mappings

    def restore(self, container_id: str, container_ip: str, mappings: Sequence[PortMapping]) -> None:
        """After a daemon restart: hold these host ports again and make sure their rules are in place."""
        self.allocator.restore(container_id, mappings)
        try:
            with self._lock:
                self._replace(f"ctr:{container_id}", publish_rules(container_id, container_ip, mappings))
        except BaseException:
            self.allocator.release(container_id)
            raise

    def unpublish(self, container_id: str) -> list[PortMapping]:
        """Remove the container's DNAT rules and give its host ports back; what it had published."""
        with self._lock:
            self._replace(f"ctr:{container_id}", [])
        return self.allocator.release(container_id)

    def reconcile(self, live_networks: Collection[str], live_containers: Collection[str]) -> list[str]:
        """Repair the fixed chains and delete the rules of every network and container not listed.

        Returns the comments (net:<id>, ctr:<id>) whose rules were removed.
        """
        self.setup()
        live = {f"net:{i}" for i in live_networks} | {f"ctr:{i}" for i in live_containers}
        with self._lock:
            return self._delete_where(lambda comment: comment not in live)

    def foreign_forward_drops(self) -> list[str]:
        """Other tables' forward chains that drop by default ("ip filter FORWARD"): they drop our traffic too."""
        return [
            f"{chain['family']} {chain['table']} {chain['name']}"
            for chain in self._nft.list_chains()
            if chain.get("hook") == "forward"
            and chain.get("policy") == "drop"
            and (chain["family"], chain["table"]) != (FAMILY, self.table)
        ]

    def _replace(self, comment: str, rules: list[tuple[str, str]]) -> None:
        """Atomically swap every rule commented `comment` for `rules`."""
        self._delete_where(lambda found: found == comment, then=self._add_commands(rules))

    def _delete_where(self, doomed: Callable[[str], bool], then: Sequence[str] = ()) -> list[str]:
        items = self._nft.list_table(self.table)
        if items is None:
            raise Unavailable(f"nftables table {FAMILY} {self.table} is missing: Firewall.setup() was not run")
        batch, removed = [], set()
        for item in items:
            rule = item.get("rule")
            comment = rule.get("comment", "") if rule else ""
            if comment and doomed(comment):
                batch.append(f"delete rule {FAMILY} {self.table} {rule['chain']} handle {rule['handle']}")
                removed.add(comment)
        self._nft.apply([*batch, *then])
        return sorted(removed)

    def _add_commands(self, rules: list[tuple[str, str]]) -> list[str]:
        return [f"add rule {FAMILY} {self.table} {chain} {rule}" for chain, rule in rules]

    def _write_sysctl(self, name: str, value: str) -> None:
        path = os.path.join(self._proc_net, name)
        with contextlib.suppress(FileNotFoundError), open(path) as f:
            if f.read().strip() == value:
                return
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise Internal(f"cannot set {path} to {value}: {exc.strerror}") from None
