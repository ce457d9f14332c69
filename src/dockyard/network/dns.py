"""The embedded DNS server: 127.0.0.11:53 inside every container on a user-defined network.

One asyncio server in the daemon serves every container. For each container it
holds a UDP socket and a listening TCP socket bound to 127.0.0.11:53 *inside the
container's network namespace*: they are created by a thread that has joined the
namespace (kernel.netns) and then used from the event loop like any socket. So
no iptables redirection is needed (docker DNATs 127.0.0.11:53 to random ports),
and since each socket belongs to one container the server knows who asks without
looking at source addresses.

    dns = EmbeddedDns(backend)                   # backend: a DnsBackend (dns_answer.py)
    await dns.serve(container_id, netns_path)    # after the container's netns exists
    await dns.stop(container_id)                 # when it leaves its last user network
    await dns.close()                            # daemon shutdown

From a worker thread, run these coroutines on the daemon's loop
(asyncio.run_coroutine_threadsafe) and wait for them.

A socket holds a reference to its namespace: while served, a container's
namespace outlives its handle and its last process. stop() must come with the
teardown of the container's sandbox, or the namespace (with lo, and any
interface still in it) lingers until the daemon exits.

serve() on a container already served replaces its sockets, which is also how a
restarted daemon takes over running containers: the old sockets died with the
old daemon, new ones are created from the netns handle.

Queries for Dockyard's names are answered from the backend (dns_answer.py);
others are forwarded (dns_forward.py) from the *daemon's* namespace, not the
container's. That is deliberate: the host's loopback resolvers (systemd-resolved
on 127.0.0.53, a local dnsmasq) are reachable from there, where docker has to
flag them and hop namespaces for each query. It also means a container's
network policy does not apply to forwarded queries: the backend gives no
upstreams to a container that must not reach outside (--internal), which then
gets SERVFAIL for foreign names as in docker.

Queries for our names are answered within the datagram callback; forwarded ones
and TCP connections become tasks, at most MAX_IN_FLIGHT per container (docker's
maxConcurrent): beyond that UDP queries are dropped and the client retries.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from dnslib import DNSRecord

from dockyard.errors import Internal, NotFound
from dockyard.kernel.netns import run_in_netns
from dockyard.network.dns_answer import (
    DnsBackend,
    failure,
    local_answer,
    max_reply_size,
    pack_to_fit,
    parse_query,
)
from dockyard.network.dns_forward import TIMEOUT, forward
from dockyard.network.resolvconf import EMBEDDED_NAMESERVER, Upstream

log = logging.getLogger(__name__)

PORT = 53
MAX_IN_FLIGHT = 1024
TCP_IDLE_TIMEOUT = 10.0  # seconds a client's TCP connection may sit between queries


class EmbeddedDns:
    """The embedded DNS server of one daemon. See the module docstring."""

    def __init__(self, backend: DnsBackend, *, timeout: float = TIMEOUT) -> None:
        self._backend = backend
        self._timeout = timeout
        self._listeners: dict[str, _Listener] = {}
        self._lock = asyncio.Lock()

    def serving(self) -> set[str]:
        """The ids of the containers being served."""
        return set(self._listeners)

    async def serve(self, container_id: str, netns_path: str) -> None:
        """Listen on 127.0.0.11:53 (UDP and TCP) in the network namespace at netns_path
        for container_id, replacing any sockets it had. The namespace's lo must be up.

        Raises NotFound when netns_path does not exist, Internal when the sockets cannot
        be made (the step and the errno say why)."""
        async with self._lock:
            await self._stop(container_id)
            try:
                udp, tcp = await asyncio.to_thread(run_in_netns, netns_path, _open_sockets)
            except FileNotFoundError as exc:
                raise NotFound(f"network namespace {netns_path} of container {container_id} not found") from exc
            except OSError as exc:
                raise Internal(f"embedded DNS for container {container_id} in {netns_path}: {exc}") from exc
            listener = _Listener(self, container_id)
            try:
                await listener.start(udp, tcp)
            except BaseException:
                udp.close()
                tcp.close()
                await listener.close()
                raise
            self._listeners[container_id] = listener

    async def stop(self, container_id: str) -> None:
        """Close container_id's sockets and drop its queries in flight; nothing if not served."""
        async with self._lock:
            await self._stop(container_id)

    async def close(self) -> None:
        async with self._lock:
            for container_id in list(self._listeners):
                await self._stop(container_id)

    async def _stop(self, container_id: str) -> None:
        listener = self._listeners.pop(container_id, None)
        if listener is not None:
            await listener.close()

    async def resolve(self, container_id: str, packet: bytes, *, tcp: bool) -> bytes | None:
        """The reply to one query packet from container_id, or None to drop it."""
        reply = self.answer(container_id, packet, tcp=tcp)
        return await reply.forward() if isinstance(reply, _Forward) else reply

    def answer(self, container_id: str, packet: bytes, *, tcp: bool) -> bytes | _Forward | None:
        """The reply to packet when it can be given at once (our names, garbage dropped as
        None, SERVFAIL without upstreams), else the forwarding still to await. Most queries
        in a compose project are for its own names: they never leave the datagram callback."""
        query = parse_query(packet)
        if query is None:
            return None
        limit = max_reply_size(query, tcp)
        reply = local_answer(query, container_id, self._backend)
        if reply is not None:
            return pack_to_fit(reply, limit, tcp)
        upstreams = self._backend.upstreams(container_id)
        if not upstreams:
            return failure(query).pack()
        return _Forward(query, packet, upstreams, tcp, limit, self._timeout)


