"""Dockyard's own nftables tables: egress NAT, isolation, internal networks and published ports.

Everything Dockyard does to the packet path lives in two tables of its own,
``table ip dockyard`` and ``table ip6 dockyard`` (the name is configurable so
that test daemons keep to theirs). No other table is changed, the ruleset is
never flushed, and ``teardown`` deletes exactly these tables. Base chains hold
one fixed rule each. What varies is of two kinds, both labelled so that they
can be removed one by one, and so that after a crash ``reconcile`` can delete
what belongs to no live network or container: per network, rules commented
``net:<id>`` in regular chains (removed by handle); per container, elements of
the ``published`` map commented ``ctr:<id>`` (removed by key)::

    table ip dockyard                        (ip6: the same for IPv6 subnets and addresses, no localnet)
      map published    (HostIp . proto . HostPort : container address . port), interval keys:
                       0.0.0.0/0 . tcp . 8080 comment "ctr:<id>" : 172.18.0.2 . 80
      prerouting  nat    dstnat  fib daddr type local meta l4proto { tcp, udp, sctp }
                                   dnat ip to ip daddr . meta l4proto . th dport map @published
      output      nat    -100    the same, for the host itself (127.0.0.1 too)
      postrouting nat    srcnat  jump nat_out
      forward     filter filter  jump isolation
      localnet    filter raw     jump loopback_guard
      nat_out          net:<id>  ip saddr <subnet> oifname != <bridge> masquerade   egress
                       net:<id>  oifname <bridge> ip saddr <subnet> ct status dnat masquerade   hairpin
                       net:<id>  oifname <bridge> ip saddr 127.0.0.0/8 masquerade   localhost
      isolation        net:<id>  new connections into <bridge> from elsewhere: only published ports
                                 (internal: nothing in or out of <bridge> at all)
                       net:<id>  iifname <bridge> oifname <bridge> drop   icc off: nothing between its containers
      loopback_guard   net:<id>  iifname <bridge> ip daddr 127.0.0.0/8 drop

A map lookup costs the same for one published port as for thousands (docker's
iptables DNAT chain grows by a rule per port), publishing and unpublishing need
neither a listing nor the kernel's rule handles, and the kernel refuses an
element that overlaps another, behind the allocator's own check.

Published ports are served by the kernel, from the paths docker's userland
proxy serves: another host (prerouting), the host itself on any of its
addresses including 127.0.0.1 (output chain; the bridge gets ``route_localnet``
so that a packet from 127.0.0.1 may leave through it, and it is masqueraded to
the bridge's address), and a container reaching its own or another container's
published port through the host's address (hairpin: masqueraded so that the
reply comes back through the host). ``route_localnet`` would also let a
container send packets to the host's 127.0.0.1 services; ``loopback_guard``
drops those before routing (docker's CVE-2020-8558 fix). What no NAT can serve
(``[::1]``, which never leaves lo, and IPv6 host addresses of an IPv4-only
container) the userland proxy relays (proxy.py); with ``userland_proxy=False``
(``--userland-proxy=false``) those are not served, as dockerd without its proxy.

Our chains accept by policy and only drop; an ``accept`` here cannot overrule a
``drop`` in another table (nftables runs every base chain of a hook). A host
firewall whose forward chain drops by default (iptables' FORWARD policy DROP,
which dockerd itself sets) therefore also drops Dockyard's egress and published
ports until it accepts them; :meth:`Firewall.foreign_forward_drops` names such
chains so that the daemon can warn, and docs/networking.md shows the rule to add.

API (for NetworkService; every method is idempotent and thread-safe)::

    firewall = Firewall(PortAllocator())
    firewall.setup()                                   # the tables and their fixed chains; ip_forward on
    firewall.reconcile(live_network_ids, live_container_ids)  # at start: drop everything else of ours
    firewall.restore(container_id, container_ip, mappings, container_ip6)   # then: each running container
    firewall.add_network(NetworkRules(id, bridge, subnet, internal, subnet6))
    mappings = firewall.publish(container_id, container_ip, port_requests(...), container_ip6)
    firewall.unpublish(container_id)
    firewall.remove_network(id)
    firewall.close()                                   # daemon shutdown: proxy stopped, rules kept
    firewall.teardown()                                # both tables (tests, uninstall)

Commands are nft's own syntax, run by libnftables (the library behind the nft
command, netfilter's maintained interface) in-process through
``kernel/libnftables.py``: a batch is one atomic transaction, listings come as
JSON, and a call costs well under a millisecond where starting ``nft`` costs
5-10 ms. The nft syntax is what ``nft list table ip dockyard`` prints back, so
the rules read the same in the code and on the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from collections.abc import Collection, Sequence

from dockyard.errors import Internal, Unavailable, Unsupported
from dockyard.kernel.libnftables import OUTPUT_ECHO, OUTPUT_HANDLE, OUTPUT_JSON, NftContext, NftError
from dockyard.network.firewall_rules import (
    FAMILIES,
    NetworkRules,
    Rule,
    key_from_json,
    network_rules,
    proxy_serves,
    publish_elements,
    skeleton,
)
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortMapping, PortRequest, Proto
from dockyard.network.proxy import UserlandProxy

DEFAULT_TABLE = "dockyard"
Handle = tuple[str, str, int]  # (family, chain, the kernel's number for the rule)
# How nft echoes a rule it added: the command, then "# handle <n>".
_ADDED_RULE = re.compile(r"^add rule .* # handle (\d+)$", re.MULTILINE)


class Nft:
    """nftables commands in nft's syntax: atomic batches in, JSON listings out (libnftables, in-process)."""

    def __init__(self, library: str = "libnftables.so.1") -> None:
        try:
            self._context = NftContext(library)
        except OSError as exc:
            raise Unavailable(f"libnftables is not installed (apt-get install nftables): {exc}") from None

    def apply(self, batch: Sequence[str]) -> None:
        """Run the commands as one transaction: all of them take effect or none."""
        if batch:
            self._run("\n".join(batch) + "\n")

    def apply_rules(self, batch: Sequence[str]) -> list[int]:
        """apply(), returning the handles of the rules it added (nft's echo, which reads the table first)."""
        if not batch:
            return []
        echoed = self._run("\n".join(batch) + "\n", OUTPUT_ECHO | OUTPUT_HANDLE)
        return [int(m.group(1)) for m in _ADDED_RULE.finditer(echoed)]

    def list_table(self, family: str, table: str) -> list[dict] | None:
        """The table's objects as nft's JSON items, or None when it does not exist."""
        try:
            out = self._run(f"list table {family} {table}", OUTPUT_JSON)
        except Internal as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        return json.loads(out)["nftables"]

    def list_elements(self, family: str, table: str, name: str) -> list[tuple[str, str]]:
        """(key in nft's syntax, comment) of every element of a map; empty when there is no such map."""
        try:
            items = json.loads(self._run(f"list map {family} {table} {name}", OUTPUT_JSON))["nftables"]
        except Internal as exc:
            if "No such file or directory" in str(exc):
                return []
            raise
        found = []
        for item in items:
            for key, _value in item.get("map", {}).get("elem", []):
                elem = key.get("elem", {}) if isinstance(key, dict) else {}
                val = elem.get("val", key)
                concat = val["concat"] if isinstance(val, dict) and "concat" in val else [val]
                found.append((key_from_json(concat), elem.get("comment", "")))
        return found

    def list_chains(self) -> list[dict]:
        """Every base and regular chain of every table (read only)."""
        items = json.loads(self._run("list chains", OUTPUT_JSON))["nftables"]
        return [item["chain"] for item in items if "chain" in item]

    def close(self) -> None:
        self._context.close()

    def _run(self, commands: str, flags: int = 0) -> str:
        try:
            return self._context.run(commands, flags)
        except NftError as exc:
            raise Internal(f"nftables: {exc}") from None


