"""What the embedded DNS server answers itself, with a fake backend and no sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import struct

from dnslib import EDNS0, QTYPE, RCODE, RR, A, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from dockyard.network.dns import EmbeddedDns
from dockyard.network.dns_answer import (
    local_answer,
    max_reply_size,
    pack_to_fit,
    parse_query,
    reverse_address,
)
from dockyard.network.dns_forward import usable
from dockyard.network.resolvconf import Upstream
from support.dns import FakeBackend


def backend() -> FakeBackend:
    fake = FakeBackend()
    fake.add("c1", "web", "172.30.0.2")
    fake.add("c1", "db", "172.30.0.3", "fd00::3")
    fake.add("c1", "pool", *(f"172.30.1.{n}" for n in range(1, 6)))
    fake.add("c1", "v6only", "fd00::9")
    return fake


def answer(name: str, qtype: str = "A", container: str = "c1") -> DNSRecord | None:
    return local_answer(DNSRecord.question(name, qtype), container, backend())


def rdata(reply: DNSRecord | None) -> list[str]:
    assert reply is not None
    return [str(rr.rdata) for rr in reply.rr]


def test_a_record_of_a_container_name_with_docker_ttl():
    reply = answer("web")
    assert rdata(reply) == ["172.30.0.2"]
    assert reply.rr[0].ttl == 600 and reply.header.rcode == RCODE.NOERROR
    assert reply.header.ra == 1 and reply.header.aa == 0 and reply.header.qr == 1


def test_a_backend_may_give_addresses_as_text():
    class TextBackend(FakeBackend):
        def addresses(self, container_id, name):
            return [str(address) for address in super().addresses(container_id, name)]

    text = TextBackend()
    text.add("c1", "db", "172.30.0.3", "fd00::3")
    assert rdata(local_answer(DNSRecord.question("db", "AAAA"), "c1", text)) == ["fd00::3"]


def test_names_match_case_insensitively_with_or_without_trailing_dot_and_echo_the_question():
    for spelling in ("WeB", "web.", "WEB."):
        reply = answer(spelling)
        assert rdata(reply) == ["172.30.0.2"]
        assert str(reply.rr[0].rname).rstrip(".") == spelling.rstrip(".")


def test_aaaa_of_a_name_with_only_ipv4_is_an_empty_noerror_answer():
    reply = answer("web", "AAAA")
    assert reply is not None and reply.rr == [] and reply.header.rcode == RCODE.NOERROR


def test_a_of_a_name_with_only_ipv6_is_an_empty_noerror_answer():
    reply = answer("v6only", "A")
    assert reply is not None and reply.rr == [] and reply.header.rcode == RCODE.NOERROR


def test_aaaa_of_a_dual_stack_name():
    assert rdata(answer("db", "AAAA")) == ["fd00::3"]
    assert rdata(answer("db", "A")) == ["172.30.0.3"]


def test_several_addresses_come_in_shuffled_orders():
    orders = {tuple(rdata(answer("pool"))) for _ in range(60)}
    assert all(sorted(order) == [f"172.30.1.{n}" for n in range(1, 6)] for order in orders)
    assert len(orders) > 1


def test_unknown_names_and_other_containers_names_are_left_to_forwarding():
    assert answer("example.test") is None
    assert answer("web", container="c2") is None
    assert answer("web", "TXT") is None


def test_mx_of_our_name_is_an_empty_answer():
    reply = answer("web", "MX")
    assert reply is not None and reply.rr == [] and reply.header.rcode == RCODE.NOERROR
    assert answer("example.test", "MX") is None


def test_ptr_of_a_container_address():
    assert rdata(answer("2.0.30.172.in-addr.arpa", "PTR")) == ["web."]
    v6 = ipaddress.ip_address("fd00::3").reverse_pointer
    assert rdata(answer(v6, "PTR")) == ["db."]
    assert answer("9.9.9.10.in-addr.arpa", "PTR") is None


def test_reverse_address_parses_only_well_formed_ptr_names():
    assert reverse_address("4.3.2.1.in-addr.arpa") == ipaddress.ip_address("1.2.3.4")
    assert reverse_address(ipaddress.ip_address("fd00::1").reverse_pointer) == ipaddress.ip_address("fd00::1")
    for bad in ("3.2.1.in-addr.arpa", "256.3.2.1.in-addr.arpa", "a.3.2.1.in-addr.arpa", "4.3.2.1.example", ""):
        assert reverse_address(bad) is None


@given(st.integers(0, 2**32 - 1))
def test_reverse_address_inverts_reverse_pointer(value):
    address = ipaddress.IPv4Address(value)
    assert reverse_address(address.reverse_pointer) == address


def test_reply_size_limits_follow_edns():
    plain = DNSRecord.question("web")
    assert max_reply_size(plain, tcp=False) == 512
    assert max_reply_size(plain, tcp=True) == 65535
    edns = DNSRecord.question("web")
    edns.add_ar(EDNS0(udp_len=1232))
    assert max_reply_size(edns, tcp=False) == 1232


def test_a_reply_too_big_for_udp_is_cut_and_marked_truncated():
    reply = DNSRecord.question("many").reply()
    for n in range(100):
        reply.add_answer(RR("many", QTYPE.A, rdata=A(f"10.0.{n // 250}.{n % 250}"), ttl=600))
    packet = pack_to_fit(reply, 512, tcp=False)
    cut = DNSRecord.parse(packet)
    assert len(packet) <= 512 and cut.header.tc == 1 and 0 < len(cut.rr) < 100


def test_malformed_and_non_query_packets_are_dropped():
    assert parse_query(b"") is None
    assert parse_query(b"\x12\x34garbage") is None
    assert parse_query(DNSRecord.question("web").reply().pack()) is None
    no_question = DNSRecord()
    assert parse_query(no_question.pack()) is None
    assert parse_query(DNSRecord.question("web").pack()) is not None


@given(st.binary(max_size=600))
def test_no_packet_makes_the_server_raise(packet):
    reply = asyncio.run(EmbeddedDns(backend()).resolve("c1", packet, tcp=False))
    assert reply is None or DNSRecord.parse(reply).header.qr == 1


@given(
    labels=st.lists(st.binary(min_size=1, max_size=63), min_size=0, max_size=4),
    qtype=st.integers(0, 65535),
    qclass=st.integers(0, 65535),
    flags=st.integers(0, 65535),
)
def test_no_well_framed_query_makes_the_server_raise(labels, qtype, qclass, flags):
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    packet = struct.pack("!6H", 7, flags, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, qclass)
    reply = asyncio.run(EmbeddedDns(backend()).resolve("c1", packet, tcp=False))
    assert reply is None or DNSRecord.parse(reply).header.id == 7


def test_without_upstreams_other_names_get_servfail():
    packet = DNSRecord.question("example.test").pack()
    reply = DNSRecord.parse(asyncio.run(EmbeddedDns(backend()).resolve("c1", packet, tcp=False)))
    assert reply.header.rcode == RCODE.SERVFAIL and str(reply.q.qname) == "example.test."


def test_the_embedded_address_is_never_an_upstream():
    upstreams = [Upstream("127.0.0.11"), Upstream("127.0.0.53"), Upstream("127.0.0.11", 5353)]
    assert usable(upstreams) == [Upstream("127.0.0.53"), Upstream("127.0.0.11", 5353)]
