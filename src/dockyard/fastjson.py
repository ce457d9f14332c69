"""JSON through CPython's C accelerators, without importing the json package.

Why by hand: `import json` pulls in `re` and `enum` (json.decoder compiles
regular expressions at import), which costs ~10 ms on these machines, a third of
a whole `runc run`. The runtime CLI only needs loads/dumps of plain data, which
the same C scanner and encoder that json uses do alone. orjson is no escape: it
imports dataclasses, uuid and inspect (~30 ms).
"""

from __future__ import annotations

import _json

_WHITESPACE = " \t\n\r"


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _ScannerContext:
    """The attributes _json.make_scanner reads from a json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict = {}  # noqa: RUF012  (read by the C scanner, which keeps its own)


_scan = _json.make_scanner(_ScannerContext())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, True)


class JSONError(ValueError):
    pass


def loads(data: bytes | str) -> object:
    text = data.decode() if isinstance(data, bytes) else data
    text = text.strip(_WHITESPACE)
    try:
        value, end = _scan(text, 0)
    except Exception:
        # The C scanner reports errors through json.decoder, which it expects to be
        # imported already: let the json package parse again for a proper message.
        import json

        try:
            json.loads(text)
        except ValueError as exc:
            raise JSONError(str(exc)) from None
        raise
    if end != len(text):
        raise JSONError(f"extra data at character {end}")
    return value


def dumps(value: object) -> str:
    return "".join(_encode(value, 0))
