"""A fake Engine API on a unix socket that records what a client sends (to compare CLIs' request bodies).

    with CapturingServer(tmp_path / "api.sock") as server:
        subprocess.run(["docker", "create", "-e", "A=1", "busybox"], env={"DOCKER_HOST": server.host, ...})
        server.requests   # [(method, path, body as bytes)]

It answers /_ping with API version 1.50, /containers/create with a fixed id, and 404 with a JSON message
otherwise.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

CONTAINER_ID = "c0ffee" * 10 + "c0ff"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, body))  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if path.endswith("/_ping"):
            status, answer = 200, b"OK"
        elif path.endswith("/containers/create"):
            status, answer = 201, json.dumps({"Id": CONTAINER_ID, "Warnings": []}).encode()
        else:
            status, answer = 404, json.dumps({"message": f"not served here: {path}"}).encode()
        self.send_response(status)
        self.send_header("Api-Version", "1.50")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", "application/json" if answer.startswith(b"{") else "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _answer


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


class CapturingServer:
    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.server = _Server(self.path, _Handler)
        self.server.requests = []  # type: ignore[attr-defined]

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    @property
    def requests(self) -> list[tuple[str, str, bytes]]:
        return self.server.requests  # type: ignore[attr-defined]

    def create_body(self) -> tuple[str, dict]:
        """The query and the JSON body of the last POST /containers/create."""
        for method, path, body in reversed(self.requests):
            if method == "POST" and "/containers/create" in path:
                return path.partition("?")[2], json.loads(body)
        raise AssertionError(f"no create request among {[(m, p) for m, p, _ in self.requests]}")

    def __enter__(self) -> CapturingServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)
