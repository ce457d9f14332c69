"""Validating what Dockyard returns against the Engine API's swagger, as Podman's compat tests do.

Swagger 2.0 is not JSON Schema: `x-nullable: true` means null is allowed. The
definitions are rewritten once into Draft 4 schemas; strict=True also refuses
keys the definition does not document, so that a misspelt field fails a test.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "engine-api"


@functools.cache
def _document(version: str) -> dict:
    import yaml

    path = SPECS / ("swagger.yaml" if version == "newest" else f"v{version}.yaml")
    if not path.exists():
        pytest.skip(f"the Engine API swagger is not at {path} (shared/ beside the repository)")
    return yaml.safe_load(path.read_text())


@functools.cache
def _definitions(version: str, strict: bool) -> dict:
    raw = _document(version)["definitions"]
    return {name: _convert(_flatten(schema, raw), strict) for name, schema in raw.items()}


def _flatten(schema, definitions: dict):
    """Merge allOf parts (following $refs) into one object schema, so strict mode can see every property."""
    if isinstance(schema, list):
        return [_flatten(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _flatten(value, definitions) for key, value in schema.items()}
    if "allOf" not in schema:
        return schema
    parts = [
        _flatten(definitions[part["$ref"].rsplit("/", 1)[1]], definitions) if "$ref" in part else part
        for part in schema["allOf"]
    ]
    if not all("properties" in part for part in parts):
        return schema  # an allOf that only adds a description to a scalar type: nothing to merge
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    merged.setdefault("type", "object")
    properties, required = dict(merged.get("properties", {})), list(merged.get("required", []))
    for part in parts:
        properties.update(part.get("properties", {}))
        required += part.get("required", [])
    merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _convert(schema, strict: bool):
    if isinstance(schema, list):
        return [_convert(item, strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _convert(value, strict) for key, value in schema.items() if key != "example"}
    if converted.pop("x-nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        elif "$ref" in converted:
            converted = {"anyOf": [{"$ref": converted.pop("$ref")}, {"type": "null"}], **converted}
    if "properties" in converted:
        # Go marshals an unset slice or map as null where the swagger forgets x-nullable:
        # every optional property may be null, as docker itself returns them.
        required = set(converted.get("required", ()))
        for name, property_schema in converted["properties"].items():
            if name not in required:
                converted["properties"][name] = {"anyOf": [property_schema, {"type": "null"}]}
        if strict and "additionalProperties" not in converted:
            converted["additionalProperties"] = False
    return converted


def validate(document, definition: str, *, version: str = "newest", strict: bool = True) -> None:
    from jsonschema import Draft4Validator

    definitions = _definitions(version, strict)
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    Draft4Validator(schema).validate(document)


def validate_response(
    document, method: str, path: str, *, status: int = 200, version: str = "newest", strict: bool = True
) -> None:
    """Validate against the schema the swagger gives for one endpoint's answer, written inline
    for some (exec inspect, system df, the prunes): `path` as the swagger spells it, "/exec/{id}/json"."""
    from jsonschema import Draft4Validator

    raw = _document(version)["paths"][path][method.lower()]["responses"][status]["schema"]
    definitions = _definitions(version, strict)
    schema = {**_convert(_flatten(raw, _document(version)["definitions"]), strict), "definitions": definitions}
    Draft4Validator(schema).validate(document)
