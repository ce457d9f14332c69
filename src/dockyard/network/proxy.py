"""The userland proxy: published ports on the paths the kernel's NAT cannot serve.

The firewall publishes ports with nftables DNAT wherever the kernel can. Two
paths it cannot take, and dockerd serves with its docker-proxy process:

- ``[::1]``: IPv6 has no ``route_localnet``, a packet from ``::1`` never leaves ``lo``;
- IPv6 host addresses (``[::]`` included) of a container that has only an IPv4
  address: NAT does not translate between the families.

For those, every TCP connection or UDP flow that reaches the host port's
reservation socket (bound, and for TCP listening, see ``port_allocator.HostPortSocket``)
is relayed to the container from the host. What the kernel does
DNAT never reaches the socket. One thread runs an asyncio loop for all
proxies; the firewall starts and stops them from any thread. As with
docker-proxy, the container sees the host's address on the bridge as the peer.
Relayed connections end when the daemon does (docker-proxy outlives dockerd).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable

# dockerd's UDP proxy forgets a flow after 90 s without traffic.
UDP_IDLE_SECONDS = 90.0
_BUFFER = 1 << 16


class UserlandProxy:
    """Relays from listening host sockets to container addresses, on a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dockyard-proxy", daemon=True)
        self._thread.start()
        self._stops: dict[int, Callable[[], None]] = {}  # fd of the host socket -> how to stop its relay

    def start(self, host: socket.socket, target: tuple[str, int]) -> None:
        """Relay what reaches host (a listening TCP or bound UDP socket) to target (address, port) until stop(host)."""
        self._call(self._start(host, target))

    def stop(self, host: socket.socket) -> None:
        """Stop relaying from host and close its relayed connections; the socket itself stays the caller's."""
        self._call(self._stop(host.fileno()))

    def close(self) -> None:
        for fd in list(self._stops):
            self._call(self._stop(fd))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _start(self, host: socket.socket, target: tuple[str, int]) -> None:
        host.setblocking(False)
        if host.type == socket.SOCK_STREAM:
            connections: set[asyncio.Task] = set()

            async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                connections.add(task)
                try:
                    await _relay_tcp(reader, writer, target)
                finally:
                    connections.discard(task)

            server = await asyncio.start_server(relay, sock=_Borrowed(host))

            def stop_tcp() -> None:
                server.close()
                for task in connections:
                    task.cancel()

            self._stops[host.fileno()] = stop_tcp
        else:
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _UdpRelay(self._loop, target), sock=_Borrowed(host)
            )
            self._stops[host.fileno()] = transport.close

    async def _stop(self, fd: int) -> None:
        stop = self._stops.pop(fd, None)
        if stop is not None:
            stop()
            await asyncio.sleep(0)  # let the cancelled relays finish


class _Borrowed(socket.socket):
    """The host socket for asyncio, which closes what it is given: closing this copy leaves the original open."""

    def __init__(self, original: socket.socket) -> None:
        super().__init__(original.family, original.type, original.proto, fileno=socket.dup(original.fileno()))
        self.setblocking(False)


async def _relay_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: tuple[str, int]) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        for w in (writer, up_writer):
            w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on (a client's shutdown(SHUT_WR) reaches the server)."""
    with contextlib.suppress(OSError):
        while data := await reader.read(_BUFFER):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


class _UdpRelay(asyncio.DatagramProtocol):
    """One connected socket towards the container per client address, forgotten after UDP_IDLE_SECONDS."""

    def __init__(self, loop: asyncio.AbstractEventLoop, target: tuple[str, int]) -> None:
        self.loop = loop
        self.target = target
        self.host: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple, tuple[asyncio.DatagramTransport, asyncio.TimerHandle]] = {}
        self.opening: dict[tuple, list[bytes]] = {}  # datagrams of flows whose upstream socket is being made

    def connection_made(self, transport) -> None:
        self.host = transport

    def datagram_received(self, data: bytes, client) -> None:
        if client in self.opening:
            self.opening[client].append(data)
            return
        flow = self.flows.get(client)
        if flow is None:
            self.opening[client] = [data]
            self.loop.create_task(self._open(client))
            return
        upstream, timer = flow
        timer.cancel()
        self.flows[client] = (upstream, self.loop.call_later(UDP_IDLE_SECONDS, self._forget, client))
        upstream.sendto(data)

    async def _open(self, client) -> None:
        host = self.host
        try:
            upstream, _ = await self.loop.create_datagram_endpoint(
                lambda: _UdpBack(host, client), remote_addr=self.target
            )
        except OSError:
            self.opening.pop(client, None)
            return
        self.flows[client] = (upstream, self.loop.call_later(UDP_IDLE_SECONDS, self._forget, client))
        for data in self.opening.pop(client, []):
            upstream.sendto(data)

    def _forget(self, client) -> None:
        upstream, _ = self.flows.pop(client)
        upstream.close()

    def connection_lost(self, exc) -> None:
        for upstream, timer in self.flows.values():
            timer.cancel()
            upstream.close()
        self.flows.clear()


class _UdpBack(asyncio.DatagramProtocol):
    """The container's answers, sent back to the client from the host port it wrote to."""

    def __init__(self, host: asyncio.DatagramTransport, client) -> None:
        self.host = host
        self.client = client

    def datagram_received(self, data: bytes, _addr) -> None:
        if not self.host.is_closing():
            self.host.sendto(data, self.client)
