"""Hijacked connections: the attach and exec streams of the Engine API.

The client asks to upgrade ("Connection: Upgrade", "Upgrade: tcp"); the answer
is 101 and from then on the connection carries the stream itself: raw bytes for
a terminal, else docker's multiplexed frames (an 8-byte header naming stdout or
stderr and the length, then the data). The stream ends when the connection closes.
What the client sends after the 101 is the process's input, raw (hijacked_input);
the client half-closes the connection when its input ends.
"""

from __future__ import annotations

import asyncio
import struct
import time

from aiohttp import web

from dockyard.kernel.sockets import unread_bytes

_STREAMS = {"stdin": 0, "stdout": 1, "stderr": 2}
_HEAD_READ_WAIT = 1.0  # seconds: a client that reads nothing is not waited for longer


class HalfCloseTolerant(asyncio.Protocol):
    """aiohttp's protocol for one connection, except that the client's EOF does not close it.

    The client half-closes a hijacked connection when it has no input to send (the docker CLI
    does, without -i), and still reads the output; asyncio closes a connection on EOF unless the
    protocol's eof_received says otherwise, which aiohttp's does not.
    """

    def __init__(self, inner: asyncio.BaseProtocol) -> None:
        self._inner = inner
        self.input: asyncio.StreamReader | None = None  # set once the connection is hijacked for input

    def connection_made(self, transport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool:
        if self.input is not None:
            self.input.feed_eof()
        return True


class _InputParser:
    """What aiohttp feeds an upgraded connection's bytes to (its set_parser, as for websockets)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


_HIJACKED = web.RequestKey("dockyard.hijacked", web.StreamResponse)  # the stream hijack() answered with


def hijacked_input(request: web.Request) -> asyncio.StreamReader:
    """The client's input on a connection hijack() answered with 101: raw bytes until it half-closes.

    The reader pauses the connection while it holds more than 64 KiB, so a client that types
    faster than the container reads is pushed back on, not buffered without bound.
    """
    reader = asyncio.StreamReader(limit=1 << 16)
    transport = request.transport
    if transport is None or request.protocol is None:
        reader.feed_eof()
        return reader
    reader.set_transport(transport)
    wrapper = transport.get_protocol()
    if isinstance(wrapper, HalfCloseTolerant):
        wrapper.input = reader
    request.protocol.set_parser(_InputParser(reader))  # type: ignore[arg-type]
    return reader


class RawStream(web.StreamResponse):
    """A response whose body is the raw stream itself, after a 101 (or 200) and no length.

    aiohttp would otherwise chunk a body of unknown length; docker's attach protocol is
    the bytes of the stream on the hijacked connection, as aiohttp's own WebSocketResponse
    sends them (it turns the same length check off).

    After a 101 the first write waits until the client has taken the head off the socket:
    docker-py parses the head with a buffered reader, then reads the stream from the raw socket,
    so bytes that arrived together with the head are lost to it. dockerd's slower start hides this
    race; output that is ready at once (the logs of an exited container) shows it.
    """

    def __init__(self, *, status: int, headers: dict, sock=None) -> None:
        super().__init__(status=status, headers=headers)
        self._length_check = False
        self._sock = sock
        self._head_read: asyncio.Future | None = None  # every writer (stdout's, stderr's) waits for it

    async def write(self, data) -> None:
        if self._sock is not None:
            if self._head_read is None:
                self._head_read = asyncio.ensure_future(_client_read_head(self._sock))
            await asyncio.shield(self._head_read)
        await super().write(data)


def frame(stream: str, data: bytes) -> bytes:
    """docker's multiplexed stream: [stream, 0, 0, 0, big-endian length] then the payload."""
    return struct.pack(">BxxxI", _STREAMS[stream], len(data)) + data


async def hijack(request: web.Request, *, tty: bool) -> web.StreamResponse:
    """Answer the upgrade (or a plain 200, for clients that do not ask) and return the stream to write to."""
    if request.transport is not None:
        request.transport.set_protocol(HalfCloseTolerant(request.transport.get_protocol()))
    content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    headers = {"Content-Type": content_type, **({"Connection": "Upgrade", "Upgrade": "tcp"} if upgrade else {})}
    sock = request.transport.get_extra_info("socket") if upgrade and request.transport is not None else None
    response = RawStream(status=101 if upgrade else 200, headers=headers, sock=sock)
    await response.prepare(request)
    request[_HIJACKED] = response
    return response


async def _client_read_head(sock) -> None:
    """Wait until the client has read what was sent so far (the head), at most _HEAD_READ_WAIT."""
    deadline = time.monotonic() + _HEAD_READ_WAIT
    while time.monotonic() < deadline:
        try:
            if unread_bytes(sock.fileno()) == 0:
                return
        except OSError:
            return
        await asyncio.sleep(0.001)


def abandon_hijack(request: web.Request) -> web.StreamResponse | None:
    """For a handler that failed after hijack() answered: no second answer can be sent, so the connection
    ends (the client sees its stream close instead of waiting on it forever) and the stream is returned.
    None if the request was never hijacked."""
    response = request.get(_HIJACKED)
    return None if response is None else end_hijack(request, response)


def end_hijack(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if request.transport is not None:
        request.transport.close()  # the hijacked connection ends with the stream
    return response
