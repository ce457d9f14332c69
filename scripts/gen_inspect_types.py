"""Write src/dockyard/cli/formatting/_inspect_types.py: the Go types of docker's inspect objects, from the swagger.

docker inspect runs --format templates over Go structs before it tries the raw
JSON; to print as it does (a null list as [], an absent pointer as <nil>), the
CLI needs those types. This reads the Engine API swagger (API 1.50, docker 28)
and writes one line per definition: "Field:type Field:type …" where a type is
s (string), i (integer), f (number), b (boolean), a (anything), {} (an empty
struct), []T, map[T] or *Name (a struct, possibly inline as Parent.Field); portmap[T] is a map keyed by nat.Port.
A field is "Name:type", or "GoName=key:type" when the JSON key is not the Go name.

    python3 scripts/gen_inspect_types.py ../shared/specs/engine-api/v1.50.yaml
"""

from __future__ import annotations

import json
import os
import sys

import yaml

ROOTS = {"container": "ContainerInspectResponse", "image": "ImageInspect", "network": "Network", "volume": "Volume"}
OUT = os.path.join(os.path.dirname(__file__), os.pardir, "src", "dockyard", "cli", "formatting", "_inspect_types.py")
SCALARS = {"string": "s", "integer": "i", "number": "f", "boolean": "b"}
# Where docker's Go struct declares its fields in another order than the swagger lists them
# (the order shows when a template prints the whole struct: {{.GraphDriver}} is {map[] overlay}).
GO_FIELD_ORDER = {"DriverData": ["Data", "Name"]}
# Go fields are exported, so upper-case; the OCI types keep lower-case JSON keys.
GO_FIELD_NAMES = {"Id": "ID", "os": "OS", "os.version": "OSVersion", "os.features": "OSFeatures"}


class Collector:
    def __init__(self, definitions: dict) -> None:
        self.definitions = definitions
        self.structs: dict[str, str] = {}

    def properties(self, schema: dict) -> dict:
        merged = {}
        for part in schema.get("allOf", []):
            merged.update(self.properties(self.resolve(part)))
        merged.update(schema.get("properties", {}))
        return merged

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def struct(self, name: str, schema: dict) -> str:
        if name not in self.structs:
            self.structs[name] = ""  # recursion guard
            properties = self.properties(schema)
            order = GO_FIELD_ORDER.get(name, list(properties))
            fields = [f"{_go_name(field)}{self.type_of(f'{name}.{field}', properties[field])}" for field in order]
            self.structs[name] = " ".join(fields)
        return "*" + name

    def type_of(self, where: str, schema: dict) -> str:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name == "PortMap":
                # nat.PortMap: its keys are nat.Port, which {{index}} does not convert a string to.
                return "port" + self.type_of(where, self.definitions[name])
            target = self.definitions[name]
            if self.properties(target):
                return self.struct(name, target)
            return self.type_of(where, target)
        if "allOf" in schema and not schema.get("properties"):
            parts = schema["allOf"]
            if len(parts) == 1:
                return self.type_of(where, parts[0])
            return self.struct(where, schema)
        kind = schema.get("type")
        if kind in SCALARS:
            return SCALARS[kind]
        if kind == "array":
            return "[]" + self.type_of(where, schema.get("items", {}))
        if kind == "object" or "properties" in schema:
            if self.properties(schema):
                return self.struct(where, schema)
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                value = self.resolve(extra)
                if value.get("type") == "object" and not self.properties(value) and "additionalProperties" not in value:
                    # nat.PortSet (ExposedPorts) or a set of volumes: struct{} values.
                    return "portmap[{}]" if where.endswith(".ExposedPorts") else "map[{}]"
                return f"map[{self.type_of(where, extra)}]"
            return "a"
        return "a"


def _go_name(key: str) -> str:
    """The field's prefix: "Name:" when the Go field is named as the JSON key, "Go=key:" when not."""
    go = GO_FIELD_NAMES.get(key, key[:1].upper() + key[1:])
    return f"{key}:" if go == key else f"{go}={key}:"


def main(argv: list[str]) -> int:
    (swagger,) = argv
    with open(swagger) as f:
        definitions = yaml.safe_load(f)["definitions"]
    collector = Collector(definitions)
    for root in ROOTS.values():
        collector.struct(root, definitions[root])
    lines = [
        '"""The Go types of docker\'s inspect objects, written by scripts/gen_inspect_types.py from the API 1.50',
        'swagger: do not edit. See typed.py for the notation ("Go=key:type": a Go field named otherwise)."""',
        "",
        "# ruff: noqa: E501 - one generated line per Go struct",
        "",
        f"ROOTS = {json.dumps(ROOTS)}",
        "",
        "STRUCTS = {",
    ]
    for name in sorted(collector.structs):
        lines.append(f"    {json.dumps(name)}: {json.dumps(collector.structs[name])},")
    lines.append("}")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
