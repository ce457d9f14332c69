"""Image archives: the tarballs of `docker save` / `docker load`, and OCI image layouts.

Three shapes are read, all as one stream (docker load reads from a pipe):

    docker 20 and older   <v1 id>/layer.tar, <v1 id>/json, <config hex>.json, manifest.json, repositories
    docker 25 and newer   blobs/sha256/<hex>, index.json, oci-layout, manifest.json, repositories
    OCI image layout      blobs/sha256/<hex>, index.json, oci-layout (as a tar, or a directory)

The members come in no guaranteed order (manifest.json is near the end), so
reading is two steps: every data file is ingested into the content store
(hashed, verified later against the names that refer to it) while the small
metadata files are kept in memory; then find_images() follows the index or
manifest.json to the images. Writing (write_archive) produces the docker 25
shape, which docker 20 loads too (it reads only manifest.json, and takes
compressed layers).
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterable
from typing import BinaryIO, NamedTuple

from dockyard.core.content import BlobInfo, ContentStore
from dockyard.errors import InvalidParameter, NotFound
from dockyard.image import manifest as m
from dockyard.image import reference
from dockyard.image.layer_stream import detect_compression

MANIFEST_JSON = "manifest.json"
INDEX_JSON = "index.json"
OCI_LAYOUT = "oci-layout"
REPOSITORIES = "repositories"
# Small files read into memory rather than ingested: the archive's own bookkeeping.
_METADATA_NAMES = frozenset({MANIFEST_JSON, INDEX_JSON, OCI_LAYOUT, REPOSITORIES})
_LEGACY_METADATA = frozenset({"json", "VERSION"})
_METADATA_LIMIT = 8 << 20
_READ_BUFFER = 1 << 20  # tarfile reads a stream 10 KiB at a time by default: too many calls for layers

IMAGE_NAME_ANNOTATION = "io.containerd.image.name"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"


class FoundImage(NamedTuple):
    manifest: m.Descriptor
    config: m.Descriptor
    layers: list[m.Descriptor]
    names: list[str]  # normalised references, e.g. docker.io/library/busybox:latest


class ArchiveContents:
    """What a read archive holds: ingested blobs and the metadata files, by archive path."""

    def __init__(self) -> None:
        self.blobs: dict[str, BlobInfo] = {}
        self.metadata: dict[str, bytes] = {}
        self.links: dict[str, str] = {}

    def blob(self, path: str, what: str) -> BlobInfo:
        path = _clean(path)
        for _ in range(16):  # docker 20 links a repeated layer.tar to its first copy
            if path in self.blobs:
                return self.blobs[path]
            if path not in self.links:
                break
            path = self.links[path]
        raise InvalidParameter(f"invalid image archive: {what} {path} is missing from the archive")

    def json(self, path: str) -> object:
        try:
            return json.loads(self.metadata[path])
        except ValueError as exc:
            raise InvalidParameter(f"invalid image archive: {path} is not valid JSON: {exc}") from None


def _clean(path: str) -> str:
    path = posixpath.normpath(path.lstrip("/"))
    return "" if path == "." else path


def _is_metadata(path: str) -> bool:
    head, _, base = path.rpartition("/")
    return path in _METADATA_NAMES or (base in _LEGACY_METADATA and "/" not in head and head != "blobs")


def read_archive(stream: BinaryIO, content: ContentStore, lease: str) -> ArchiveContents:
    """Ingest every data file of the archive read from stream (plain, gzip, bzip2 or xz)."""
    contents = ArchiveContents()
    try:
        with tarfile.open(fileobj=stream, mode="r|*", bufsize=_READ_BUFFER) as tar:
            for member in tar:
                _read_member(tar, member, contents, content, lease)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the host's trouble (a full disk), not the archive's
        raise InvalidParameter(f"invalid image archive: {exc or type(exc).__name__}") from None
    return contents


def _read_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, contents: ArchiveContents, content: ContentStore, lease: str
) -> None:
    path = _clean(member.name)
    if member.issym() or member.islnk():
        base = posixpath.dirname(path) if member.issym() else ""
        contents.links[path] = _clean(posixpath.join(base, member.linkname))
    elif not member.isreg():
        return
    elif _is_metadata(path):
        if member.size > _METADATA_LIMIT:
            raise InvalidParameter(f"invalid image archive: {path} is too large ({member.size} bytes)")
        contents.metadata[path] = tar.extractfile(member).read()
    else:
        contents.blobs[path] = content.ingest(tar.extractfile(member), size=member.size, lease=lease)


def read_layout_dir(path: str, content: ContentStore, lease: str) -> ArchiveContents:
    """Ingest an OCI image layout directory as read_archive() ingests a tarball."""
    contents = ArchiveContents()
    for name in (INDEX_JSON, OCI_LAYOUT, MANIFEST_JSON, REPOSITORIES):
        try:
            with open(os.path.join(path, name), "rb") as f:
                contents.metadata[name] = f.read(_METADATA_LIMIT + 1)
        except FileNotFoundError:
            pass
    blobs = os.path.join(path, "blobs")
    for directory, _, files in os.walk(blobs):
        for name in files:
            full = os.path.join(directory, name)
            with open(full, "rb") as f:
                contents.blobs[_clean(os.path.relpath(full, path))] = content.ingest(f, lease=lease)
    return contents


# -- finding the images -----------------------------------------------------------------


def find_images(contents: ArchiveContents, content: ContentStore, lease: str) -> list[FoundImage]:
    """The images an ingested archive holds, with the names it gives them.

    An archive with an index.json is read as OCI (its manifests are kept byte for byte);
    one with only manifest.json is a docker 20 save, whose manifests are made here.
    """
    if INDEX_JSON in contents.metadata:
        images = _oci_images(contents, content)
    elif MANIFEST_JSON in contents.metadata:
        images = []
    else:
        raise InvalidParameter("invalid image archive: it has neither manifest.json nor index.json")
    if MANIFEST_JSON in contents.metadata:
        images = _merge_docker_manifest(contents, content, lease, images)
    if not images:
        raise InvalidParameter("invalid image archive: it holds no image")
    return images


def _blob_path(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded}"


def _verified(contents: ArchiveContents, descriptor: m.Descriptor, what: str) -> BlobInfo:
    """The blob a descriptor names, checked: its name, digest and size must all agree."""
    path = _blob_path(descriptor.digest)
    blob = contents.blob(path, what)
    if blob.digest != descriptor.digest:
        raise InvalidParameter(f"invalid image archive: digest mismatch: {path} holds {blob.digest}")
    if blob.size != descriptor.size:
        raise InvalidParameter(
            f"invalid image archive: size mismatch for {descriptor.digest}: "
            f"the descriptor says {descriptor.size} bytes, the blob has {blob.size}"
        )
    return blob


def _read(content: ContentStore, digest: str) -> bytes:
    with content.open(digest) as f:
        return f.read()


def _oci_images(contents: ArchiveContents, content: ContentStore) -> list[FoundImage]:
    images: dict[str, FoundImage] = {}  # by manifest digest: an index lists a manifest once per name
    for descriptor in m.parse_index(contents.metadata[INDEX_JSON]):
        for manifest_descriptor in _manifests(contents, content, descriptor):
            found = images.get(manifest_descriptor.digest)
            if found is None:
                _verified(contents, manifest_descriptor, "manifest")
                parsed = m.parse_manifest(_read(content, manifest_descriptor.digest), manifest_descriptor.media_type)
                _verified(contents, parsed.config, "image config")
                for layer in parsed.layers:
                    _verified(contents, layer, "layer")
                found = FoundImage(manifest_descriptor, parsed.config, parsed.layers, [])
            names = list(dict.fromkeys([*found.names, *_names(descriptor)]))
            images[manifest_descriptor.digest] = found._replace(names=names)
    return list(images.values())


def _manifests(contents: ArchiveContents, content: ContentStore, descriptor: m.Descriptor) -> list[m.Descriptor]:
    """The image manifest a descriptor leads to: itself, or the host's entry of an index."""
    if descriptor.media_type in m.MANIFEST_TYPES:
        return [descriptor]
    if descriptor.media_type in m.INDEX_TYPES:
        _verified(contents, descriptor, "index")
        entries = m.parse_index(_read(content, descriptor.digest), descriptor.media_type)
        try:
            return [m.select_platform(entries, m.host_platform())]
        except NotFound:
            return []  # docker loads the host's platform and skips the rest
    raise InvalidParameter(f"invalid image archive: unknown media type {descriptor.media_type!r} in index.json")


