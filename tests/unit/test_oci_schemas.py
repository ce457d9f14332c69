"""What the runtime writes and prints validates against the OCI runtime spec's own JSON schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from dockyard.runtime.defaults import default_spec, features
from dockyard.runtime.state import ContainerState

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "oci-runtime" / "schema"


@pytest.fixture(scope="module")
def validate():
    if not SCHEMAS.is_dir():
        pytest.skip(f"the OCI runtime schemas are not at {SCHEMAS} (shared/ beside the repository)")
    registry = Registry().with_resources(
        (path.as_uri(), Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4))
        for path in SCHEMAS.glob("*.json")
    )

    def check(document: dict, schema: str) -> None:
        Draft4Validator({"$ref": (SCHEMAS / schema).as_uri()}, registry=registry).validate(document)

    return check


def test_default_spec_is_a_valid_config(validate):
    validate(default_spec(["sh"]), "config-schema.json")


def test_features_document_is_valid(validate):
    validate(features(), "features-schema.json")


def test_state_is_valid(validate, tmp_path):
    record = {"bundle": "/b", "created": "2026-11-23T00:00:00.000000000Z", "config": default_spec()}
    state = ContainerState(str(tmp_path), "abc", record).oci_state()
    assert state["status"] == "creating" and state["pid"] == 0
    validate(state, "state-schema.json")
