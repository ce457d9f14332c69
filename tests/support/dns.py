"""Helpers for the embedded DNS tests: a scratch network namespace, an event loop in a
thread, a fake backend, a fake upstream nameserver on a loopback address, and a client
that asks from inside a namespace."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
import struct
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dnslib import QTYPE, RCODE, RR, DNSRecord

from dockyard.kernel.netns import run_in_netns
from dockyard.network.resolvconf import Upstream

T = TypeVar("T")


@contextlib.contextmanager
def scratch_netns() -> Iterator[str]:
    """A new network namespace named dy-dnstest-…, lo up; yields its /run/netns path and
    deletes it afterwards, whatever happened."""
    name = f"dy-dnstest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


class LoopThread:
    """An asyncio loop in a thread, so that blocking test code can query servers on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dy-test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class FakeBackend:
    """names: name -> addresses, per container id; upstreams per container id."""

    names: dict[str, dict[str, list[IPAddress]]] = field(default_factory=dict)
    upstream_servers: dict[str, list[Upstream]] = field(default_factory=dict)

    def add(self, container_id: str, name: str, *addresses: str) -> None:
        table = self.names.setdefault(container_id, {})
        table.setdefault(name, []).extend(ipaddress.ip_address(a) for a in addresses)

    def addresses(self, container_id: str, name: str) -> list[IPAddress]:
        return list(self.names.get(container_id, {}).get(name, []))

    def hostnames(self, container_id: str, address: IPAddress) -> list[str]:
        table = self.names.get(container_id, {})
        return [name for name, addresses in table.items() if address in addresses][:1]

    def upstreams(self, container_id: str) -> list[Upstream]:
        return self.upstream_servers.get(container_id, [])


class FakeUpstream:
    """A nameserver on host:port (UDP and TCP) that answers A queries from records.

    mode: "answer", "servfail", "refused", "silent" (never replies), "truncate" (over
    UDP replies with TC and no answers, over TCP with everything) or "truncate-no-tcp"
    (the same, but TCP connections are closed unanswered)."""

    def __init__(self, host: str, records: dict[str, list[str]], mode: str = "answer") -> None:
        self.host = host
        self.records = records
        self.mode = mode
        self.port = 0
        self.queries: list[tuple[str, str]] = []  # (protocol, name)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def upstream(self) -> Upstream:
        return Upstream(self.host, self.port)

    async def start(self, port: int = 0) -> FakeUpstream:
        """On port, or (0) a port free for both protocols; port 53 for a nameserver resolv.conf can name."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, port))
            bound = udp.getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, bound)
            except OSError:
                udp.close()
                continue
            self.port = bound
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UpstreamUdp(self), sock=udp)
            return self
        raise RuntimeError(f"no free port on {self.host}")

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    def reply(self, packet: bytes, tcp: bool) -> bytes | None:
        query = DNSRecord.parse(packet)
        name = str(query.q.qname).rstrip(".").lower()
        self.queries.append(("tcp" if tcp else "udp", name))
        if self.mode == "silent" or (self.mode == "truncate-no-tcp" and tcp):
            return None
        reply = query.reply(ra=1, aa=0)
        if self.mode in ("servfail", "refused"):
            reply.header.rcode = RCODE.SERVFAIL if self.mode == "servfail" else RCODE.REFUSED
        elif name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif self.mode.startswith("truncate") and not tcp:
            reply.header.tc = 1
        elif query.q.qtype == QTYPE.A:
            for address in self.records[name]:
                reply.add_answer(*RR.fromZone(f"{query.q.qname} 60 IN A {address}"))
        return reply.pack()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = self.reply(await reader.readexactly(length), tcp=True)
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        finally:
            writer.close()


class _UpstreamUdp(asyncio.DatagramProtocol):
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.upstream.reply(data, tcp=False)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def ask(
    netns_path: str, query: DNSRecord | bytes | bytearray, *, tcp: bool = False, timeout: float = 10
) -> DNSRecord | None:
    """Send query to 127.0.0.11:53 from inside the namespace; the parsed reply, or None
    when none came within timeout."""
    packet = bytes(query) if isinstance(query, bytes | bytearray) else query.pack()
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with run_in_netns(netns_path, lambda: socket.socket(socket.AF_INET, kind)) as sock:
        sock.settimeout(timeout)
        try:
            if tcp:
                sock.connect(("127.0.0.11", 53))
                sock.sendall(struct.pack("!H", len(packet)) + packet)
                (length,) = struct.unpack("!H", _read_exactly(sock, 2))
                data = _read_exactly(sock, length)
            else:
                sock.sendto(packet, ("127.0.0.11", 53))
                data = sock.recv(65535)
        except TimeoutError:
            return None
    return DNSRecord.parse(data)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed early")
        data += chunk
    return data