def _names(descriptor: m.Descriptor) -> list[str]:
    annotations = descriptor.annotations or {}
    name = annotations.get(IMAGE_NAME_ANNOTATION)
    if name is None:
        ref_name = annotations.get(REF_NAME_ANNOTATION, "")
        # The OCI layout's ref.name is often a bare tag ("latest"): that names no repository.
        name = ref_name if ("/" in ref_name or ":" in ref_name) else None
    return [str(_tag_reference(name, "index.json"))] if name else []


def _tag_reference(name: str, where: str) -> reference.Reference:
    try:
        ref = reference.parse(name)
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid image archive: {where}: {exc}") from None
    return ref.with_digest(None) if ref.tag else ref


def _merge_docker_manifest(
    contents: ArchiveContents, content: ContentStore, lease: str, oci: list[FoundImage]
) -> list[FoundImage]:
    """Add manifest.json's images and RepoTags to what index.json said (docker 25 writes both)."""
    entries = contents.json(MANIFEST_JSON)
    if not isinstance(entries, list):
        raise InvalidParameter("invalid image archive: manifest.json must be a list")
    by_config = {image.config.digest: image for image in oci}
    for i, entry in enumerate(entries):
        where = f"manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidParameter(f"invalid image archive: {where}.Config must be a path")
        layer_paths = entry.get("Layers") or []
        if not isinstance(layer_paths, list) or not all(isinstance(p, str) for p in layer_paths):
            raise InvalidParameter(f"invalid image archive: {where}.Layers must be a list of paths")
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidParameter(f"invalid image archive: {where}.RepoTags must be a list of names")
        names = [str(_tag_reference(tag, f"{where}.RepoTags")) for tag in tags]
        config = contents.blob(entry["Config"], "image config")
        found = by_config.get(config.digest)
        if found is None:
            layers = [layer_descriptor(content, contents.blob(p, "layer")) for p in layer_paths]
            found = make_manifest(content, lease, m.Descriptor(m.OCI_CONFIG, config.digest, config.size), layers)
        by_config[config.digest] = found._replace(names=list(dict.fromkeys([*found.names, *names])))
    return list(by_config.values())


