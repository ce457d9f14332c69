"""What the embedded DNS server answers itself: the pure part, no sockets.

A query is answered locally when its name belongs to Dockyard (a container name,
alias or service visible from the asking container's networks) and forwarded to
the upstreams otherwise, as docker's resolver (libnetwork/resolver.go) does:

- A / AAAA: every address of the name, shuffled so that clients taking the first
  one spread over the containers sharing an alias; TTL 600. A name that exists
  but has no address of the asked family gets an empty NOERROR answer, never a
  forward: the outside world must not answer for our names.
- MX of one of our names: an empty NOERROR answer (RFC 5321 5.1 "implicit MX").
- PTR of an address of ours: the names the backend gives.
- Anything else (other types, other classes, unknown names) is forwarded.

Names are matched case-insensitively and without the trailing dot; answers echo
the question's own spelling, as resolvers that randomise case (0x20) expect.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from typing import Protocol

from dnslib import AAAA, CLASS, PTR, QTYPE, RCODE, RR, A, DNSHeader, DNSQuestion, DNSRecord

from dockyard.network.resolvconf import Upstream

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

TTL = 600  # docker's respTTL
UDP_MIN_SIZE = 512  # RFC 1035 4.2.1: what a client without EDNS can take
TCP_MAX_SIZE = 65535


class DnsBackend(Protocol):
    """What the embedded DNS server asks the network layer. Called on the event loop
    for every query: answer from memory, never block."""

    def addresses(self, container_id: str, name: str) -> Sequence[IPAddress | str]:
        """Every IPv4 and IPv6 address (objects or their text) that name has on the
        networks of container_id (container names, --network-alias, compose service names;
        "name.network" too if the backend wants). name is lower-case, without the trailing
        dot. Empty when the name is not Dockyard's: the query then goes to the upstreams."""
        ...

    def hostnames(self, container_id: str, address: IPAddress) -> Sequence[str]:
        """The names that address has on the networks of container_id, for PTR queries
        (docker answers one, "<container name>.<network name>"). Empty when the address is
        not Dockyard's: the query is forwarded."""
        ...

    def upstreams(self, container_id: str) -> Sequence[Upstream]:
        """The servers to forward other names to: the container's --dns, else the host's
        resolvers (see resolvconf.container_dns). Empty when the container must not reach
        outside (only on --internal networks): other names then get SERVFAIL, as in docker."""
        ...


def parse_query(packet: bytes) -> DNSRecord | None:
    """The query in packet, or None for anything a server should silently drop: garbage,
    responses (answering them could start a loop between two servers), no question."""
    try:
        record = DNSRecord.parse(packet)
    except Exception:  # dnslib raises a zoo of errors (DNSError, struct.error, UnicodeError…) on garbage
        return None
    if record.header.qr or not record.questions:
        return None
    return record


def local_answer(query: DNSRecord, container_id: str, backend: DnsBackend) -> DNSRecord | None:
    """The answer to query from Dockyard's own names, or None when it must be forwarded."""
    question = query.q
    if question.qclass != CLASS.IN:
        return None
    if question.qtype in (QTYPE.A, QTYPE.AAAA, QTYPE.MX):
        addresses = backend.addresses(container_id, _normalise(question))
        if not addresses:
            return None
        reply = _reply(query)
        if question.qtype == QTYPE.MX:
            return reply
        version, rdata = (4, A) if question.qtype == QTYPE.A else (6, AAAA)
        chosen = [address for address in map(ipaddress.ip_address, addresses) if address.version == version]
        random.shuffle(chosen)
        for address in chosen:
            reply.add_answer(RR(question.qname, question.qtype, rdata=rdata(str(address)), ttl=TTL))
        return reply
    if question.qtype == QTYPE.PTR:
        address = reverse_address(_normalise(question))
        names = backend.hostnames(container_id, address) if address is not None else ()
        if not names:
            return None
        reply = _reply(query)
        for name in names:
            reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(name.rstrip(".") + "."), ttl=TTL))
        return reply
    return None


def failure(query: DNSRecord, rcode: int = RCODE.SERVFAIL) -> DNSRecord:
    reply = _reply(query)
    reply.header.rcode = rcode
    return reply


def max_reply_size(query: DNSRecord, tcp: bool) -> int:
    """How big a reply the client can take: 64 KiB over TCP; over UDP 512 bytes or
    the buffer size its EDNS OPT record announces (RFC 6891 6.2.3, never below 512)."""
    if tcp:
        return TCP_MAX_SIZE
    for record in query.ar:
        if record.rtype == QTYPE.OPT:
            return max(UDP_MIN_SIZE, min(record.rclass, TCP_MAX_SIZE))
    return UDP_MIN_SIZE


def pack_to_fit(reply: DNSRecord, limit: int, tcp: bool) -> bytes:
    """reply in wire format, dropping answers from the end until it fits in limit bytes;
    over UDP a shortened reply says so (TC), so that the client can ask again over TCP
    and clients that cannot still use the records that fit."""
    packet = reply.pack()
    if len(packet) <= limit:
        return packet
    reply.ar = [record for record in reply.ar if record.rtype == QTYPE.OPT]
    reply.auth = []
    if not tcp:
        reply.header.tc = 1
    while len(packet) > limit and reply.rr:
        reply.rr.pop()
        packet = reply.pack()
    return packet


def reverse_address(name: str) -> IPAddress | None:
    """The address a PTR name stands for ("4.3.2.1.in-addr.arpa" -> 1.2.3.4), or None."""
    labels = name.split(".")
    try:
        if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
            octets = [int(label, 10) for label in reversed(labels[:4]) if label.isdigit()]
            return ipaddress.IPv4Address(bytes(octets)) if len(octets) == 4 else None
        if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
            nibbles = "".join(reversed(labels[:32]))
            return ipaddress.IPv6Address(bytes.fromhex(nibbles)) if all(len(n) == 1 for n in labels[:32]) else None
    except ValueError:
        return None
    return None


def _normalise(question: DNSQuestion) -> str:
    return str(question.qname).rstrip(".").lower()


def _reply(query: DNSRecord) -> DNSRecord:
    # As docker's replies: recursion available, not authoritative (we are a forwarder
    # that happens to know some names), the query's id, opcode and RD echoed.
    header = DNSHeader(id=query.header.id, bitmap=query.header.bitmap, qr=1, aa=0, ra=1)
    header.tc = 0
    header.rcode = RCODE.NOERROR
    return DNSRecord(header, q=query.q)
