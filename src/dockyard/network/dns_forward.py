"""Forwarding a query to upstream nameservers, as docker's resolver does.

The upstreams are tried in order, at most three (resolv.conf's MAXNS). A query
that came over UDP goes out over UDP, and when the upstream truncates its reply
it is asked again over TCP, so that the embedded server can hand the client as
much as its buffer takes; a query that came over TCP goes out over TCP. An
upstream that answers SERVFAIL, REFUSED, another error or a non-authoritative
NXDOMAIN (RFC 8020 2) is skipped for the next one; when none gives a good
answer the last reply received is returned, and None when none answered at all.

Each attempt uses a fresh socket with a kernel-chosen port, connected to the
upstream, and a reply only counts if its id and question match the query's:
a spoofer has to guess both the port and the id.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import Awaitable, Callable, Sequence

from dnslib import RCODE, DNSRecord

from dockyard.network.resolvconf import EMBEDDED_NAMESERVER, Upstream

MAX_UPSTREAMS = 3
TIMEOUT = 4.0  # seconds per upstream and protocol, docker's extIOTimeout


async def forward(
    query: DNSRecord, packet: bytes, upstreams: Sequence[Upstream], *, tcp: bool, timeout: float = TIMEOUT
) -> tuple[bytes, DNSRecord] | None:
    """The reply to packet (whose parsed form is query) from the first upstream that
    answers well: its wire format, untouched, and its parsed form."""
    last = None
    for upstream in usable(upstreams)[:MAX_UPSTREAMS]:
        reply = await _ask(upstream, query, packet, tcp, timeout)
        if reply is None:
            continue
        last = reply
        if _conclusive(reply[1]):
            return reply
    return last


def usable(upstreams: Sequence[Upstream]) -> list[Upstream]:
    """The upstreams without the embedded server's own address: a container whose
    --dns names 127.0.0.11 must not make us forward to ourselves."""
    return [upstream for upstream in upstreams if not _is_embedded(upstream)]


async def _ask(
    upstream: Upstream, query: DNSRecord, packet: bytes, tcp: bool, timeout: float
) -> tuple[bytes, DNSRecord] | None:
    exchange = _exchange_tcp if tcp else _exchange_udp
    reply = await _attempt(exchange, upstream, packet, query, timeout)
    if reply is not None and not tcp and reply[1].header.tc:
        # Should the TCP retry fail, the truncated reply still tells the client what fits.
        reply = await _attempt(_exchange_tcp, upstream, packet, query, timeout) or reply
    return reply


_Reply = tuple[bytes, DNSRecord]
_Exchange = Callable[[Upstream, bytes, DNSRecord], Awaitable[_Reply | None]]


async def _attempt(
    exchange: _Exchange, upstream: Upstream, packet: bytes, query: DNSRecord, timeout: float
) -> _Reply | None:
    try:
        return await asyncio.wait_for(exchange(upstream, packet, query), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None


def _conclusive(reply: DNSRecord) -> bool:
    rcode = reply.header.rcode
    return rcode == RCODE.NOERROR or (rcode == RCODE.NXDOMAIN and bool(reply.header.aa))


async def _exchange_udp(upstream: Upstream, packet: bytes, query: DNSRecord) -> tuple[bytes, DNSRecord] | None:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[bytes | OSError] = asyncio.Queue()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Collector(replies), remote_addr=(upstream.host, upstream.port)
    )
    try:
        transport.sendto(packet)
        while True:  # until a matching reply, or the caller's timeout
            data = await replies.get()
            if isinstance(data, OSError):
                raise data
            record = _matching(data, query)
            if record is not None:
                return data, record
    finally:
        transport.close()


async def _exchange_tcp(upstream: Upstream, packet: bytes, query: DNSRecord) -> tuple[bytes, DNSRecord] | None:
    reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
    try:
        writer.write(struct.pack("!H", len(packet)) + packet)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        data = await reader.readexactly(length)
    finally:
        writer.close()
    record = _matching(data, query)
    return (data, record) if record is not None else None


def _matching(data: bytes, query: DNSRecord) -> DNSRecord | None:
    try:
        record = DNSRecord.parse(data)
    except Exception:  # garbage from upstream is no answer (dnslib raises many kinds)
        return None
    if not record.header.qr or record.header.id != query.header.id:
        return None
    if record.questions and (
        str(record.q.qname).lower() != str(query.q.qname).lower() or record.q.qtype != query.q.qtype
    ):
        return None
    return record


def _is_embedded(upstream: Upstream) -> bool:
    try:
        return ipaddress.ip_address(upstream.host) == ipaddress.ip_address(EMBEDDED_NAMESERVER) and upstream.port == 53
    except ValueError:
        return False


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, replies: asyncio.Queue[bytes | OSError]) -> None:
        self.replies = replies

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected UDP socket an ICMP "port unreachable" comes back as
        # ECONNREFUSED: nobody serves there, so move on now rather than at the timeout.
        if isinstance(exc, OSError):
            self.replies.put_nowait(exc)
