"""Small images made in memory: layer tars, configs, and the archives docker and OCI tools write.

layer(file("etc/hostname", b"x"), directory("etc"))  -> uncompressed layer tar bytes
TestImage([layer1, layer2], tags=["a:1"])            -> its config, IDs and blobs
docker20_archive([...]) / docker25_archive([...]) / oci_layout_archive([...]) -> archive bytes
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

MTIME = 1_700_000_000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(name: str, data: bytes | None = b"", *, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, **extra):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, MTIME
    info.size = len(data) if kind == tarfile.REGTYPE and data else 0
    for key, value in extra.items():
        setattr(info, key, value)
    return info, data if info.size else None


def file(name: str, data: bytes = b"", **attrs):
    return entry(name, data, **attrs)


def directory(name: str, **attrs):
    attrs.setdefault("mode", 0o755)
    return entry(name, None, kind=tarfile.DIRTYPE, **attrs)


def symlink(name: str, target: str):
    return entry(name, None, kind=tarfile.SYMTYPE, mode=0o777, linkname=target)


def tar_of(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def layer(*members) -> bytes:
    return tar_of(members)


def canonical(document) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class TestImage:
    """An image: its layer tars (stored as given, or gzip'd), config, manifest and names."""

    __test__ = False  # not a pytest class

    def __init__(self, layers: list[bytes], *, tags=(), config: dict | None = None, gzip_layers=False, **extra):
        self.tars = layers
        self.blobs = [gzip.compress(t, mtime=0) if gzip_layers else t for t in layers]
        self.media_type = OCI_LAYER + ("+gzip" if gzip_layers else "")
        self.tags = list(tags)
        self.diff_ids = [digest(t) for t in layers]
        document = {
            "architecture": "amd64",
            "os": "linux",
            "created": extra.pop("created", "2024-01-02T03:04:05Z"),
            "config": config if config is not None else {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            "history": [{"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i}"} for i in range(len(layers))],
            **extra,
        }
        self.config = canonical(document)
        self.id = digest(self.config)
        self.manifest = canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": self.id, "size": len(self.config)},
                "layers": [{"mediaType": self.media_type, "digest": digest(b), "size": len(b)} for b in self.blobs],
            }
        )


class ArchiveWriter:
    def __init__(self, *, compress: bool = False) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w:gz" if compress else "w")  # noqa: SIM115 closed by close()

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), MTIME
        self.tar.addfile(info, io.BytesIO(data))

    def link(self, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)

    def add_json(self, name: str, document) -> None:
        self.add(name, json.dumps(document).encode())

    def close(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()


def docker20_archive(images: list[TestImage], **kwargs) -> bytes:
    """The legacy `docker save` shape: <v1 id>/layer.tar, <config hex>.json, manifest.json, repositories."""
    out = ArchiveWriter(**kwargs)
    entries = []
    seen: dict[str, str] = {}
    for image in images:
        paths = []
        for i, tar in enumerate(image.blobs):
            v1 = hashlib.sha256(f"{image.id}{i}".encode()).hexdigest()
            if digest(tar) in seen:  # docker links a repeated layer to its first copy
                out.link(f"{v1}/layer.tar", f"../{seen[digest(tar)]}/layer.tar")
            else:
                out.add(f"{v1}/layer.tar", tar)
                seen[digest(tar)] = v1
            out.add(f"{v1}/VERSION", b"1.0")
            out.add_json(f"{v1}/json", {"id": v1})
            paths.append(f"{v1}/layer.tar")
        hex_id = image.id.partition(":")[2]
        out.add(f"{hex_id}.json", image.config)
        entries.append({"Config": f"{hex_id}.json", "RepoTags": image.tags or None, "Layers": paths})
    out.add_json("manifest.json", entries)
    out.add_json("repositories", {})
    return out.close()


def _blobs(out: ArchiveWriter, images: list[TestImage]) -> None:
    for image in images:
        for blob in (*image.blobs, image.config, image.manifest):
            out.add(f"blobs/sha256/{digest(blob).partition(':')[2]}", blob)


def _index(images: list[TestImage], *, annotate) -> dict:
    manifests = []
    for image in images:
        descriptor = {"mediaType": OCI_MANIFEST, "digest": digest(image.manifest), "size": len(image.manifest)}
        for tag in image.tags or [None]:
            manifests.append({**descriptor, **({"annotations": annotate(tag)} if tag else {})})
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}


def oci_layout_archive(images: list[TestImage], **kwargs) -> bytes:
    """An OCI image layout as a tar, names in org.opencontainers.image.ref.name."""
    out = ArchiveWriter(**kwargs)
    _blobs(out, images)
    out.add_json("oci-layout", {"imageLayoutVersion": "1.0.0"})
    out.add_json("index.json", _index(images, annotate=lambda tag: {"org.opencontainers.image.ref.name": tag}))
    return out.close()


def docker25_archive(images: list[TestImage], **kwargs) -> bytes:
    """What docker 25+ saves: an OCI layout plus manifest.json."""
    out = ArchiveWriter(**kwargs)
    _blobs(out, images)
    out.add_json("oci-layout", {"imageLayoutVersion": "1.0.0"})
    out.add_json("index.json", _index(images, annotate=lambda tag: {"io.containerd.image.name": tag}))
    out.add_json(
        "manifest.json",
        [
            {
                "Config": f"blobs/sha256/{image.id.partition(':')[2]}",
                "RepoTags": image.tags,
                "Layers": [f"blobs/sha256/{digest(b).partition(':')[2]}" for b in image.blobs],
            }
            for image in images
        ],
    )
    return out.close()
