"""Go's literal syntax: quoted strings (strconv.Unquote) and numeric constants (parse.newNumber)."""

from __future__ import annotations

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEX_LENGTH = {"x": 2, "u": 4, "U": 8}
INT64 = 1 << 63
UINT64 = 1 << 64


def unquote(quoted: str) -> str:
    """strconv.Unquote for "…" and `…` strings; ValueError("invalid syntax") as Go."""
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == "`":
        return quoted[1:-1].replace("\r", "")
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError("invalid syntax")
    return _unescape(quoted[1:-1], '"')


def unquote_char(quoted: str) -> int:
    """The rune of a character constant such as 'a' or '\\n'."""
    if len(quoted) < 3 or quoted[0] != "'" or quoted[-1] != "'":
        raise ValueError("invalid syntax")
    body = _unescape(quoted[1:-1], "'")
    if len(body) != 1:
        raise ValueError(f"malformed character constant: {quoted}")
    return ord(body)


def _unescape(body: str, quote: str) -> str:
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == quote or c == "\n":
            raise ValueError("invalid syntax")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1 : i + 2]
        i += 2
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e == quote:
            out.append(e)
        elif e in _HEX_LENGTH:
            digits = body[i : i + _HEX_LENGTH[e]]
            if len(digits) != _HEX_LENGTH[e] or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
                raise ValueError("invalid syntax")
            # \xNN is a byte in Go; as text the byte is only meaningful below 0x80.
            out.append(chr(code))
            i += len(digits)
        elif e in "01234567" and e:
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def parse_number(text: str, kind: str) -> tuple[int | float | complex, bool, bool]:
    """(value, is_int, is_float) of a numeric constant, value as Go's idealConstant would make it.

    ValueError carries Go's message. A number that fits only in uint64 comes back
    as an int flagged not is_int, so that executing it fails as Go does ("overflows int").
    """
    if kind == "charconst":
        return unquote_char(text), True, True
    if kind == "complex" or text.endswith("i"):
        return _parse_complex(text), False, False
    digits = text.replace("_", "")
    try:
        value = int(digits, 8) if _is_legacy_octal(digits) else int(digits, 0)
    except ValueError:
        value = None
    if value is not None:
        if -INT64 <= value < INT64:
            return value, True, True
        if value < UINT64:
            return value, False, True
        raise ValueError(f'integer overflow: "{text}"')
    f = _parse_float(digits)
    if f is None:
        raise ValueError(f'illegal number syntax: "{text}"')
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f'integer overflow: "{text}"')
    # Written with . e or p, the constant is a float64 (1.0 prints 1), usable where an int is wanted.
    is_int = f.is_integer() and -INT64 <= f < INT64
    return f, is_int, True


def _is_legacy_octal(digits: str) -> bool:
    # Go reads 017 as octal 15; Python's int(…, 0) refuses it.
    body = digits.lstrip("+-")
    return len(body) > 1 and body[0] == "0" and all(c in "01234567" for c in body)


def _parse_float(text: str) -> float | None:
    import re

    try:
        if text.lstrip("+-")[:2].lower() == "0x":
            return float.fromhex(text)
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return None
        return float(text)
    except (ValueError, OverflowError):
        return None


def _parse_complex(text: str) -> complex:
    import re

    m = re.fullmatch(r"([+-]?[0-9._]+(?:[eE][+-]?\d+)?)?([+-][0-9._]+(?:[eE][+-]?\d+)?)i", text)
    if m is None:
        m2 = re.fullmatch(r"([+-]?[0-9._]+(?:[eE][+-]?\d+)?)i", text)
        if m2 is None:
            raise ValueError(f'illegal number syntax: "{text}"')
        return complex(0, float(m2.group(1).replace("_", "")))
    real = float(m.group(1).replace("_", "")) if m.group(1) else 0.0
    return complex(real, float(m.group(2).replace("_", "")))
