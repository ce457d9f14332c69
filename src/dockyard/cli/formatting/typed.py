"""docker inspect --format: the template runs over Go structs first, then over the raw JSON.

Docker's CLI decodes an inspect response into its Go types and runs the
template on them; only if that fails does it run the template on the raw JSON,
with missingkey=error. The first attempt is why a null list prints [], an absent
pointer <nil>, a missing label "" and a struct {a b}; the second why an unknown
field fails with `map has no entry for key "Foo"`. This module gives the JSON
the Go types of the Engine API (from the swagger, see _inspect_types.py) so
that the same two attempts print the same text.

Type notation: s i f b (string, integer, number, boolean), a (anything: the
JSON as is), {} (empty struct), []T, map[T], portmap[T] (keyed by nat.Port),
*Name (a struct); a field is "Name:type", or "GoName=key:type" where docker's Go
field is not named as the JSON key (the OCI descriptor's mediaType is MediaType).
"""

from __future__ import annotations

from dockyard.cli.gotemplate import Template, TemplateError, TypedNil

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

_ZEROS: dict[str, Any] = {"s": "", "i": 0, "f": 0.0, "b": False}


class GoStruct:
    """A Go struct value: fields by name in declaration order; prints as {v1 v2 …}."""

    __slots__ = ("_fields", "_raw", "go_type")

    def __init__(self, go_type: str, fields: dict[str, Any], raw: dict) -> None:
        self.go_type = go_type
        self._fields = fields
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def __str__(self) -> str:
        from dockyard.cli.gotemplate import format_value

        return "{" + " ".join(format_value(v) for v in self._fields.values()) + "}"

    def json_value(self) -> dict:
        return self._raw


class GoSlice(list):
    """A Go slice; `nil` ones print [] but encode as JSON null."""

    __slots__ = ("nil",)

    def __init__(self, items: list, nil: bool = False) -> None:
        super().__init__(items)
        self.nil = nil


class GoMap(dict):
    """A Go map: its element type's zero value (index of a missing key), its key type when that is not
    string ({{index}} refuses a string for nat.Port), and `nil` for those that encode as null."""

    __slots__ = ("key_type", "nil", "zero")

    def __init__(self, items: dict, zero: Any, nil: bool = False, key_type: str | None = None) -> None:
        super().__init__(items)
        self.zero = zero
        self.nil = nil
        self.key_type = key_type


class EmptyStruct:
    """struct{}: the values of ExposedPorts and Volumes; prints as {}."""

    go_type = "struct {}"

    def __str__(self) -> str:
        return "{}"

    def json_value(self) -> dict:
        return {}


def typed(data: Any, kind: str) -> Any:
    """`data` (an inspect response's JSON) as docker's Go value for `kind`: container, image, network or volume."""
    from dockyard.cli.formatting._inspect_types import ROOTS

    return _convert(data, "*" + ROOTS[kind])


def render(template: Template, data: Any, kind: str) -> str:
    """One inspect object under --format, as docker's TemplateInspector does it; TemplateError as docker's."""
    try:
        return template.execute(typed(data, kind))
    except TemplateError:
        pass
    try:
        return template.execute(_untyped(data), missing_key_error=True)
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc}") from None


def _untyped(value: Any) -> Any:
    # The raw attempt decodes into interface{}: every map is map[string]interface{}, a missing key nil.
    if isinstance(value, dict):
        return GoMap({k: _untyped(v) for k, v in value.items()}, None)
    if isinstance(value, list):
        return [_untyped(v) for v in value]
    return value


def _zero(kind: str) -> Any:
    if kind in _ZEROS:
        return _ZEROS[kind]
    if kind.startswith("[]"):
        return GoSlice([], nil=True)
    if kind.startswith(("map[", "portmap[")):
        element = kind[kind.index("[") + 1 : -1]
        return GoMap({}, _zero(element), nil=True, key_type="nat.Port" if kind.startswith("port") else None)
    if kind.startswith("*"):
        return TypedNil("*types." + kind[1:].replace(".", ""))
    if kind == "{}":
        return EmptyStruct()
    return None


def _convert(value: Any, kind: str) -> Any:
    if value is None:
        return _zero(kind)
    if kind.startswith("*") and isinstance(value, dict):
        from dockyard.cli.formatting._inspect_types import STRUCTS

        name = kind[1:]
        fields = {}
        for spec in STRUCTS[name].split(" ") if STRUCTS[name] else ():
            field, _, field_kind = spec.partition(":")
            go_name, _, key = field.partition("=")
            key = key or go_name
            fields[go_name] = _convert(value[key], field_kind) if key in value else _zero(field_kind)
        return GoStruct("*types." + name.replace(".", ""), fields, value)
    if kind.startswith("[]") and isinstance(value, list):
        return GoSlice([_convert(v, kind[2:]) for v in value])
    if kind.startswith(("map[", "portmap[")) and isinstance(value, dict):
        element = kind[kind.index("[") + 1 : -1]
        items = {k: _convert(v, element) for k, v in value.items()}
        return GoMap(items, _zero(element), key_type="nat.Port" if kind.startswith("port") else None)
    if kind == "{}":
        return EmptyStruct()
    # Scalars, "a", and values that do not have the documented shape stay as they are.
    return value
