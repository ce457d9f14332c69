"""The stages of `docker ps -a`: the client's floor and the daemon's own time, for bench/engine.py.

The docker CLI does HEAD /_ping, then GET /v<version>/containers/json?all=1 on one connection.

    Replay(host)       a canned engine on a socket of its own: it answers those two requests with the
                       bytes the engine at host answered, at once, so `docker ps -a` against it is the
                       client's floor (its start-up, its config, decoding and printing those bytes)
    daemon_seconds()   the engine's time for the same two requests on a new connection, from a client
                       that only reads the answer (no docker CLI): what the engine adds to the floor
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time

_PING = b"HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n"
_LIST = b"GET /v%s/containers/json?all=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n"


def _connect(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(host.removeprefix("unix://"))
    return sock


def _read_answer(sock: socket.socket, data: bytes, *, head: bool = False) -> tuple[bytes, bytes]:
    """(the answer, what follows it) from data and what sock still sends; a HEAD answer has no body."""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1 << 16)
    header, _, rest = data.partition(b"\r\n\r\n")
    if head:
        return header + b"\r\n\r\n", rest
    length = next((int(line.split(b":")[1]) for line in header.lower().split(b"\r\n")
                   if line.startswith(b"content-length:")), None)  # fmt: skip
    if length is None:  # chunked, as dockerd sends it
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(1 << 16)
        return header + b"\r\n\r\n" + rest, b""
    while len(rest) < length:
        rest += sock.recv(1 << 16)
    return header + b"\r\n\r\n" + rest[:length], rest[length:]


def _api_version(ping: bytes) -> bytes:
    return next(line.split(b":")[1].strip() for line in ping.split(b"\r\n") if line.lower().startswith(b"api-version:"))


def answers(host: str) -> tuple[bytes, bytes]:
    """The engine's answers to the CLI's two requests, on one connection."""
    with _connect(host) as sock:
        sock.sendall(_PING)
        ping, rest = _read_answer(sock, b"", head=True)
        sock.sendall(_LIST % _api_version(ping))
        listing, _ = _read_answer(sock, rest)
    return ping, listing


def daemon_seconds(host: str) -> float:
    start = time.perf_counter()
    answers(host)
    return time.perf_counter() - start


class Replay:
    """A canned engine answering the ping and the list with host's bytes; `with Replay(host) as canned:`
    gives its DOCKER_HOST."""

    def __init__(self, host: str) -> None:
        self.ping, self.listing = answers(host)
        self.path = os.path.join(tempfile.mkdtemp(prefix="dy-bench-replay-"), "replay.sock")
        self._loop = asyncio.new_event_loop()

    def __enter__(self) -> str:
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        started.wait()
        return f"unix://{self.path}"

    def __exit__(self, *exc_info) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        os.unlink(self.path)
        os.rmdir(os.path.dirname(self.path))

    def _serve(self, started: threading.Event) -> None:
        self._loop.run_until_complete(self._loop.create_unix_server(lambda: _Canned(self), self.path))
        started.set()
        self._loop.run_forever()


class _Canned(asyncio.Protocol):
    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.received = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        while b"\r\n\r\n" in self.received:
            request, _, self.received = self.received.partition(b"\r\n\r\n")
            line = request.split(b"\r\n", 1)[0]
            if b" /_ping " in line:
                self.transport.write(self.replay.ping)
            elif b"/containers/json" in line:
                self.transport.write(self.replay.listing)
            else:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
