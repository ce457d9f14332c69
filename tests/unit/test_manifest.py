from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter, NotFound
from dockyard.image import manifest as m

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_chain_ids_follow_the_image_spec():
    a, b, c = (digest(x) for x in (b"a", b"b", b"c"))
    ab = digest(f"{a} {b}".encode())
    assert m.chain_ids([a, b, c]) == [a, ab, digest(f"{ab} {c}".encode())]
    assert m.chain_ids([]) == []


@given(st.lists(HEX, min_size=1, max_size=8))
def test_chain_ids_depend_on_every_layer_below(hexes):
    diff_ids = [f"sha256:{h}" for h in hexes]
    chain = m.chain_ids(diff_ids)
    assert len(chain) == len(diff_ids) and chain[0] == diff_ids[0]
    assert m.chain_ids(diff_ids[:-1]) == chain[:-1]


def test_image_id_is_the_config_digest():
    blob = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    assert m.image_id(blob) == digest(blob)


def layer(media_type: str = m.OCI_LAYER_GZIP) -> dict:
    return {"mediaType": media_type, "digest": digest(b"layer"), "size": 5}


def manifest_bytes(media_type: str = m.OCI_MANIFEST, **changes) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": m.OCI_CONFIG, "digest": digest(b"config"), "size": 6},
        "layers": [layer(), layer(m.DOCKER_LAYER)],
    }
    document.update(changes)
    return json.dumps(document).encode()


def test_parse_manifest_reads_config_and_layers():
    parsed = m.parse_manifest(manifest_bytes())
    assert parsed.media_type == m.OCI_MANIFEST
    assert parsed.config.digest == digest(b"config")
    assert [m.LAYER_COMPRESSION[layer.media_type] for layer in parsed.layers] == ["gzip", "gzip"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{nope", "manifest: invalid JSON"),
        (manifest_bytes(mediaType="application/x-unknown"), "unknown media type 'application/x-unknown'"),
        (manifest_bytes(schemaVersion=1), "schemaVersion: must be 2"),
        (manifest_bytes(layers=[layer("application/x-tar-ish")]), "layers[0].mediaType: unknown media type"),
        (manifest_bytes(layers=[{"mediaType": m.OCI_LAYER, "digest": "nope", "size": 1}]), "layers[0].digest"),
        (manifest_bytes(layers=[{"mediaType": m.OCI_LAYER, "digest": digest(b""), "size": -1}]), "layers[0].size"),
    ],
)
def test_bad_manifests_name_what_is_wrong(data, message):
    with pytest.raises(InvalidParameter, match=message.replace("[", r"\[").replace("]", r"\]")):
        m.parse_manifest(data)


def index(*platforms: tuple[str, str, str]) -> list[m.Descriptor]:
    document = {
        "schemaVersion": 2,
        "mediaType": m.OCI_INDEX,
        "manifests": [
            {
                "mediaType": m.OCI_MANIFEST,
                "digest": digest(f"{os_}/{arch}/{variant}".encode()),
                "size": 1,
                "platform": {"os": os_, "architecture": arch, **({"variant": variant} if variant else {})},
            }
            for os_, arch, variant in platforms
        ],
    }
    return m.parse_index(json.dumps(document).encode())


def test_platform_selection_prefers_the_exact_variant_and_normalises_names():
    manifests = index(
        ("unknown", "unknown", ""), ("linux", "arm", "v6"), ("linux", "arm", "v7"), ("linux", "amd64", "")
    )
    assert m.select_platform(manifests, m.Platform("linux", "arm", "v7")).platform.variant == "v7"
    assert m.select_platform(manifests, m.Platform("linux", "x86_64")).platform.architecture == "amd64"
    arm64 = index(("linux", "arm64", ""))
    assert m.select_platform(arm64, m.parse_platform("linux/arm64/v8")).platform.architecture == "arm64"
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        m.select_platform(manifests, m.parse_platform("linux/s390x"))


def test_parse_platform():
    assert m.parse_platform("linux/amd64") == m.Platform("linux", "amd64", "")
    assert m.parse_platform("linux/arm64") == m.Platform("linux", "arm64", "v8")
    with pytest.raises(InvalidParameter):
        m.parse_platform("linux//")


def test_config_needs_layers_and_platform_fields():
    good = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest(b"x")]}}
    assert m.parse_config(json.dumps(good).encode())["os"] == "linux"
    bad = dict(good, rootfs={"type": "layers", "diff_ids": ["md5:1"]})
    with pytest.raises(InvalidParameter, match="diff_ids"):
        m.parse_config(json.dumps(bad).encode())
