"""A trivial Engine API server that answers the requests of `docker exec CONTAINER true` and does nothing:
the docker CLI timed against it is the floor of any engine's `docker exec` (the CLI's own start-up,
its five requests and their round trips), which bench/engine.py subtracts to show each daemon's share.

The requests, as docker 28 makes them: HEAD /_ping, GET /containers/{id}/json, POST
/containers/{id}/exec, POST /exec/{id}/start (upgraded: an empty stream), GET /exec/{id}/json.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

_EXEC_ID = "0" * 64


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the CLI expects

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  the base class's name
        pass

    def _answer(self, status: int, body: dict | None = None, **headers: str) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in {"Api-Version": "1.50", "Ostype": "linux", "Content-Type": "application/json",
                            "Content-Length": str(len(payload)), **headers}.items():  # fmt: skip
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_HEAD(self) -> None:
        self._answer(200)

    def do_GET(self) -> None:
        if self.path.endswith("/_ping"):
            self._answer(200)
        elif self.path.startswith("/v1.50/exec/"):
            self._answer(200, {"ID": _EXEC_ID, "Running": False, "ExitCode": 0, "Pid": 0})
        else:
            self._answer(200, {"Id": self.path.split("/")[-2], "State": {"Running": True}, "Config": {}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/exec"):
            self._answer(201, {"Id": _EXEC_ID})
            return
        self.send_response(101)  # /exec/{id}/start: the upgrade, then a stream that ends at once
        self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "tcp")
        self.end_headers()
        self.close_connection = True


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class StubEngine:
    """with StubEngine(path) as host: docker -H host exec anything true."""

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self._server = _Server(path, _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return f"unix://{self.path}"

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        os.unlink(self.path)
