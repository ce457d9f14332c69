"""The one Engine API client every `dockyard` command uses: HTTP/1.1 over a unix or tcp socket.

Why by hand rather than http.client or docker-py: start-up time is benchmarked, and
`import http.client` costs ~20 ms here (email parsing), docker-py ~137 ms; a command
needs a few requests, JSON bodies, chunked or raw streams and hijacked connections
(attach, exec), which fit in this module.

    client = Client(resolve_host(flag_value))
    client.get_json("/containers/json", {"all": "1"})    # raises APIError / ConnectError
    with client.stream("GET", "/containers/x/logs", {...}) as response:
        for kind, data in demux(response): ...
    sock = client.hijack("/containers/x/attach", {"stream": "1"})  # raw two-way socket

Versions: the first request asks /_ping for the server's API-Version and every later
path is prefixed /v<min(ours, server's)>, as the docker CLI negotiates.
"""

from __future__ import annotations

import _socket
import os

from dockyard import fastjson

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterator

API_VERSION = "1.50"
DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
USER_AGENT = "Dockyard-Client/0.1.0 (linux)"


class ClientError(Exception):
    """Anything the CLI reports as one line and an exit status."""

    status = 1


class NotATerminal(ClientError):
    """-it with an input that is not a terminal: docker refuses before anything is created."""

    def __init__(self) -> None:
        super().__init__("the input device is not a TTY")


def check_tty(stdin: bool, tty: bool) -> None:
    if stdin and tty and not os.isatty(0):
        raise NotATerminal()


class ConnectError(ClientError):
    def __init__(self, host: str) -> None:
        super().__init__(f"Cannot connect to the Dockyard daemon at {host}. Is `dockyard daemon` running?")


class APIError(ClientError):
    """The daemon answered with an error status; message is its JSON "message"."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"Error response from daemon: {message}")
        self.status_code = status_code
        self.message = message


def resolve_host(flag: str | None = None) -> str:
    """-H wins, then DOCKYARD_HOST, then DOCKER_HOST (so one exported variable serves both CLIs)."""
    return flag or os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def query(params: dict | None) -> str:
    """The query string; lists repeat their key. By hand: urllib.parse imports re (~5 ms of start-up)."""
    pairs = []
    for key, value in (params or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append(f"{_quote(key)}={_quote(str(item))}")
    return "?" + "&".join(pairs) if pairs else ""


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(text: str) -> str:
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


class Response:
    """A response's status and headers; the body is read on demand (whole, chunks, lines)."""

    def __init__(self, sock: _socket.socket, reader, status: int, headers: dict[str, str]) -> None:
        self.sock = sock
        self.reader = reader
        self.status = status
        self.headers = headers  # lower-case names

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives, whatever its framing."""
        if self.status in (204, 304) or self.status < 200:
            return
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.reader.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.reader.readline()
                    return
                data = self.reader.read(size)
                self.reader.readline()
                yield data
        elif "content-length" in self.headers:
            left = int(self.headers["content-length"])
            while left > 0:
                data = self.reader.read1(min(left, 65536))
                if not data:
                    return
                left -= len(data)
                yield data
        else:
            while data := self.reader.read1(65536):
                yield data

    def raw(self) -> Iterator[bytes]:
        """A hijacked connection's output until the daemon closes it."""
        while data := self.reader.read1(65536):
            yield data

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def json(self):
        return fastjson.loads(self.read() or b"null")

    def json_lines(self) -> Iterator[dict]:
        """Streams of JSON objects (pull/load progress, events, stats): one per line."""
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield fastjson.loads(line)
        if pending.strip():
            yield fastjson.loads(pending)


