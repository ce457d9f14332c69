"""Bridges between aiohttp's async bodies and the services' blocking file objects.

The services read and write plain blocking streams (a load reads a tar, a save
writes one) and run in a worker thread; these adapters pass the bytes through
bounded queues, so a 1 GB image never sits in memory and a slow client slows
the worker instead of filling the heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import queue
from collections.abc import Callable
from typing import Any, BinaryIO

from aiohttp import web

from dockyard.api.responses import finish

_CHUNK = 1 << 20
_DEPTH = 8
_END = b""


class QueueReader(io.RawIOBase):
    """A blocking reader over chunks that the event loop feeds (b"" ends it)."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | BaseException] = queue.Queue(_DEPTH)
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer and not self._done:
            item = self.chunks.get()
            if isinstance(item, BaseException):
                raise item
            self._buffer = item
            self._done = item == _END
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class QueueWriter(io.RawIOBase):
    """A blocking writer whose chunks the event loop sends on (b"" ends it).

    cancel() (the client went away) makes the next write raise, even one blocked on a full queue.
    """

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes] = queue.Queue(_DEPTH)
        self.cancelled = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if data:
            self._put(bytes(data))
        return len(data)

    def _put(self, chunk: bytes) -> None:
        while True:
            if self.cancelled:
                raise BrokenPipeError("the client closed the connection")
            try:
                self.chunks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def cancel(self) -> None:
        self.cancelled = True

    def close(self) -> None:
        if not self.closed and not self.cancelled:
            self._put(_END)
        super().close()


async def with_request_body(request: web.Request, work: Callable[[BinaryIO], Any]) -> Any:
    """Run work(stream) in a thread, stream reading the request body as it arrives."""
    loop = asyncio.get_running_loop()
    reader = QueueReader()
    future = loop.run_in_executor(None, work, io.BufferedReader(reader, _CHUNK))
    try:
        async for chunk in request.content.iter_chunked(_CHUNK):
            if future.done():
                break  # the work failed (or finished) early: stop feeding it
            await loop.run_in_executor(None, reader.chunks.put, chunk)
        if not future.done():
            await loop.run_in_executor(None, reader.chunks.put, _END)
    except BaseException as exc:
        # The client went away: end the worker's stream with the error so it stops and cleans up.
        if not future.done():
            await loop.run_in_executor(None, reader.chunks.put, ConnectionError(f"the request body ended: {exc}"))
        raise
    return await future


async def stream_response(
    request: web.Request, work: Callable[[BinaryIO], None], *, content_type: str
) -> web.StreamResponse:
    """Run work(stream) in a thread and send what it writes as the response body.

    The status is sent once the work has written its first bytes (or finished), so an
    error that comes before any output still becomes a proper error response. An error
    after that can only cut the connection short, which is what dockerd does too.
    """
    loop = asyncio.get_running_loop()
    writer = QueueWriter()

    def run() -> None:
        try:
            buffered = io.BufferedWriter(writer, _CHUNK)
            work(buffered)
            buffered.flush()
        finally:
            writer.close()

    future = loop.run_in_executor(None, run)
    first = await loop.run_in_executor(None, writer.chunks.get)
    if first == _END:
        await future  # raises the work's error, if any, before anything was sent
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    try:
        chunk = first
        while chunk != _END:
            await response.write(chunk)
            chunk = await loop.run_in_executor(None, writer.chunks.get)
        await future
    except BaseException:
        writer.cancel()
        if request.transport is not None:
            request.transport.close()  # the body is incomplete: the client must not take it as whole
        with contextlib.suppress(BaseException):
            await future
        return response
    return await finish(response)
