"""The functions a template can call: Go's builtins and docker's additions (cli/templates).

Each function declares the Go types of its parameters, because the executor
checks arguments as Go does ("wrong type for value; expected string; got int").
Kinds: "any" (interface{}: MISSING arrives as None), "value" (reflect.Value:
MISSING arrives as is), "string", "int", "float", "bool", "[]string".
"""

from __future__ import annotations

from dockyard.cli.gotemplate._gofmt import format_value, sprint, sprintf, sprintln, type_name

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class TypedNil:
    """A nil pointer of a named Go type (a method of a docker context returning *Platform(nil)).

    Unlike a nil interface{} it stays itself through a pipeline: it prints <nil>,
    is false, encodes as JSON null, and reading a field of it fails as in Go.
    """

    __slots__ = ("go_type",)

    def __init__(self, go_type: str) -> None:
        self.go_type = go_type

    def __str__(self) -> str:
        return "<nil>"


class Byte(int):
    """A byte of a string, as {{index "abc" 1}} gives it: Go's uint8."""

    __slots__ = ()
    go_type = "uint8"


class FuncError(Exception):
    """The error a Go function returns; the executor reports "error calling NAME: …"."""


class Func:
    __slots__ = ("fn", "params", "short_circuit", "variadic")

    def __init__(
        self,
        fn: Callable[..., Any] | None,
        params: tuple[str, ...],
        variadic: str | None = None,
        short_circuit: bool | None = None,
    ) -> None:
        # and/or have no function: the executor evaluates their arguments lazily.
        self.fn = fn
        self.params = params
        self.variadic = variadic
        # and/or: the truth value that stops the evaluation of further arguments.
        self.short_circuit = short_circuit

    @classmethod
    def of_method(cls, method: Callable[..., Any]) -> Func:
        """A Python method or function of a data object, callable from a template as .Name arg…"""
        code = getattr(getattr(method, "__func__", method), "__code__", None)
        if code is None:
            return cls(method, (), "any")
        count = code.co_argcount - (1 if hasattr(method, "__self__") else 0)
        return cls(method, ("any",) * count, "any" if code.co_flags & 0x04 else None)


def go_kind_name(kind: str) -> str:
    return {"any": "interface {}", "value": "reflect.Value", "float": "float64"}.get(kind, kind)


def is_true(value: Any) -> bool:
    """Go's truth: false, 0, nil, "" and empty lists and maps are false; everything else is true."""
    if value is MISSING or value is None or isinstance(value, TypedNil):
        return False
    if isinstance(value, (bool, int, float, complex)):
        return value != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


# --- Go's builtins


def _not(value: Any) -> bool:
    return not is_true(value)


def _len(item: Any) -> int:
    if item is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if item is None:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise FuncError(f"len of type {type_name(item)}")


def _index_arg(index: Any, length: int) -> int:
    if index is MISSING or index is None:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > length:
        raise FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise FuncError("index of nil pointer")
        if isinstance(item, (list, tuple, str)):
            seq = item.encode() if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise FuncError(f"reflect: {'string' if isinstance(item, str) else 'slice'} index out of range")
            item = Byte(seq[x]) if isinstance(item, str) else seq[x]
        elif isinstance(item, dict):
            if index is MISSING or index is None:
                raise FuncError("value is nil; should be of type string")
            key_type = getattr(item, "key_type", None) or "string"
            if not isinstance(index, str) or key_type != "string":
                raise FuncError(f"value has type {type_name(index)}; should be {key_type}")
            item = item.get(index, _map_zero(item))
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _map_zero(item: dict) -> Any:
    # A missing key gives the zero value of the map's element type: a typed map
    # (formatting.typed.GoMap) knows it. A JSON map holding only strings is taken
    # for Go's map[string]string (labels, options: docker prints ""), any other
    # for map[string]interface{}, whose zero is nil.
    if hasattr(item, "zero"):
        return item.zero
    return "" if all(isinstance(v, str) for v in item.values()) else None


def _slice(item: Any, *indexes: Any) -> Any:
    if item is MISSING or item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    return part.decode(errors="replace") if isinstance(item, str) else list(part)


# Comparison follows Go's basicKind: bool, int, float, complex and string compare with
# their own kind only; nil compares with anything for equality; other values do not compare.
def _basic_kind(v: Any) -> str:
    if v is MISSING or v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        basic1, basic2 = k1 not in ("invalid", "other"), k2 not in ("invalid", "other")
        if (k1 if basic1 else "") != (k2 if basic2 else ""):
            if k1 != "invalid" and k2 != "invalid":
                raise FuncError("incompatible types for comparison")
            truth = False
        elif basic1:
            truth = arg1 == arg
        else:
            truth = _eq_non_basic(arg1, arg)
        if truth:
            return True
    return False


def _eq_non_basic(arg1: Any, arg: Any) -> bool:
    # Go: values of different reflect kinds do not compare, except with nil; slices and maps
    # compare only with nil; other values (structs) by ==.
    kind1, kind2 = _reflect_kind(arg1), _reflect_kind(arg)
    if kind1 != kind2 and "invalid" not in (kind1, kind2):
        raise FuncError(
            f"non-comparable types {sprintf('%s', arg1)}: {type_name(arg1)}, {type_name(arg)}: {format_value(arg)}"
        )
    if _is_nil(arg1) or _is_nil(arg):
        return _is_nil(arg1) == _is_nil(arg)
    if kind2 in ("slice", "map"):
        raise FuncError(f"non-comparable type {sprintf('%s', arg)}: {type_name(arg)}")
    return arg1 is arg or arg1 == arg