class Firewall:
    """Dockyard's nftables tables and the host ports it publishes (see the module docstring)."""

    def __init__(
        self,
        allocator: PortAllocator,
        nft: Nft | None = None,
        table: str = DEFAULT_TABLE,
        proc_net: str = "/proc/sys/net",
        ipv6: bool | None = None,
        userland_proxy: bool = True,
    ) -> None:
        """ipv6: whether the host has IPv6 (published on :: too); None finds out. userland_proxy False:
        what only the proxy could serve is not served, as under dockerd --userland-proxy=false (below)."""
        self.allocator = allocator
        self.userland_proxy = userland_proxy
        self.table = table
        self._nft = nft or Nft()
        self._proc_net = proc_net
        self._lock = threading.Lock()
        self._ipv6 = os.path.exists("/proc/net/if_inet6") if ipv6 is None else ipv6
        self._proxy: UserlandProxy | None = None
        self._relays: dict[str, list[socket.socket]] = {}  # container -> host sockets the proxy listens on
        self._elements: dict[str, list[tuple[str, str]]] = {}  # container -> (family, key) in the published maps
        # comment -> handles of its rules, so that a change needs no listing (a JSON listing costs
        # tens of milliseconds per hundred rules). None until the tables are first read.
        self._handles: dict[str, list[Handle]] | None = None

    def setup(self) -> None:
        """Create the tables and their fixed chains, or bring them back to shape; keeps every network's rules."""
        batch = skeleton(self.table)
        with self._lock:
            self._nft.apply(batch)
            self._handles = None  # the tables may have been made afresh
        # Routing between the bridges and the host's interfaces, as dockerd switches it on.
        self._write_sysctl("ipv4/ip_forward", "1")

    def teardown(self) -> None:
        """Delete both tables (nothing else); the allocator's reservations are the owners' to release."""
        batch = []
        for family in FAMILIES:
            # "add" first makes the delete succeed whether or not the table exists.
            batch += [f"add table {family} {self.table}", f"delete table {family} {self.table}"]
        with self._lock:
            self._nft.apply(batch)
            self._handles = None
            self._elements = {}

    def add_network(self, net: NetworkRules) -> None:
        """Egress NAT, isolation and published-port support for a bridge network (replacing any earlier rules)."""
        with self._lock:
            if not net.internal:
                # Lets the host's own 127.0.0.1 reach published ports (docker does it without its proxy).
                self._write_sysctl(f"ipv4/conf/{net.bridge}/route_localnet", "1")
            if not net.icc:
                self._bridged_traffic_filtered()
            if net.subnet6 is not None:
                # As dockerd for IPv6 networks. Interfaces whose accept_ra is 1 stop taking
                # router advertisements while forwarding is on; 2 keeps them.
                self._write_sysctl("ipv6/conf/all/forwarding", "1")
            self._replace(f"net:{net.id}", network_rules(net))

    def _bridged_traffic_filtered(self) -> None:
        """Traffic between two containers of one bridge is bridged, not routed: our forward chains see it only
        with br_netfilter's bridge-nf-call-ip(6)tables on, which dockerd too switches on for --icc=false."""
        if not os.path.isdir(os.path.join(self._proc_net, "bridge")):
            raise Unsupported("icc=false needs the kernel's br_netfilter (modprobe br_netfilter)")
        for family in ("iptables", "ip6tables"):
            self._write_sysctl(f"bridge/bridge-nf-call-{family}", "1")

    def remove_network(self, network_id: str) -> None:
        with self._lock:
            self._replace(f"net:{network_id}", [])

    def publish(
        self,
        container_id: str,
        container_ip: str,
        requests: Sequence[PortRequest],
        container_ip6: str | None = None,
    ) -> list[PortMapping]:
        """Allocate host ports for the requests and publish them on the container; the mappings, in request order.

        A request without HostIp is published on 0.0.0.0 and, where the host has IPv6, on ::
        with the same port, as dockerd does. Conflict (docker's "port is already allocated"),
        InvalidParameter or Unsupported leave nothing allocated. Publish once per container
        start; unpublish before publishing again.

        Without the userland proxy nothing carries IPv6 to an IPv4-only container: as dockerd 20.10
        and 28 without theirs, such a container gets no :: mapping and a request for an IPv6 host
        address is dropped without an error (docker inspect shows the port unpublished).
        """
        to_ipv4_only = container_ip6 is None

        def wildcards(request: PortRequest) -> tuple[str, ...]:
            # SCTP towards an IPv4 address from :: would need a proxy with SCTP sockets.
            v6 = self._ipv6 and (not to_ipv4_only or (self.userland_proxy and request.proto != Proto.SCTP))
            return ("0.0.0.0", "::") if v6 else ("0.0.0.0",)

        if to_ipv4_only and not self.userland_proxy:
            requests = [request for request in requests if ":" not in request.host_ip]
        mappings = self.allocator.allocate(container_id, requests, wildcards)
        self._program(container_id, container_ip, mappings, container_ip6)
        return mappings

    def restore(
        self,
        container_id: str,
        container_ip: str,
        mappings: Sequence[PortMapping],
        container_ip6: str | None = None,
    ) -> None:
        """After a daemon restart: hold these host ports again and make sure their rules and relays are in place.

        Call reconcile() first, as the daemon does at start: it reads what the daemon before made,
        so that unpublish later knows the container's elements.
        """
        self._stop_relays(container_id)  # they hold the ports, which restore binds anew
        self.allocator.restore(container_id, mappings)
        self._program(container_id, container_ip, mappings, container_ip6)

    def unpublish(self, container_id: str) -> list[PortMapping]:
        """Remove the container's DNAT and relays and give its host ports back; what it had published."""
        self._stop_relays(container_id)
        with self._lock:
            self._remove_elements(container_id)
        return self.allocator.release(container_id)

    def close(self) -> None:
        """Stop the userland proxy and free the nftables context; the rules stay (daemon shutdown)."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        self._relays.clear()
        self._nft.close()

    def _program(
        self,
        container_id: str,
        container_ip: str,
        mappings: Sequence[PortMapping],
        container_ip6: str | None,
    ) -> None:
        """Map elements for what the kernel serves, relays for the rest; on failure, nothing held."""
        try:
            relays = []
            for m in mappings:
                # Without the proxy, what it would serve ([::1]) stays reserved and unserved, the
                # reservation's socket holding the port as dockerd's "dummy proxy" holds it.
                if self.userland_proxy and proxy_serves(m, container_ip6):
                    host = self.allocator.reservation(container_id, m).socket
                    if host is None:
                        reason = f"needs the userland proxy, and this kernel has no {m.proto} sockets"
                        raise Unsupported(f"publishing {m.proto} on {m.host_ip} {reason}")
                    relays.append((host, (container_ip6 or container_ip, m.container_port)))
            elements = publish_elements(container_id, container_ip, mappings, container_ip6)
            with self._lock:
                self._nft.apply([self._add_element(*element) for element in elements])
                known = self._elements.setdefault(container_id, [])
                known += [(family, key) for family, key, _ in elements if (family, key) not in known]
                if relays and self._proxy is None:
                    self._proxy = UserlandProxy()
            for host, target in relays:
                self._proxy.start(host, target)
                self._relays.setdefault(container_id, []).append(host)
        except BaseException:
            self._stop_relays(container_id)
            # The original error is the one to report; an element left behind goes at the next reconcile.
            with self._lock, contextlib.suppress(Internal, Unavailable):
                self._remove_elements(container_id)
            self.allocator.release(container_id)
            raise

    def _stop_relays(self, container_id: str) -> None:
        for host in self._relays.pop(container_id, []):
            self._proxy.stop(host)

    def reconcile(self, live_networks: Collection[str], live_containers: Collection[str]) -> list[str]:
        """Repair the fixed chains and delete the rules and published ports of every network and container not listed.

        Returns the comments (net:<id>, ctr:<id>) whose rules or elements were removed.
        """
        self.setup()
        live = {f"net:{i}" for i in live_networks} | {f"ctr:{i}" for i in live_containers}
        with self._lock:
            elements = self._read_elements()
            doomed_rules = [comment for comment in self._known() if comment not in live]
            doomed_elements = [comment for comment in elements if comment not in live]
            batch = [command for comment in doomed_rules for command in self._delete_commands(comment)]
            batch += [self._delete_element(*key) for comment in doomed_elements for key in elements[comment]]
            self._nft.apply(batch)
            for comment in doomed_rules:
                del self._known()[comment]
            self._elements = {c.removeprefix("ctr:"): keys for c, keys in elements.items() if c in live}
            return sorted({*doomed_rules, *doomed_elements})

    def foreign_forward_drops(self) -> list[str]:
        """Other tables' forward chains that drop by default ("ip filter FORWARD"): they drop our traffic too."""
        return [
            f"{chain['family']} {chain['table']} {chain['name']}"
            for chain in self._nft.list_chains()
            if chain.get("hook") == "forward"
            and chain.get("policy") == "drop"
            and not (chain["family"] in FAMILIES and chain["table"] == self.table)
        ]

    def _replace(self, comment: str, rules: list[Rule]) -> None:
        """Atomically swap every rule commented `comment` for `rules`."""
        try:
            self._apply_replace(comment, rules)
        except Internal:
            # A rule we knew is gone (our table was changed behind our back): read the kernel and retry.
            self._handles = None
            self._apply_replace(comment, rules)

    def _apply_replace(self, comment: str, rules: list[Rule]) -> None:
        known = self._known()
        added = self._nft.apply_rules(
            [*self._delete_commands(comment), *(f"add rule {f} {self.table} {c} {r}" for f, c, r in rules)]
        )
        handles = [(family, chain, handle) for (family, chain, _), handle in zip(rules, added, strict=True)]
        if handles:
            known[comment] = handles
        else:
            known.pop(comment, None)

    def _remove_elements(self, container_id: str) -> None:
        """Delete the container's published-map elements by key; read the maps if one was gone already."""
        keys = self._elements.pop(container_id, [])
        if not keys:
            return
        try:
            self._nft.apply([self._delete_element(family, key) for family, key in keys])
        except Internal:
            keys = self._read_elements().get(f"ctr:{container_id}", [])
            self._nft.apply([self._delete_element(family, key) for family, key in keys])

    def _read_elements(self) -> dict[str, list[tuple[str, str]]]:
        """The published maps' keys by comment (ctr:<id>)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for family in FAMILIES:
            for key, comment in self._nft.list_elements(family, self.table, "published"):
                found.setdefault(comment, []).append((family, key))
        return found

    def _add_element(self, family: str, key: str, value: str) -> str:
        return f"add element {family} {self.table} published {{ {key} {value} }}"

    def _delete_element(self, family: str, key: str) -> str:
        return f"delete element {family} {self.table} published {{ {key} }}"

    def _delete_commands(self, comment: str) -> list[str]:
        return [f"delete rule {f} {self.table} {c} handle {h}" for f, c, h in self._known().get(comment, [])]

    def _known(self) -> dict[str, list[Handle]]:
        """Every commented rule of our tables by comment, read from the kernel the first time."""
        if self._handles is None:
            handles: dict[str, list[Handle]] = {}
            for family in FAMILIES:
                items = self._nft.list_table(family, self.table)
                if items is None:
                    raise Unavailable(f"nftables table {family} {self.table} is missing: Firewall.setup() was not run")
                for item in items:
                    rule = item.get("rule")
                    if rule and rule.get("comment"):
                        handles.setdefault(rule["comment"], []).append((family, rule["chain"], rule["handle"]))
            self._handles = handles
        return self._handles

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
