"""Detach keys: the key sequence that ends an attach to a terminal and leaves the container running.

docker's syntax (`--detach-keys`, the detachKeys query parameter, DetachKeys of an exec):
comma-separated keys, each a single character or `ctrl-<x>` for x in `@`, `a`-`z`,
`[`, `\\`, `]`, `^`, `_`; the default is `ctrl-p,ctrl-q`.
"""

from __future__ import annotations

from dockyard.errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"
# ctrl-@ is 0, ctrl-a 1 ... ctrl-z 26, then ctrl-[ 27 ... ctrl-_ 31, as in moby/term's table.
_CONTROL = {f"ctrl-{key}": code for code, key in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def parse(text: str | None) -> bytes:
    """The bytes of a detach sequence; the default for None or ""."""
    text = text or DEFAULT
    codes = bytearray()
    for key in text.split(","):
        if key in _CONTROL:
            codes.append(_CONTROL[key])
        elif len(key) == 1 and key.isascii():
            codes += key.encode()
        else:
            raise InvalidParameter(f"Invalid detach keys ({text}) provided")
    return bytes(codes)


class DetachScanner:
    """Finds the detach sequence in a stream of input and holds back what may be its beginning.

    feed() returns the bytes to pass on and whether the sequence was seen; the sequence
    itself is never passed on, and bytes held back as a possible beginning are released
    as soon as the next byte shows they were not one.
    """

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""  # the end of the input so far that begins keys

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for byte in data:
            held = self.held + bytes((byte,))
            while not self.keys.startswith(held):
                out.append(held[0])
                held = held[1:]
            if held == self.keys:
                self.held = b""
                return bytes(out), True
            self.held = held
        return bytes(out), False
