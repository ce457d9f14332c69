"""A trivial Engine API server that answers the requests of `docker exec CONTAINER true` and does nothing:
the docker CLI timed against it is the floor of any engine's `docker exec` (the CLI's own start-up,
its five requests and their round trips), which bench/engine.py subtracts to show each daemon's share.

The requests, as docker 28 makes them: HEAD /_ping, GET /containers/{id}/json, POST
/containers/{id}/exec, POST /exec/{id}/start (upgraded: an empty stream), GET /exec/{id}/json.
It runs as a process of its own on asyncio, so that neither the benchmark's threads nor a thread
per connection add to the floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

_EXEC_ID = "0" * 64
_UPGRADE = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")  # fmt: skip


def _answer(status: str, body: dict | None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = (f"HTTP/1.1 {status}\r\nApi-Version: 1.50\r\nOstype: linux\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")  # fmt: skip
    return head.encode() + payload


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            await reader.readexactly(length)
            if path.endswith("/start"):
                writer.write(_UPGRADE)  # then the stream, which ends at once
                break
            writer.write(_response(method, path))
    except asyncio.IncompleteReadError:
        pass  # the CLI closed its connection
    writer.close()


def _response(method: str, path: str) -> bytes:
    if path.endswith("/_ping"):
        return _answer("200 OK", None)
    if method == "POST":  # /containers/{id}/exec
        return _answer("201 Created", {"Id": _EXEC_ID})
    if path.startswith("/v1.50/exec/"):
        return _answer("200 OK", {"ID": _EXEC_ID, "Running": False, "ExitCode": 0, "Pid": 0})
    return _answer("200 OK", {"Id": path.split("/")[-2], "State": {"Running": True}, "Config": {}})


async def _serve(path: str) -> None:
    server = await asyncio.start_unix_server(lambda r, w: _serve_connection(r, w), path)
    async with server:
        await server.serve_forever()


class StubEngine:
    """with StubEngine(path) as host: docker -H host exec anything true."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._process = subprocess.Popen([sys.executable, __file__, self.path])
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise SystemExit("the stub engine did not start")
            time.sleep(0.01)
        return f"unix://{self.path}"

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()
        if os.path.exists(self.path):
            os.unlink(self.path)


if __name__ == "__main__":
    try:
        asyncio.run(_serve(sys.argv[1]))
    except KeyboardInterrupt:
        pass