class Client:
    def __init__(self, host: str, version: str | None = None, tls=None) -> None:
        """tls: dockyard.cli.tls.TLSOptions for tcp:// hosts, None for plain HTTP."""
        self.host = host
        self.version = version
        self.tls = tls

    def _connect(self) -> _socket.socket:
        scheme, _, address = self.host.partition("://")
        try:
            if scheme == "unix":
                # _socket, not socket: socket.py builds its IntEnums and imports selectors,
                # ~5 ms of every command's start-up, for one connect.
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                sock.connect(address)
            elif scheme in ("tcp", "http", "https"):
                import socket

                hostname, colon, port = address.rstrip("/").rpartition(":")
                if not colon:
                    hostname, port = address.rstrip("/"), ""
                hostname = hostname.strip("[]") or "localhost"
                default_port = 2376 if self.tls else 2375  # docker's ports for TLS and plain
                sock = socket.create_connection((hostname, int(port or default_port)))
                if self.tls:
                    sock = self._handshake(sock, hostname)
            else:
                raise ClientError(f'unable to parse docker host `{self.host}`: unsupported protocol "{scheme}"')
        except OSError as exc:
            raise ConnectError(self.host) from exc
        return sock

    def _handshake(self, sock: _socket.socket, hostname: str) -> _socket.socket:
        try:
            return self.tls.wrap(sock, hostname)
        except OSError as exc:
            sock.close()
            raise ClientError(f"error during connect: {self.host}: tls: {_tls_reason(exc)}") from None

    def api_version(self) -> str:
        if self.version is None:
            with self._send("GET", "/_ping", b"", {}) as response:
                response.read()
                server = response.headers.get("api-version", API_VERSION)
            self.version = min(API_VERSION, server, key=version_tuple)
        return self.version

    def _send(self, method: str, path: str, body, headers: dict[str, str]) -> Response:
        """body: bytes, or a binary file sent as it is read (chunked: stdin has no length)."""
        sock = self._connect()
        lines = [f"{method} {path} HTTP/1.1", "Host: docker", f"User-Agent: {USER_AGENT}"]
        # One request per connection: a body without length then simply ends at EOF.
        headers.setdefault("Connection", "close")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        streamed = hasattr(body, "read")
        if streamed:
            lines.append("Transfer-Encoding: chunked")
        elif body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        try:
            head = ("\r\n".join(lines) + "\r\n\r\n").encode()
            if streamed:
                sock.sendall(head)
                while data := body.read(1 << 16):
                    sock.sendall(b"%x\r\n%b\r\n" % (len(data), data))
                sock.sendall(b"0\r\n\r\n")
            else:
                sock.sendall(head + body)
            # A TLS socket is read through its own methods; a plain one's descriptor reads as a file.
            reader = sock.makefile("rb") if self.tls else open(sock.fileno(), "rb", 65536, closefd=False)  # noqa: SIM115
            status_line = reader.readline()
            if not status_line:
                raise ConnectError(self.host)
            status = int(status_line.split(None, 2)[1])
            response_headers = {}
            while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                response_headers[name.strip().lower()] = value.strip()
        except OSError as exc:
            sock.close()
            raise ConnectError(self.host) from exc
        return Response(sock, reader, status, response_headers)

    def stream(
        self,
        method: str,
        path: str,
        params: dict | None = None,
        body=None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A response whose status was checked (APIError otherwise); the caller reads and closes it.

        body: bytes or a binary file (sent as is, with headers' Content-Type), or anything JSON-serialisable.
        """
        headers = dict(headers or {})
        if body is None:
            data = b""
        elif isinstance(body, bytes) or hasattr(body, "read"):
            data = body
        else:
            data = fastjson.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        response = self._send(method, f"/v{self.api_version()}{path}{query(params)}", data, headers)
        if response.status >= 400:
            with response:
                raise APIError(response.status, error_message(response.read(), response.status))
        return response

    def call(self, method: str, path: str, params: dict | None = None, body=None, headers=None):
        """One request; its JSON answer (None for an empty body)."""
        with self.stream(method, path, params, body, headers) as response:
            return response.json()

    def get_json(self, path: str, params: dict | None = None):
        return self.call("GET", path, params)

    def hijack(self, path: str, params: dict | None = None, body=None) -> Response:
        """POST path asking for the raw two-way connection (attach, exec start).

        Read the output from the response (`raw()`), write input to its socket and half-close
        it (shutdown SHUT_WR) when stdin ends; the framing (raw or multiplexed) follows the
        container's or exec's Tty, which the caller knows.
        """
        return self.stream("POST", path, params, body, {"Connection": "Upgrade", "Upgrade": "tcp"})


# OpenSSL's verify codes for a chain that ends at no trusted root: Go says "signed by unknown authority".
_UNKNOWN_AUTHORITY = {2, 19, 20, 21}


def _tls_reason(exc: OSError) -> str:
    """A failed handshake in the words of Go's crypto/tls, which docker prints, where they differ from OpenSSL's."""
    code = getattr(exc, "verify_code", None)
    if code is not None:
        detail = "certificate signed by unknown authority" if code in _UNKNOWN_AUTHORITY else exc.verify_message
        return f"failed to verify certificate: x509: {detail}"
    return getattr(exc, "reason", None) or str(exc)


def error_message(body: bytes, status: int) -> str:
    try:
        decoded = fastjson.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, dict) and decoded.get("message"):
        return decoded["message"]
    return body.decode(errors="replace").strip() or f"status {status}"


STDIN, STDOUT, STDERR = 0, 1, 2


def demux(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Docker's multiplexed framing: 8-byte header [stream, 0, 0, 0, size big-endian], then the payload."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        while len(pending) >= 8:
            size = int.from_bytes(pending[4:8], "big")
            if len(pending) < 8 + size:
                break
            yield pending[0], pending[8 : 8 + size]
            pending = pending[8 + size :]
