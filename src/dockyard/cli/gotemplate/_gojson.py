"""encoding/json as docker's {{json}} uses it: compact, HTML characters left alone (SetEscapeHTML(false)).

Objects are encoded in their insertion order, which for data decoded from the
Engine API is the order the daemon wrote: the order of Go's struct fields. An
object that is not plain data encodes what its json_value() returns (a Go
struct), or what its marshal_json() returns (a Go type with a MarshalJSON
method, whose output escapes HTML characters).
"""

from __future__ import annotations

import json
import math

from dockyard.cli.gotemplate._funcs import MISSING, FuncError, TypedNil
from dockyard.cli.gotemplate._gofmt import shortest_digits, type_name

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


def encode(v: Any) -> str:
    out: list[str] = []
    _encode(v, out, False)
    return "".join(out)


def _encode(v: Any, out: list[str], escape_html: bool) -> None:
    if v is None or v is MISSING or isinstance(v, TypedNil):
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(_float(v))
    elif isinstance(v, str):
        out.append(_string(v, escape_html))
    elif getattr(v, "nil", False):
        # A nil Go slice or map (see formatting.typed): it prints [] but encodes as null.
        out.append("null")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, e in enumerate(v):
            if i:
                out.append(",")
            _encode(e, out, escape_html)
        out.append("]")
    elif isinstance(v, dict):
        out.append("{")
        for i, (k, e) in enumerate(v.items()):
            if i:
                out.append(",")
            out.append(_string(str(k), escape_html))
            out.append(":")
            _encode(e, out, escape_html)
        out.append("}")
    elif callable(getattr(v, "json_value", None)):
        # A Go struct: encoded field by field by the same encoder.
        _encode(v.json_value(), out, escape_html)
    elif callable(getattr(v, "marshal_json", None)):
        # A Go MarshalJSON method uses json.Marshal, which escapes <, > and & whatever the encoder says.
        _encode(v.marshal_json(), out, True)
    else:
        raise FuncError(f"json: unsupported type: {type_name(v)}")


def _string(s: str, escape_html: bool) -> str:
    # Go escapes U+2028 and U+2029 even when HTML escaping is off; json.dumps does not.
    text = json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _float(f: float) -> str:
    if math.isinf(f) or math.isnan(f):
        raise FuncError(f"json: unsupported value: {'NaN' if math.isnan(f) else ('+Inf' if f > 0 else '-Inf')}")
    a = abs(f)
    sign = "-" if f < 0 else ""
    digits, dp = shortest_digits(a)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        exp = dp - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp)}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits)) if digits != "0" else sign + "0"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"
