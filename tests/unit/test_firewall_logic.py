"""The Firewall's bookkeeping against a stand-in for nftables that keeps rules and map elements as the kernel would.

What the rules do to packets is proved with real traffic in tests/integration/test_firewall.py; here: which
rules and elements a change deletes, what needs a listing, that a failed transaction gives the host ports back,
which foreign chains are reported.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from dockyard.errors import Internal, Unavailable, Unsupported
from dockyard.network.firewall_rules import NetworkRules, key_from_json, publish_elements
from dockyard.network.nftables import Firewall
from dockyard.network.port_allocator import PortAllocator
from dockyard.network.ports import PortMapping, PortRequest, Proto


class RecordingNft:
    """Rules (family, chain, handle, comment) and published-map elements {(family, key): comment}, changed
    by batches all or nothing; counts the listings."""

    def __init__(self, rules=(), elements=None, chains=(), fail=False):
        self.rules = list(rules)
        self.elements = dict(elements or {})
        self.chains = list(chains)
        self.fail = fail
        self.batches: list[list[str]] = []
        self.next_handle = 100
        self.listings = 0

    def apply(self, batch):
        self.apply_rules(batch)

    def apply_rules(self, batch):
        if self.fail:
            raise Internal("nftables: Error: Could not process rule")
        rules, elements, added = list(self.rules), dict(self.elements), []
        for command in batch:
            words = command.split()
            if command.startswith("delete rule "):
                doomed = [r for r in rules if r[:3] == (words[2], words[4], int(words[6]))]
                if not doomed:
                    raise Internal("nftables: Error: Could not process rule: No such file or directory")
                rules.remove(doomed[0])
            elif command.startswith("add rule "):
                self.next_handle += 1
                _, _, comment = command.partition(' comment "')
                rules.append((words[2], words[4], self.next_handle, comment.rstrip('"')))
                added.append(self.next_handle)
            elif command.startswith("add element "):
                key, _, rest = command.split("{ ", 1)[1].partition(" comment ")
                elements[(words[2], key)] = rest.split('"')[1]
            elif command.startswith("delete element "):
                key = command.split("{ ", 1)[1].removesuffix(" }")
                if elements.pop((words[2], key), None) is None:
                    raise Internal("nftables: Error: Could not process rule: No such file or directory")
        self.rules, self.elements = rules, elements
        self.batches.append(list(batch))
        return added

    def list_table(self, family, table):
        self.listings += 1
        items = [{"table": {"family": family, "name": table}}]
        for f, chain, handle, comment in self.rules:
            if f == family:
                items.append({"rule": {"chain": chain, "handle": handle, **({"comment": comment} if comment else {})}})
        return items

    def list_elements(self, family, table, name):
        self.listings += 1
        return [(key, comment) for (f, key), comment in self.elements.items() if f == family]

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


def test_reconcile_deletes_the_rules_and_elements_of_everything_not_live(firewall):
    nft = RecordingNft(
        rules=[("ip", "nat_out", 7, "net:a"), ("ip", "nat_out", 8, "net:gone"), ("ip6", "nat_out", 8, "net:gone")],
        elements={
            ("ip", "0.0.0.0/0 . tcp . 8080"): "ctr:c1",
            ("ip6", "::/0 . tcp . 8081"): "ctr:x",
            ("ip", "127.0.0.1 . udp . 53"): "ctr:x",
        },
    )
    fw = firewall(nft)
    removed = fw.reconcile(live_networks=["a"], live_containers=["c1"])
    assert removed == ["ctr:x", "net:gone"]
    assert nft.batches[-1] == [
        "delete rule ip dockyard-unit nat_out handle 8",
        "delete rule ip6 dockyard-unit nat_out handle 8",
        "delete element ip dockyard-unit published { 127.0.0.1 . udp . 53 }",
        "delete element ip6 dockyard-unit published { ::/0 . tcp . 8081 }",
    ]
    assert [rule[3] for rule in nft.rules if rule[3]] == ["net:a"]
    assert nft.elements == {("ip", "0.0.0.0/0 . tcp . 8080"): "ctr:c1"}
    # What reconcile read is what the live container's unpublish deletes, with no listing of its own.
    listings = nft.listings
    fw.unpublish("c1")
    assert nft.elements == {} and nft.listings == listings


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


def test_icc_off_drops_bridged_traffic_in_both_families_and_turns_br_netfilter_on(firewall, tmp_path):
    nft = RecordingNft()
    (tmp_path / "ipv4" / "conf" / "dy-n").mkdir(parents=True)  # for route_localnet
    net = NetworkRules("n", "dy-n", ipaddress.ip_network("10.9.0.0/24"), icc=False)
    with pytest.raises(Unsupported, match="br_netfilter"):  # the kernel's module is not there
        firewall(nft).add_network(net)
    (tmp_path / "bridge").mkdir()
    for name in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
        (tmp_path / "bridge" / name).write_text("0\n")
    firewall(nft).add_network(net)
    drops = [c for c in nft.batches[-1] if 'iifname "dy-n" oifname "dy-n" drop' in c]
    assert [c.split()[2] for c in drops] == ["ip", "ip6"]
    assert (tmp_path / "bridge" / "bridge-nf-call-iptables").read_text() == "1"
    assert (tmp_path / "bridge" / "bridge-nf-call-ip6tables").read_text() == "1"
    firewall(nft).add_network(NetworkRules("n", "dy-n", ipaddress.ip_network("10.9.0.0/24")))
    assert not any('oifname "dy-n" drop' in c for c in nft.batches[-1])


def test_publishing_and_unpublishing_need_no_listing(firewall):
    nft = RecordingNft()
    fw = firewall(nft)
    fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP), PortRequest(53, Proto.UDP)])
    fw.publish("c2", "10.9.0.3", [PortRequest(80, Proto.TCP, "127.0.0.1", 8080, 8080)])
    assert nft.elements == {
        ("ip", "0.0.0.0/0 . tcp . 100"): "ctr:c1",
        ("ip", "0.0.0.0/0 . udp . 100"): "ctr:c1",
        ("ip", "127.0.0.1 . tcp . 8080"): "ctr:c2",
    }
    fw.unpublish("c1")
    fw.unpublish("never-published")
    assert nft.elements == {("ip", "127.0.0.1 . tcp . 8080"): "ctr:c2"} and nft.listings == 0


def test_an_element_gone_behind_its_back_makes_it_read_the_maps(firewall):
    nft = RecordingNft()
    fw = firewall(nft)
    fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP), PortRequest(81, Proto.TCP)])
    del nft.elements[("ip", "0.0.0.0/0 . tcp . 100")]
    fw.unpublish("c1")
    assert nft.elements == {} and nft.listings == 2 and fw.allocator.held("c1") == []


def test_a_rule_gone_behind_its_back_makes_it_read_the_tables(firewall):
    nft = RecordingNft()
    fw = firewall(nft)
    fw.add_network(NetworkRules("i", "dy-i", ipaddress.ip_network("10.9.0.0/24"), internal=True))
    assert nft.listings == 2  # the ip and ip6 tables, once
    nft.rules = [(family, chain, handle + 1000, comment) for family, chain, handle, comment in nft.rules]
    fw.remove_network("i")
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
        firewall(nft).remove_network("n")


def test_the_kernel_serves_what_it_can_and_leaves_loopback_and_family_changes_to_the_proxy():
    mappings = [
        PortMapping(80, Proto.TCP, "0.0.0.0", 8080),
        PortMapping(80, Proto.TCP, "::", 8080),
        PortMapping(80, Proto.TCP, "::1", 8081),
        PortMapping(80, Proto.UDP, "fd00::2", 8082),
    ]
    assert publish_elements("c", "10.9.0.2", mappings, container_ip6="fd09::2") == [
        ("ip", "0.0.0.0/0 . tcp . 8080", 'comment "ctr:c" : 10.9.0.2 . 80'),
        ("ip6", "::/0 . tcp . 8080", 'comment "ctr:c" : fd09::2 . 80'),
        ("ip6", "fd00::2 . udp . 8082", 'comment "ctr:c" : fd09::2 . 80'),
    ]
    assert [family for family, _, _ in publish_elements("c", "10.9.0.2", mappings)] == ["ip"]


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


def test_a_publish_failing_after_its_elements_went_in_takes_them_out_again(tmp_path):
    nft = RecordingNft()
    fw = Firewall(
        PortAllocator((100, 200), ClosedSocket), nft=nft, table="dockyard-unit", proc_net=str(tmp_path), ipv6=True
    )
    try:
        with pytest.raises(OSError):
            fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP)])
        assert nft.elements == {}
        assert fw.allocator.held("c1") == []
    finally:
        fw.close()


def test_keys_read_back_from_nft_json_are_written_as_nft_takes_them():
    assert key_from_json([{"prefix": {"addr": "0.0.0.0", "len": 0}}, "tcp", 8080]) == "0.0.0.0/0 . tcp . 8080"
    assert key_from_json(["fd00::2", "udp", 53]) == "fd00::2 . udp . 53"
    assert key_from_json([{"range": ["::2", "::5"]}, "sctp", 9]) == "::2-::5 . sctp . 9"
