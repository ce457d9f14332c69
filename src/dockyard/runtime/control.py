"""The control channel between the daemon and a container's shim: input, window size, end of input.

The shim listens on `control.sock` in its state directory; the daemon connects
once per attach that sends input (and briefly for a resize) and writes frames:

    daemon                                  shim
      │ connect <state dir>/control.sock      │ (bound before the container starts)
      │ ── STDIN  <bytes> ──────────────────▶ │ written to the container's stdin pipe or pty
      │ ── RESIZE rows, columns ────────────▶ │ TIOCSWINSZ on the pty master
      │ ── CLOSE_STDIN ─────────────────────▶ │ the stdin pipe is closed once drained (StdinOnce)
      │ close (or the daemon dies) ─────────▶ │ nothing happens to the container

A frame is a 1-byte kind, a 4-byte big-endian length and the payload. Nothing
flows back: output reaches clients through the log, so a connection lost with
the daemon loses no output, and a daemon that comes back simply connects again
(live restore).

The socket's path is reached through /proc/self/fd/<dir fd>: the state
directory's own path can be longer than a unix socket address allows (108 bytes).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator

STDIN, RESIZE, CLOSE_STDIN = 1, 2, 3
SOCKET_NAME = "control.sock"
_HEADER = struct.Struct(">BI")
_SIZE = struct.Struct(">HH")
MAX_PAYLOAD = 1 << 16


@contextlib.contextmanager
def short_path(directory: str) -> Iterator[str]:
    """A path to directory/control.sock short enough for a unix socket address, valid inside the block."""
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET_NAME}"
    finally:
        os.close(fd)


def listen(directory: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with short_path(directory) as path:
        listener.bind(path)
    os.chmod(os.path.join(directory, SOCKET_NAME), 0o600)
    listener.listen(16)
    return listener


def connect(directory: str) -> socket.socket:
    """Connect to a shim's control socket; OSError (FileNotFoundError, ConnectionRefusedError) if none listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with short_path(directory) as path:
            sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def stdin_frames(data: bytes) -> bytes:
    return b"".join(
        _HEADER.pack(STDIN, len(chunk)) + chunk
        for chunk in (data[i : i + MAX_PAYLOAD] for i in range(0, len(data), MAX_PAYLOAD))
    )


def resize_frame(rows: int, columns: int) -> bytes:
    return _HEADER.pack(RESIZE, _SIZE.size) + _SIZE.pack(rows, columns)


def close_stdin_frame() -> bytes:
    return _HEADER.pack(CLOSE_STDIN, 0)


def parse_frames(buffer: bytearray) -> Iterator[tuple[int, bytes]]:
    """The complete frames at the start of buffer, removed from it as they are taken.

    Raises ValueError for a frame no daemon sends (the connection is then dropped).
    """
    while len(buffer) >= _HEADER.size:
        kind, length = _HEADER.unpack_from(buffer)
        if kind not in (STDIN, RESIZE, CLOSE_STDIN) or length > MAX_PAYLOAD:
            raise ValueError(f"bad control frame: kind {kind}, length {length}")
        if len(buffer) < _HEADER.size + length:
            return
        payload = bytes(buffer[_HEADER.size : _HEADER.size + length])
        del buffer[: _HEADER.size + length]
        yield kind, payload


def parse_size(payload: bytes) -> tuple[int, int]:
    return _SIZE.unpack(payload)