def layer_descriptor(content: ContentStore, blob: BlobInfo) -> m.Descriptor:
    """A descriptor for a layer blob of unknown media type, by its compression."""
    with content.open(blob.digest) as f:
        compression = detect_compression(f.read(8))
    media_type = {"gzip": m.OCI_LAYER_GZIP, "zstd": m.OCI_LAYER_ZSTD}.get(compression, m.OCI_LAYER)
    return m.Descriptor(media_type, blob.digest, blob.size)


def make_manifest(
    content: ContentStore, lease: str, config_descriptor: m.Descriptor, layers: list[m.Descriptor]
) -> FoundImage:
    """Ingest an OCI manifest for an image that has none yet (docker 20 saves, imports, commits)."""
    document = {
        "schemaVersion": 2,
        "mediaType": m.OCI_MANIFEST,
        "config": _descriptor_json(config_descriptor),
        "layers": [_descriptor_json(layer) for layer in layers],
    }
    data = json.dumps(document, separators=(",", ":")).encode()
    blob = content.ingest(io.BytesIO(data), lease=lease)
    return FoundImage(m.Descriptor(m.OCI_MANIFEST, blob.digest, blob.size), config_descriptor, layers, [])


def _descriptor_json(descriptor: m.Descriptor) -> dict:
    return {"mediaType": descriptor.media_type, "digest": descriptor.digest, "size": descriptor.size}


# -- writing ----------------------------------------------------------------------------


class SavedImage(NamedTuple):
    manifest: m.Descriptor
    config: m.Descriptor
    layers: list[m.Descriptor]
    names: list[str]  # normalised references with tags


def write_archive(out: BinaryIO, images: Iterable[SavedImage], content: ContentStore) -> None:
    """Write images as docker 25 saves them: an OCI layout plus manifest.json and repositories.

    Blobs are written as stored, so save -> load -> save gives the same blobs.
    Members carry no timestamps, owners or modes of this host: the same images
    always give the same archive.
    """
    images = list(images)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        written: set[str] = set()
        for image in images:
            for descriptor in (*image.layers, image.config, image.manifest):
                if descriptor.digest not in written:
                    written.add(descriptor.digest)
                    with content.open(descriptor.digest) as blob:
                        _add_file(tar, _blob_path(descriptor.digest), blob, descriptor.size)
        index, manifest_json, repositories = _archive_metadata(images)
        _add_json(tar, INDEX_JSON, index)
        _add_json(tar, MANIFEST_JSON, manifest_json)
        _add_json(tar, OCI_LAYOUT, {"imageLayoutVersion": "1.0.0"})
        if repositories:
            _add_json(tar, REPOSITORIES, repositories)


def _archive_metadata(images: list[SavedImage]) -> tuple[dict, list, dict]:
    index_entries = []
    manifest_json = []
    repositories: dict[str, dict[str, str]] = {}
    for image in images:
        refs = [reference.parse(name) for name in image.names]
        for ref in refs or [None]:
            entry = _descriptor_json(image.manifest)
            if ref is not None:
                entry["annotations"] = {IMAGE_NAME_ANNOTATION: str(ref), REF_NAME_ANNOTATION: ref.tag}
            index_entries.append(entry)
        manifest_json.append(
            {
                "Config": _blob_path(image.config.digest),
                "RepoTags": [ref.familiar() for ref in refs],
                "Layers": [_blob_path(layer.digest) for layer in image.layers],
            }
        )
        for ref in refs:
            top = image.layers[-1].digest.partition(":")[2] if image.layers else ""
            repositories.setdefault(ref.familiar_name, {})[ref.tag] = top
    index = {"schemaVersion": 2, "mediaType": m.OCI_INDEX, "manifests": index_entries}
    return index, manifest_json, repositories


def _tarinfo(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _tarinfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: BinaryIO, size: int) -> None:
    info = _tarinfo(name)
    info.size = size
    info.mode = 0o444
    tar.addfile(info, data)


def _add_json(tar: tarfile.TarFile, name: str, document: object) -> None:
    data = json.dumps(document, separators=(",", ":")).encode()
    _add_file(tar, name, io.BytesIO(data), len(data))
