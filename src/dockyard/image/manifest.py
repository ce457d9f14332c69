"""Manifests, indexes and image configs in both OCI v1 and Docker schema2 media types.

Also the identities the image spec defines, computed exactly so that the same
content gets the same IDs docker gives it:

    diffID   sha256 of a layer's uncompressed tar
    chainID  ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln))
    image ID sha256 of the config blob's bytes, as stored
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import NamedTuple

from dockyard.errors import InvalidParameter, NotFound

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
# layer media type -> compression ("" for none); nondistributable/foreign layers are still layers
LAYER_COMPRESSION = {
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: "",
    OCI_LAYER_NONDIST + "+gzip": "gzip",
    OCI_LAYER_NONDIST + "+zstd": "zstd",
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
}


class Platform(NamedTuple):
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


class Descriptor(NamedTuple):
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict | None = None


class Manifest(NamedTuple):
    media_type: str
    config: Descriptor
    layers: list[Descriptor]
    annotations: dict


# -- identities ---------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else sha256_digest(f"{chain[-1]} {diff_id}".encode()))
    return chain


def image_id(config_blob: bytes) -> str:
    return sha256_digest(config_blob)


# -- platforms ---------------------------------------------------------------------

# uname -m -> GOARCH, and the variant docker assumes when an image names none.
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386"}
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7"}


def normalize_platform(platform: Platform) -> Platform:
    """What containerd's platforms.Normalize does: GOARCH names and default variants."""
    architecture = _ARCHITECTURES.get(platform.architecture, platform.architecture)
    if architecture == "aarch64":
        architecture = "arm64"
    variant = platform.variant or _DEFAULT_VARIANTS.get(architecture, "")
    if architecture == "arm64" and variant == "8":
        variant = "v8"
    return Platform(platform.os.lower(), architecture, variant)


def host_platform() -> Platform:
    machine = os.uname().machine
    variant = "v6" if machine == "armv6l" else ""
    return normalize_platform(Platform("linux", machine, variant))


def parse_platform(text: str) -> Platform:
    """ "linux/arm64/v8", "linux/amd64" or "arm64" (the host's os) as docker's --platform takes them."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1:
        parts = [host_platform().os, parts[0]]
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f"invalid platform {text!r}: expected os/arch[/variant]")
    return normalize_platform(Platform(*parts))


# -- parsing ---------------------------------------------------------------------------


def _load(data: bytes, what: str) -> dict:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise InvalidParameter(f"{what}: invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidParameter(f"{what}: must be a JSON object")
    return document


def _descriptor(raw: object, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{where}: must be an object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidParameter(f"{where}.mediaType: must be a non-empty string")
    if not isinstance(digest, str) or ":" not in digest:
        raise InvalidParameter(f"{where}.digest: must be a digest such as sha256:<hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidParameter(f"{where}.size: must be a non-negative integer")
    platform = raw.get("platform")
    if platform is not None:
        if not isinstance(platform, dict) or not platform.get("os") or not platform.get("architecture"):
            raise InvalidParameter(f"{where}.platform: needs os and architecture")
        platform = Platform(platform["os"], platform["architecture"], platform.get("variant", ""))
    return Descriptor(media_type, digest, size, platform, raw.get("annotations"))


def detect_media_type(document: dict, declared: str | None = None) -> str:
    """The media type of a manifest or index: declared, in the document, or by its shape."""
    media_type = declared or document.get("mediaType")
    if media_type:
        return media_type
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document and "layers" in document:
        return OCI_MANIFEST
    raise InvalidParameter("unknown media type: the document is neither a manifest nor an index")


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest:
    document = _load(data, "manifest")
    media_type = detect_media_type(document, media_type)
    if media_type not in MANIFEST_TYPES:
        raise InvalidParameter(f"unknown media type {media_type!r} for a manifest")
    if document.get("schemaVersion") != 2:
        raise InvalidParameter("manifest.schemaVersion: must be 2")
    config = _descriptor(document.get("config"), "manifest.config")
    if config.media_type not in CONFIG_TYPES:
        raise InvalidParameter(f"manifest.config.mediaType: unknown media type {config.media_type!r}")
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list):
        raise InvalidParameter("manifest.layers: must be a list")
    layers = [_descriptor(raw, f"manifest.layers[{i}]") for i, raw in enumerate(raw_layers)]
    for i, layer in enumerate(layers):
        if layer.media_type not in LAYER_COMPRESSION:
            raise InvalidParameter(f"manifest.layers[{i}].mediaType: unknown media type {layer.media_type!r}")
    return Manifest(media_type, config, layers, document.get("annotations") or {})


def parse_index(data: bytes, media_type: str | None = None) -> list[Descriptor]:
    document = _load(data, "index")
    media_type = detect_media_type(document, media_type)
    if media_type not in INDEX_TYPES:
        raise InvalidParameter(f"unknown media type {media_type!r} for an index")
    raw = document.get("manifests")
    if not isinstance(raw, list):
        raise InvalidParameter("index.manifests: must be a list")
    return [_descriptor(entry, f"index.manifests[{i}]") for i, entry in enumerate(raw)]


def select_platform(manifests: list[Descriptor], wanted: Platform) -> Descriptor:
    """The manifest for `wanted`, as docker picks it: an exact variant first, then one
    without a variant; attestation manifests (platform unknown/unknown) never match."""
    wanted = normalize_platform(wanted)
    fallback = None
    for descriptor in manifests:
        if descriptor.platform is None or descriptor.media_type not in MANIFEST_TYPES:
            continue
        have = normalize_platform(descriptor.platform)
        if (have.os, have.architecture) != (wanted.os, wanted.architecture):
            continue
        if have.variant == wanted.variant:
            return descriptor
        if not descriptor.platform.variant and fallback is None:
            fallback = descriptor
    if fallback is not None:
        return fallback
    raise NotFound(f"no matching manifest for {wanted} in the manifest list entries")


def parse_config(data: bytes) -> dict:
    """An image config (OCI or docker): checked for what Dockyard relies on."""
    config = _load(data, "image config")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        raise InvalidParameter('image config.rootfs: must be {"type": "layers", "diff_ids": [...]}')
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and d.startswith("sha256:") for d in diff_ids):
        raise InvalidParameter("image config.rootfs.diff_ids: must be a list of sha256 digests")
    for key in ("architecture", "os"):
        if not isinstance(config.get(key), str):
            raise InvalidParameter(f"image config.{key}: must be a string")
    return config
