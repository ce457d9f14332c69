"""The Firewall's bookkeeping against a recording stand-in for the nft command.

What the rules do to packets is proved with real traffic in tests/integration/test_firewall.py; here: which
rules a change deletes, that a failed transaction gives the host ports back, which foreign chains are reported.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from dockyard.errors import Internal, Unavailable, Unsupported
from dockyard.network.firewall_rules import NetworkRules, publish_rules
from dockyard.network.nftables import Firewall
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortMapping, PortRequest, Proto


class RecordingNft:
    """Keeps (family, chain, handle, comment) rules as the kernel would, applying batches all or nothing."""

    def __init__(self, rules=(), chains=(), fail=False):
        self.rules = list(rules)
        self.chains = list(chains)
        self.fail = fail
        self.batches: list[list[str]] = []
        self.next_handle = 100
        self.listings = 0

    def apply(self, batch):
        if self.fail:
            raise Internal("nftables: Error: Could not process rule")
        rules, added = list(self.rules), []
        for command in batch:
            words = command.split()
            if command.startswith("delete rule "):
                family, chain, handle = words[2], words[4], int(words[6])
                doomed = [r for r in rules if r[:3] == (family, chain, handle)]
                if not doomed:
                    raise Internal("nftables: Error: Could not process rule: No such file or directory")
                rules.remove(doomed[0])
            elif command.startswith("add rule "):
                self.next_handle += 1
                _, _, comment = command.partition(' comment "')
                rules.append((words[2], words[4], self.next_handle, comment.rstrip('"')))
                added.append(self.next_handle)
        self.rules = rules
        self.batches.append(list(batch))
        return added

    def list_table(self, family, table):
        self.listings += 1
        items = [{"table": {"family": family, "name": table}}]
        for f, chain, handle, comment in self.rules:
            if f == family:
                items.append({"rule": {"chain": chain, "handle": handle, **({"comment": comment} if comment else {})}})
        return items

    def list_chains(self):
        return self.chains

    def close(self):
        pass


class NoSocket:
    socket = None

    def __init__(self, mapping):
        pass

    def close(self):
        pass


@pytest.fixture
def firewall(tmp_path):
    """firewall(nft): a Firewall over the stand-in, with a /proc/sys/net of its own where forwarding is on."""
    (tmp_path / "ipv4").mkdir()
    (tmp_path / "ipv4" / "ip_forward").write_text("1\n")

    def make(nft) -> Firewall:
        allocator = PortAllocator((100, 200), NoSocket)
        return Firewall(allocator, nft=nft, table="dockyard-unit", proc_net=str(tmp_path), ipv6=False)

    return make


def test_reconcile_deletes_the_rules_of_everything_not_live(firewall):
    nft = RecordingNft(
        rules=[
            ("ip", "nat_out", 7, "net:a"),
            ("ip", "nat_out", 8, "net:gone"),
            ("ip6", "nat_out", 8, "net:gone"),
            ("ip", "published", 9, "ctr:c1"),
            ("ip6", "published", 10, "ctr:x"),
        ]
    )
    removed = firewall(nft).reconcile(live_networks=["a"], live_containers=["c1"])
    assert removed == ["ctr:x", "net:gone"]
    assert nft.batches[-1] == [
        "delete rule ip6 dockyard-unit published handle 10",
        "delete rule ip dockyard-unit nat_out handle 8",
        "delete rule ip6 dockyard-unit nat_out handle 8",
    ]
    assert sorted(rule[3] for rule in nft.rules if rule[3]) == ["ctr:c1", "net:a"]


def test_adding_a_network_again_replaces_its_rules_in_one_transaction(firewall):
    rules = [("ip", "isolation", 4, "net:i"), ("ip6", "isolation", 5, "net:i"), ("ip", "isolation", 6, "net:j")]
    nft = RecordingNft(rules=rules)
    firewall(nft).add_network(NetworkRules("i", "dy-i", ipaddress.ip_network("10.9.0.0/24"), internal=True))
    [batch] = nft.batches
    assert batch[:2] == [
        "delete rule ip dockyard-unit isolation handle 4",
        "delete rule ip6 dockyard-unit isolation handle 5",
    ]
    added = batch[2:]
    assert len(added) == 4 and all(command.endswith('comment "net:i"') for command in added)
    assert {command.split()[2] for command in added} == {"ip", "ip6"}


def test_after_the_first_read_changes_need_no_listing(firewall):
    nft = RecordingNft()
    fw = firewall(nft)
    fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP), PortRequest(53, Proto.UDP)])
    fw.publish("c1", "10.9.0.2", [PortRequest(81, Proto.TCP)])
    fw.publish("c2", "10.9.0.3", [PortRequest(80, Proto.TCP)])
    assert nft.listings == 2  # the ip and ip6 tables, once
    fw.unpublish("c1")
    assert nft.listings == 2
    assert [rule[3] for rule in nft.rules] == ["ctr:c2"]


def test_a_rule_gone_behind_its_back_makes_it_read_the_kernel_again(firewall):
    nft = RecordingNft()
    fw = firewall(nft)
    fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP)])
    nft.rules = [(family, chain, handle + 1000, comment) for family, chain, handle, comment in nft.rules]
    fw.unpublish("c1")
    assert nft.rules == [] and nft.listings == 4


def test_a_failed_publish_gives_the_host_ports_back(firewall):
    fw = firewall(RecordingNft(fail=True))
    with pytest.raises(Internal):
        fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP, "", 8080, 8080)])
    assert fw.allocator.held("c1") == []


def test_changes_without_setup_say_so(firewall):
    nft = RecordingNft()
    nft.list_table = lambda family, table: None
    with pytest.raises(Unavailable, match="setup"):
        firewall(nft).unpublish("c1")


def test_the_kernel_serves_what_it_can_and_leaves_loopback_and_family_changes_to_the_proxy():
    mappings = [
        PortMapping(80, Proto.TCP, "0.0.0.0", 8080),
        PortMapping(80, Proto.TCP, "::", 8080),
        PortMapping(80, Proto.TCP, "::1", 8081),
        PortMapping(80, Proto.UDP, "fd00::2", 8082),
    ]
    assert [rule for _, _, rule in publish_rules("c", "10.9.0.2", mappings, container_ip6="fd09::2")] == [
        'meta l4proto tcp th dport 8080 dnat to 10.9.0.2:80 comment "ctr:c"',
        'ip6 daddr != ::1 meta l4proto tcp th dport 8080 dnat to [fd09::2]:80 comment "ctr:c"',
        'ip6 daddr fd00::2 meta l4proto udp th dport 8082 dnat to [fd09::2]:80 comment "ctr:c"',
    ]
    assert [family for family, _, _ in publish_rules("c", "10.9.0.2", mappings)] == ["ip"]


def test_a_proxied_port_without_a_socket_to_listen_on_is_refused(firewall):
    fw = firewall(RecordingNft())
    with pytest.raises(Unsupported, match="needs the userland proxy"):
        fw.publish("c1", "10.9.0.2", [PortRequest(132, Proto.SCTP, "::1", 8080, 8080)])
    assert fw.allocator.held("c1") == []


def test_foreign_forward_chains_that_drop_are_named(firewall):
    chains = [
        {"family": "ip", "table": "filter", "name": "FORWARD", "hook": "forward", "policy": "drop"},
        {"family": "inet", "table": "fw", "name": "forward", "hook": "forward", "policy": "accept"},
        {"family": "ip", "table": "filter", "name": "INPUT", "hook": "input", "policy": "drop"},
        {"family": "ip", "table": "filter", "name": "DOCKER-USER"},
        {"family": "ip", "table": "dockyard-unit", "name": "forward", "hook": "forward", "policy": "drop"},
    ]
    assert firewall(RecordingNft(chains=chains)).foreign_forward_drops() == ["ip filter FORWARD"]


class ClosedSocket:
    """A reservation whose socket the proxy cannot use (closed)."""

    def __init__(self, mapping):
        self.socket = socket.socket(socket.AF_INET6 if ":" in mapping.host_ip else socket.AF_INET)
        self.socket.close()

    def close(self):
        pass


def test_a_publish_failing_after_its_rules_went_in_takes_them_out_again(tmp_path):
    nft = RecordingNft()
    fw = Firewall(
        PortAllocator((100, 200), ClosedSocket), nft=nft, table="dockyard-unit", proc_net=str(tmp_path), ipv6=True
    )
    try:
        with pytest.raises(OSError):
            fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP)])
        assert [rule for rule in nft.rules if rule[3]] == []
        assert fw.allocator.held("c1") == []
    finally:
        fw.close()
