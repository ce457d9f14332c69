"""A handler that fails after hijacking its connection: the client's stream ends, it is not left waiting."""

from __future__ import annotations

import asyncio

from aiohttp import web

from dockyard.api.errors import errors
from dockyard.api.hijack import hijack


async def _failing_attach(request: web.Request) -> web.StreamResponse:
    response = await hijack(request, tty=False)
    await response.write(b"some output\n")
    raise FileNotFoundError("the log went away")  # a bug after the 101: nothing more can be answered


async def _exchange(socket_path: str) -> bytes:
    reader, writer = await asyncio.open_unix_connection(socket_path)
    writer.write(b"POST /attach HTTP/1.1\r\nHost: dockyard\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), timeout=10)  # until the server closes
    finally:
        writer.close()


def test_a_handler_failing_after_the_hijack_ends_the_connection(tmp_path):
    async def scenario() -> bytes:
        app = web.Application(middlewares=[errors])
        app.router.add_post("/attach", _failing_attach)
        runner = web.AppRunner(app)
        await runner.setup()
        socket_path = str(tmp_path / "api.sock")
        await web.UnixSite(runner, socket_path).start()
        try:
            return await _exchange(socket_path)
        finally:
            await runner.cleanup()

    received = asyncio.run(scenario())
    assert received.startswith(b"HTTP/1.1 101")
    assert b"some output" in received
    assert b"internal error" not in received  # no second answer written into the stream
