"""Hijacked connections: the attach and exec streams of the Engine API.

The client asks to upgrade ("Connection: Upgrade", "Upgrade: tcp"); the answer
is 101 and from then on the connection carries the stream itself: raw bytes for
a terminal, else docker's multiplexed frames (an 8-byte header naming stdout or
stderr and the length, then the data). The stream ends when the connection closes.
"""

from __future__ import annotations

import asyncio
import struct

from aiohttp import web

_STREAMS = {"stdin": 0, "stdout": 1, "stderr": 2}


class HalfCloseTolerant(asyncio.Protocol):
    """aiohttp's protocol for one connection, except that the client's EOF does not close it.

    The client half-closes a hijacked connection when it has no input to send (the docker CLI
    does, without -i), and still reads the output; asyncio closes a connection on EOF unless the
    protocol's eof_received says otherwise, which aiohttp's does not.
    """

    def __init__(self, inner: asyncio.BaseProtocol) -> None:
        self._inner = inner

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
        return True


class RawStream(web.StreamResponse):
    """A response whose body is the raw stream itself, after a 101 (or 200) and no length.

    aiohttp would otherwise chunk a body of unknown length; docker's attach protocol is
    the bytes of the stream on the hijacked connection, as aiohttp's own WebSocketResponse
    sends them (it turns the same length check off).
    """

    def __init__(self, *, status: int, headers: dict) -> None:
        super().__init__(status=status, headers=headers)
        self._length_check = False


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
    response = RawStream(status=101 if upgrade else 200, headers=headers)
    await response.prepare(request)
    return response


def end_hijack(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if request.transport is not None:
        request.transport.close()  # the hijacked connection ends with the stream
    return response
