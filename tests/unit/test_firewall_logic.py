"""The Firewall's bookkeeping against a recording stand-in for the nft command.

What the rules do to packets is proved with real traffic in tests/integration/test_firewall.py; here: which
rules a change deletes, that a failed transaction gives the host ports back, which foreign chains are reported.
"""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.errors import Internal, Unavailable
from dockyard.network.nftables import Firewall, NetworkRules
from dockyard.network.ports import PortAllocator, PortRequest, Proto


class RecordingNft:
    def __init__(self, rules=(), chains=(), fail=False):
        self.rules = list(rules)  # (chain, handle, comment)
        self.chains = list(chains)
        self.fail = fail
        self.batches: list[list[str]] = []

    def apply(self, batch):
        if self.fail:
            raise Internal("nft -f -: Error: Could not process rule")
        self.batches.append(list(batch))

    def list_table(self, table):
        items = [{"table": {"family": "ip", "name": table}}]
        items += [{"rule": {"chain": c, "handle": h, "comment": m}} for c, h, m in self.rules]
        items.append({"rule": {"chain": "prerouting", "handle": 1, "expr": []}})
        return items

    def list_chains(self):
        return self.chains


class NoSocket:
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
        return Firewall(PortAllocator((100, 200), NoSocket), nft=nft, table="dockyard-unit", proc_net=str(tmp_path))

    return make


def test_reconcile_deletes_the_rules_of_everything_not_live(firewall):
    nft = RecordingNft(
        rules=[
            ("nat_out", 7, "net:a"),
            ("nat_out", 8, "net:gone"),
            ("published", 9, "ctr:c1"),
            ("published", 10, "ctr:x"),
        ]
    )
    removed = firewall(nft).reconcile(live_networks=["a"], live_containers=["c1"])
    assert removed == ["ctr:x", "net:gone"]
    assert nft.batches[-1] == [
        "delete rule ip dockyard-unit nat_out handle 8",
        "delete rule ip dockyard-unit published handle 10",
    ]


def test_adding_a_network_again_replaces_its_rules_in_one_transaction(firewall):
    nft = RecordingNft(rules=[("isolation", 4, "net:i"), ("isolation", 5, "net:i"), ("isolation", 6, "net:j")])
    firewall(nft).add_network(NetworkRules("i", "dy-i", ipaddress.ip_network("10.9.0.0/24"), internal=True))
    [batch] = nft.batches
    assert batch[:2] == [
        "delete rule ip dockyard-unit isolation handle 4",
        "delete rule ip dockyard-unit isolation handle 5",
    ]
    assert len(batch) == 4 and all('comment "net:i"' in command for command in batch[2:])


def test_a_failed_publish_gives_the_host_ports_back(firewall):
    fw = firewall(RecordingNft(fail=True))
    with pytest.raises(Internal):
        fw.publish("c1", "10.9.0.2", [PortRequest(80, Proto.TCP, "", 8080, 8080)])
    assert fw.allocator.held("c1") == []


def test_changes_without_setup_say_so(firewall):
    nft = RecordingNft()
    nft.list_table = lambda table: None
    with pytest.raises(Unavailable, match="setup"):
        firewall(nft).unpublish("c1")


def test_foreign_forward_chains_that_drop_are_named(firewall):
    chains = [
        {"family": "ip", "table": "filter", "name": "FORWARD", "hook": "forward", "policy": "drop"},
        {"family": "inet", "table": "fw", "name": "forward", "hook": "forward", "policy": "accept"},
        {"family": "ip", "table": "filter", "name": "INPUT", "hook": "input", "policy": "drop"},
        {"family": "ip", "table": "filter", "name": "DOCKER-USER"},
        {"family": "ip", "table": "dockyard-unit", "name": "forward", "hook": "forward", "policy": "drop"},
    ]
    assert firewall(RecordingNft(chains=chains)).foreign_forward_drops() == ["ip filter FORWARD"]
