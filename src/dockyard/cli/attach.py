"""The terminal side of attach, run and exec: a hijacked connection copied to and from our stdio.

output   the connection -> our stdout/stderr (raw for a TTY, else docker's multiplexed frames)
input    our stdin -> the connection, in a thread; at EOF the write side is shut down (half-close)
         so the daemon sees the end of input and output still flows
terminal raw mode while attached to a TTY, the size sent on start and on SIGWINCH
detach   ctrl-p ctrl-q (or --detach-keys) on a TTY leaves the container running
signals  --sig-proxy forwards the signals we receive to the container (non-TTY)
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

from dockyard.cli.client import APIError, Client, Response, demux
from dockyard.cli.tls import half_close

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
UNPROXIED = {signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG, signal.SIGWINCH, signal.SIGKILL, signal.SIGSTOP}


def parse_detach_keys(text: str | None) -> bytes:
    """docker's --detach-keys: "ctrl-<letter>", "ctrl-@", "ctrl-[" ... or single characters, comma-separated."""
    keys = bytearray()
    for key in (text or DEFAULT_DETACH_KEYS).split(","):
        if len(key) == 1:
            keys.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6:
            letter = key[5].lower()
            if "a" <= letter <= "z":
                keys.append(ord(letter) - ord("a") + 1)
            elif letter in "@[\\]^_":
                keys.append("@[\\]^_".index(letter) + (0 if letter == "@" else 26))
            else:
                raise ValueError(f"Unknown character: '{key}'")
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(keys)


class Attached:
    """One attached session; run() returns when the output ends or the user detaches."""

    def __init__(
        self,
        client: Client,
        response: Response,
        *,
        tty: bool,
        stdin: bool,
        detach_keys: bytes,
        resize_path: str | None = None,
    ) -> None:
        self.client = client
        self.response = response
        self.tty = tty
        self.stdin = stdin
        self.detach_keys = detach_keys
        self.resize_path = resize_path  # "/containers/ID/resize" or "/exec/ID/resize"
        self.detached = False

    def run(self) -> None:
        terminal = self.tty and self.stdin and os.isatty(0)
        saved = None
        if terminal:
            import termios
            import tty

            saved = termios.tcgetattr(0)
            # TCSANOW, as docker's MakeRaw: the default TCSAFLUSH would drop what was typed before we got here.
            tty.setraw(0, termios.TCSANOW)
        if self.tty and self.resize_path and os.isatty(1):
            self.resize()
            signal.signal(signal.SIGWINCH, lambda *_: self.resize())
        try:
            if self.stdin:
                threading.Thread(target=self._copy_input, daemon=True).start()
            self._copy_output()
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(0, termios.TCSADRAIN, saved)

    def resize(self) -> None:
        try:
            size = os.get_terminal_size(1)
            self.client.call("POST", self.resize_path, {"h": size.lines, "w": size.columns})
        except (OSError, APIError):
            pass  # a daemon without resize, or a session already ended: the size is only a nicety

    def _copy_output(self) -> None:
        chunks = self.response.raw()
        if self.tty:
            out = sys.stdout.buffer
            for data in chunks:
                out.write(data)
                out.flush()
            return
        streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
        for kind, data in demux(chunks):
            stream = streams.get(kind, sys.stdout.buffer)
            stream.write(data)
            stream.flush()

    def _copy_input(self) -> None:
        sock = self.response.sock
        matched = 0
        try:
            while data := os.read(0, 32768):
                if self.tty and self.detach_keys:
                    for byte in data:
                        matched = matched + 1 if byte == self.detach_keys[matched] else int(byte == self.detach_keys[0])
                        if matched == len(self.detach_keys):
                            self.detached = True
                            sock.shutdown(socket.SHUT_RDWR)
                            return
                sock.sendall(data)
            half_close(sock)
        except OSError:
            pass  # the daemon closed the connection: the output side ends the session


class SignalProxy:
    """Forwards the signals this process gets to the container (docker's --sig-proxy, non-TTY)."""

    def __init__(self, client: Client, container: str) -> None:
        self.client = client
        self.container = container
        self.saved: dict[int, object] = {}

    def __enter__(self) -> SignalProxy:
        for sig in signal.valid_signals():
            if sig in UNPROXIED or not isinstance(sig, signal.Signals):
                continue
            try:
                self.saved[sig] = signal.signal(sig, self._forward)
            except (OSError, ValueError):
                continue
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)

    def _forward(self, signum: int, _frame) -> None:
        try:
            self.client.call("POST", f"/containers/{self.container}/kill", {"signal": str(signum)})
        except APIError:
            pass  # the container is already gone
