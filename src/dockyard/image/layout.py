"""Writing OCI image layouts (image-layout.md): oci-layout, index.json, blobs/sha256.

A layout is how an image leaves Dockyard without a registry: skopeo, podman and
`docker load` (as an OCI archive) read it. Every blob is written under its
digest through a temporary name, so an interrupted write leaves no blob whose
name lies about its content.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from dockyard.image import manifest as m
from dockyard.image.layer import CompressingWriter, diff_layer

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"


def _canonical(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class LayoutWriter:
    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.blobs = os.path.join(dest, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)

    def put(self, data: bytes) -> str:
        digest = m.sha256_digest(data)
        path = os.path.join(self.blobs, digest.split(":", 1)[1])
        if not os.path.exists(path):
            with tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".tmp-", delete=False) as f:
                f.write(data)
            os.rename(f.name, path)
        return digest

    def put_layer(self, rootfs: str) -> tuple[m.Descriptor, str]:
        """A gzip layer holding the whole tree at rootfs; returns its descriptor and diffID."""
        with (
            tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".tmp-", delete=False) as f,
            CompressingWriter(f, "gzip") as blob,
        ):
            diff = diff_layer([], rootfs, blob)
        os.rename(f.name, os.path.join(self.blobs, blob.digest.split(":", 1)[1]))
        return m.Descriptor(m.OCI_LAYER_GZIP, blob.digest, blob.size), diff.diff_id

    def finish(self, manifest_digest: str, manifest_size: int, tag: str) -> None:
        index = {
            "schemaVersion": 2,
            "mediaType": m.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": m.OCI_MANIFEST,
                    "digest": manifest_digest,
                    "size": manifest_size,
                    "annotations": {REF_NAME: tag},
                }
            ],
        }
        for name, document in (("oci-layout", LAYOUT_VERSION), ("index.json", index)):
            with open(os.path.join(self.dest, name), "wb") as f:
                f.write(_canonical(document))


def write_rootfs_image(rootfs: str, dest: str, *, tag: str, config: dict, created_by: str) -> str:
    """Write rootfs as a one-layer image into the OCI layout at dest; return the manifest digest.

    config is the image's runtime config (Cmd, Env, WorkingDir...).
    """
    writer = LayoutWriter(dest)
    layer, diff_id = writer.put_layer(rootfs)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    platform = m.host_platform()
    image_config = {
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        **({"variant": platform.variant} if platform.variant else {}),
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": created_by}],
    }
    config_blob = _canonical(image_config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": m.OCI_MANIFEST,
        "config": {"mediaType": m.OCI_CONFIG, "digest": writer.put(config_blob), "size": len(config_blob)},
        "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}],
    }
    manifest_blob = _canonical(manifest)
    manifest_digest = writer.put(manifest_blob)
    writer.finish(manifest_digest, len(manifest_blob), tag)
    return manifest_digest