@dataclass(frozen=True)
class _Forward:
    query: DNSRecord
    packet: bytes
    upstreams: Sequence[Upstream]
    tcp: bool
    limit: int
    timeout: float

    async def forward(self) -> bytes:
        answer = await forward(self.query, self.packet, self.upstreams, tcp=self.tcp, timeout=self.timeout)
        if answer is None:
            return failure(self.query).pack()
        data, record = answer
        # After the TCP retry of a truncated reply, it may exceed what the client takes over UDP.
        return data if len(data) <= self.limit else pack_to_fit(record, self.limit, self.tcp)


def _open_sockets() -> tuple[socket.socket, socket.socket]:
    """The UDP and TCP sockets bound to 127.0.0.11:53, in the calling thread's netns."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((EMBEDDED_NAMESERVER, PORT))
        # A restarted daemon rebinds while the old connections may sit in TIME_WAIT.
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((EMBEDDED_NAMESERVER, PORT))
        tcp.listen(128)
    except OSError as exc:
        udp.close()
        tcp.close()
        hint = " (is lo up in the namespace?)" if exc.errno == errno.EADDRNOTAVAIL else ""
        raise OSError(exc.errno, f"bind {EMBEDDED_NAMESERVER}:{PORT}: {exc.strerror}{hint}") from None
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


class _Listener:
    """The sockets of one container and the queries in flight on them."""

    def __init__(self, dns: EmbeddedDns, container_id: str) -> None:
        self._dns = dns
        self.container_id = container_id
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_closed: asyncio.Future[None] | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, udp: socket.socket, tcp: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self, closed), sock=udp)
        self._udp_closed = closed
        self._tcp = await asyncio.start_server(self._serve_connection, sock=tcp)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if len(self._tasks) >= MAX_IN_FLIGHT:
            coroutine.close()
            return
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def datagram(self, packet: bytes, address: tuple) -> None:
        try:
            reply = self._dns.answer(self.container_id, packet, tcp=False)
        except Exception:
            log.exception("embedded DNS: query from container %s failed", self.container_id)
            return
        if isinstance(reply, _Forward):
            self._spawn(self._send_forwarded(reply, address))
        elif reply is not None:
            self._send(reply, address)

    async def _send_forwarded(self, pending: _Forward, address: tuple) -> None:
        try:
            reply = await pending.forward()
        except Exception:
            log.exception("embedded DNS: forwarding for container %s failed", self.container_id)
            return
        self._send(reply, address)

    def _send(self, reply: bytes, address: tuple) -> None:
        if self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(reply, address)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= MAX_IN_FLIGHT:
            writer.close()
            return
        self._tasks.add(task)
        try:
            # RFC 7766: several queries may come on one connection, each behind a 2-byte length.
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                packet = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", header)[0]), TCP_IDLE_TIMEOUT)
                reply = await self._resolve(packet, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or went quiet: nothing to answer
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _resolve(self, packet: bytes, tcp: bool) -> bytes | None:
        try:
            return await self._dns.resolve(self.container_id, packet, tcp=tcp)
        except Exception:
            # One bad query (or a backend bug) must not take the server down for everyone.
            log.exception("embedded DNS: query from container %s failed", self.container_id)
            return None

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp_closed is not None:
            # The transport closes its socket a loop iteration later; a serve() again right
            # after must find the port free.
            await self._udp_closed
        if self._tcp is not None:
            await self._tcp.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: _Listener, closed: asyncio.Future[None]) -> None:
        self._listener = listener
        self._closed = closed

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self._listener.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error about an earlier reply (the client's port closed): nothing to do.
        log.debug("embedded DNS for container %s: %s", self._listener.container_id, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