def _reflect_kind(v: Any) -> str:
    if v is MISSING or v is None:
        return "invalid"
    if isinstance(v, (list, tuple)):
        return "slice"
    if isinstance(v, dict):
        return "map"
    return "struct"


def _is_nil(v: Any) -> bool:
    return v is MISSING or v is None or isinstance(v, TypedNil) or getattr(v, "nil", False)


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _basic_kind(arg1), _basic_kind(arg2)
    if k1 in ("invalid", "other") or k2 in ("invalid", "other"):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    if k1 == "string":
        return arg1.encode() < arg2.encode()
    return arg1 < arg2


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: Any, arg2: Any) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: Any, arg2: Any) -> bool:
    return not _lt(arg1, arg2)


def _eval_args(args: tuple) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    # Go's evalArgs prints a nil argument as the template would: <no value>.
    return sprint(*("<no value>" if a is None else a for a in args))


_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}


def _html(*args: Any) -> str:
    return "".join(_HTML.get(c, c) for c in _eval_args(args))


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def _js(*args: Any) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif ord(c) < 0x20 or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args(args), safe="-_.~")


def _call(fn: Any, *args: Any) -> Any:
    if fn is MISSING or fn is None:
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function {format_value(fn)} of type {type_name(fn)}")
    return fn(*args)


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, *args)


BUILTINS: dict[str, Func] = {
    "and": Func(None, ("value",), "value", short_circuit=False),
    "or": Func(None, ("value",), "value", short_circuit=True),
    "not": Func(_not, ("value",)),
    "len": Func(_len, ("value",)),
    "index": Func(_index, ("value",), "value"),
    "slice": Func(_slice, ("value",), "value"),
    "call": Func(_call, ("value",), "value"),
    "print": Func(sprint, (), "any"),
    "printf": Func(_printf, ("string",), "any"),
    "println": Func(sprintln, (), "any"),
    "eq": Func(_eq, ("value",), "value"),
    "ne": Func(_ne, ("value", "value")),
    "lt": Func(_lt, ("value", "value")),
    "le": Func(_le, ("value", "value")),
    "gt": Func(_gt, ("value", "value")),
    "ge": Func(_ge, ("value", "value")),
    "html": Func(_html, (), "any"),
    "js": Func(_js, (), "any"),
    "urlquery": Func(_urlquery, (), "any"),
}


# --- docker's functions (cli/templates/templates.go)


def _json(v: Any) -> str:
    from dockyard.cli.gotemplate._gojson import encode

    return encode(v)


def _split(s: str, sep: str) -> list[str]:
    # strings.Split with an empty separator splits after each character.
    return list(s) if sep == "" else s.split(sep)


def _join(elems: Any, sep: str) -> str:
    # As docker 29: any slice joins its elements' %v; a map joins its values, sorted.
    if elems is None:
        return ""
    if isinstance(elems, (list, tuple)):
        return sep.join(format_value(e) for e in elems)
    if isinstance(elems, dict):
        return sep.join(sorted(format_value(v) for v in elems.values()))
    raise FuncError(f"expected slice, got {type_name(elems)}")


def _title(s: str) -> str:
    # strings.Title: upper-case the first letter of each word; the rest stays as is.
    out = []
    prev_letter = False
    for c in s:
        out.append(c if prev_letter else c.upper())
        prev_letter = c.isalnum() or c == "_" or (not c.isascii() and not c.isspace())
    return "".join(out)


def _pad(s: str, prefix: int, suffix: int) -> str:
    if not s:
        return s
    return " " * prefix + s + " " * suffix


def _truncate(s: str, length: int) -> str:
    # Go slices the string's bytes; cutting inside a character leaves no half character here.
    data = s.encode()
    if len(data) < length:
        return s
    return data[: max(length, 0)].decode(errors="ignore")


DOCKER_FUNCS: dict[str, Func] = {
    "json": Func(_json, ("any",)),
    "split": Func(_split, ("string", "string")),
    "join": Func(_join, ("any", "string")),
    "title": Func(_title, ("string",)),
    "lower": Func(str.lower, ("string",)),
    "upper": Func(str.upper, ("string",)),
    "pad": Func(_pad, ("string", "int", "int")),
    "truncate": Func(_truncate, ("string", "int")),
}


def _identity(v: str, *_ignored: Any) -> str:
    return v


# Docker renders a table's header row through the same template with these in place of
# its functions, so that {{json .Names}} or {{upper .ID}} still print the column's name.
HEADER_FUNCS: dict[str, Func] = {
    **DOCKER_FUNCS,
    "json": Func(_identity, ("string",)),
    "split": Func(_identity, ("string", "string")),
    "join": Func(_identity, ("string", "string")),
    "title": Func(_identity, ("string",)),
    "lower": Func(_identity, ("string",)),
    "upper": Func(_identity, ("string",)),
    "truncate": Func(_identity, ("string", "int")),
}
