"""The image service: docker's `image` verbs over the content store, the snapshotter and the metadata store.

    <data root>/blobs/sha256/<hex>     manifests, configs and layer blobs (dockyard.image.content)
    <data root>/overlay/ (or native/)  one committed snapshot per layer, named by chain ID; one active per container
    <data root>/metadata.db            images and tags (dockyard.metadata)

Every operation that adds an image works in the same order, so that a kill -9
at any point leaves nothing half-made that anyone can see: blobs are ingested
under a lease (verified, or nothing), layers are unpacked into snapshots that
nothing names yet, and one transaction then records the image and its tags.
What a crash strands (unreferenced blobs and snapshots, abandoned unpacks) is
collected by repair() at the next start.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from dockyard import timestamps
from dockyard.core.content import ContentStore
from dockyard.core.snapshot import Kind, Mount, Snapshotter
from dockyard.errors import Conflict, InvalidParameter, NotFound, Unavailable, Unsupported
from dockyard.image import archive, init_layer, reference
from dockyard.image import manifest as m
from dockyard.image.changes import apply_changes
from dockyard.image.content import LocalContentStore
from dockyard.image.layer import CompressingWriter, diff_layer
from dockyard.image.layer import changes as layer_changes
from dockyard.image.unpack import UNPACKING, Layer, layer_of, remove_abandoned, unpack, unpack_layer
from dockyard.metadata.db import Database
from dockyard.metadata.images import ImageRecord, ImageTable
from dockyard.services import filters as filters_
from dockyard.services.events import EventBus
from dockyard.snapshot.mounts import layers, read_only

CONTAINER_LABEL = "dockyard.container"
IMAGE_LABEL = "dockyard.image"
_LIST_FILTERS = frozenset({"dangling", "label", "reference", "before", "since", "until"})
_PRUNE_FILTERS = frozenset({"dangling", "label", "label!", "until"})
# The keys docker's image inspect shows in Config, filled in when an image's config lacks them.
_CONFIG_DEFAULTS = {
    "User": "",
    "ExposedPorts": None,
    "Env": None,
    "Cmd": None,
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


class Image(NamedTuple):
    """An image as the store holds it, with its parsed manifest and config."""

    record: ImageRecord
    manifest: m.Manifest
    config: dict
    tags: list[str]  # normalised references

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def chain_ids(self) -> list[str]:
        return m.chain_ids(self.config["rootfs"]["diff_ids"])


class ContainerUse(NamedTuple):
    container_id: str
    image_id: str
    running: bool


def short_id(image_id: str) -> str:
    return image_id.partition(":")[2][:12]


def _epoch(stamp: str) -> int:
    """Whole seconds since the epoch, as the API gives images' times; 0 when absent or unreadable."""
    return int(timestamps.seconds(stamp))


def _canonical(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class ImageService:
    """docker's image operations; one instance owns a data root (see the module docstring)."""

    def __init__(
        self,
        root: str,
        *,
        content: ContentStore,
        snapshotter: Snapshotter,
        db: Database,
        running: Callable[[str], bool] = lambda container_id: False,
    ) -> None:
        self.root = root
        self.content = content
        self.snapshotter = snapshotter
        self.images = ImageTable(db)
        # Whether a container is running: the container service knows; without one, none is.
        self.running = running
        self.events: EventBus | None = None  # set by the daemon: docker events
        self._pinned: Counter[str] = Counter()  # chain IDs an operation in flight is about to name
        self._lock = threading.Lock()
        # Held by collect(), and by imports and commits from unpacking their new layer (whose chain
        # ID nobody knows before) until the image naming it is recorded.
        self._collecting = threading.RLock()

    @classmethod
    def open(cls, root: str, *, snapshotter: str = "overlay", **kwargs) -> ImageService:
        from dockyard.snapshot.native import NativeSnapshotter
        from dockyard.snapshot.overlay import OverlaySnapshotter

        kinds = {"overlay": OverlaySnapshotter, "native": NativeSnapshotter}
        if snapshotter not in kinds:
            raise InvalidParameter(f"unknown snapshotter {snapshotter!r}: choose overlay or native")
        os.makedirs(root, mode=0o700, exist_ok=True)
        service = cls(
            root,
            content=LocalContentStore(root),
            snapshotter=kinds[snapshotter](os.path.join(root, snapshotter)),
            db=Database(os.path.join(root, "metadata.db")),
            **kwargs,
        )
        service.repair()
        return service

    def close(self) -> None:
        self.snapshotter.close()
        self.images.db.close()

    # -- finding images ------------------------------------------------------------------

    def _load(self, record: ImageRecord, tags: list[str] | None = None) -> Image:
        manifest = m.parse_manifest(self._blob(record.target), record.media_type)
        config = m.parse_config(self._blob(manifest.config.digest))
        return Image(record, manifest, config, self.images.tags_of(record.id) if tags is None else tags)

    def _blob(self, digest: str) -> bytes:
        with self.content.open(digest) as f:
            return f.read()

    def get(self, name: str) -> Image:
        """The image a name, an ID or an ID prefix refers to, as docker resolves them.

        Raises NotFound with docker's "No such image: <name>", which clients match on.
        """
        record = self._resolve(name)
        if record is None:
            raise NotFound(f"No such image: {_as_docker_shows(name)}")
        return self._load(record)

    def _resolve(self, name: str) -> ImageRecord | None:
        if reference.is_digest_id(name):
            return self.images.get(name if name.startswith("sha256:") else f"sha256:{name}")
        try:
            ref = reference.parse(name)
        except InvalidParameter:
            ref = None
        if ref is not None and ref.digest is None:
            image_id = self.images.resolve(str(ref))
            if image_id is not None:
                return self.images.get(image_id)
        prefix = name.removeprefix("sha256:")
        if prefix and len(prefix) < 64 and not prefix.strip("0123456789abcdef"):
            found = self.images.with_prefix(prefix)
            if len(found) > 1:
                raise NotFound(f"No such image: {name} (the ID prefix is ambiguous)")
            return found[0] if found else None
        if ref is None:
            reference.parse(name)  # raise its message: the name is malformed
        return None

    def count(self) -> int:
        return len(self.images.all())

    def _all(self) -> list[Image]:
        tags = self.images.all_tags()
        return [self._load(record, tags.get(record.id, [])) for record in self.images.all()]

    # -- containers' use of images -------------------------------------------------------

    def _uses(self) -> list[ContainerUse]:
        uses = []
        for info in self.snapshotter.walk():
            if CONTAINER_LABEL in info.labels:
                container_id = info.labels[CONTAINER_LABEL]
                uses.append(ContainerUse(container_id, info.labels.get(IMAGE_LABEL, ""), self.running(container_id)))
        return uses

    @staticmethod
    def _rootfs_key(container_id: str) -> str:
        return f"container-{container_id}"

    def create_rootfs(self, container_id: str, name: str) -> tuple[Image, list[Mount]]:
        """A writable snapshot for a new container over its init layer over the image; returns the image and
        the mounts. The init layer (dockyard.image.init_layer) holds the mount points the runtime needs."""
        image = self.get(name)
        chain = image.chain_ids
        init = self._init_key(container_id)
        key = f"dy-unpack-init-{container_id}"
        # Pinned until the container's snapshot is its child: a collect() in between (another
        # container's removal) would otherwise delete the committed init layer nothing refers to yet.
        with self._pinning([*chain, init]):
            init_mounts = self.snapshotter.prepare(key, chain[-1] if chain else None, labels={UNPACKING: "1"})
            try:
                with self._mounted(init_mounts) as root:
                    init_layer.populate(root)
                self.snapshotter.commit(init, key)
            except BaseException:
                with contextlib.suppress(NotFound):
                    self.snapshotter.remove(key)
                raise
            labels = {CONTAINER_LABEL: container_id, IMAGE_LABEL: image.id}
            try:
                mounts = self.snapshotter.prepare(self._rootfs_key(container_id), init, labels)
            except BaseException:
                self.snapshotter.remove(init)
                raise
        return image, mounts

    @staticmethod
    def _init_key(container_id: str) -> str:
        return f"init-{container_id}"

    @contextlib.contextmanager
    def _mounted(self, mounts: list[Mount]) -> Iterator[str]:
        from dockyard.kernel.mounts import mount_all, unmount_all

        target = tempfile.mkdtemp(prefix="dy-mnt-", dir=self.root)
        try:
            mount_all(mounts, target)
            try:
                yield target
            finally:
                unmount_all(target)
        finally:
            os.rmdir(target)

    def rootfs_mounts(self, container_id: str) -> list[Mount]:
        return self.snapshotter.mounts(self._rootfs_key(container_id))

    def layers_size(self) -> int:
        """Bytes all image layers hold on disk, each once (docker's LayersSize)."""
        return sum(
            self.snapshotter.usage(info.key).size
            for info in self.snapshotter.walk()
            if info.kind == Kind.COMMITTED and UNPACKING not in info.labels and not info.key.startswith("init-")
        )

    def rootfs_usage(self, container_id: str) -> int:
        """Bytes the container's own writable layer holds on disk (docker's SizeRw)."""
        return self.snapshotter.usage(self._rootfs_key(container_id)).size

    def remove_rootfs(self, container_id: str) -> None:
        self.snapshotter.remove(self._rootfs_key(container_id))
        with contextlib.suppress(NotFound):
            self.snapshotter.remove(self._init_key(container_id))

    def container_changes(self, container_id: str) -> list[tuple[str, str]]:
        """docker diff: ("A" | "C" | "D", path) for what the container changed in its image."""
        found = layers(self.rootfs_mounts(container_id))
        if not found.overlay:
            raise Unsupported("docker diff needs the overlay snapshotter: a native snapshot holds no change list")
        return layer_changes(list(found.lowers), found.upper)

    def mounted_rootfs(self, container_id: str, *, writable: bool = False) -> contextlib.AbstractContextManager[str]:
        """The container's filesystem mounted on a temporary directory, for export and cp: read-only
        (which may be done while it runs), or writable (only while nothing else mounts it)."""
        mounts = self.rootfs_mounts(container_id)
        return self._mounted(mounts if writable else read_only(mounts))

    def export(self, container_id: str, out: BinaryIO) -> None:
        """docker export: the container's whole filesystem as one tar stream."""
        with self.mounted_rootfs(container_id) as tree:
            diff_layer([], tree, out)

    # -- adding images ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _pinning(self, chain_ids: list[str]) -> Iterator[None]:
        with self._lock:
            self._pinned.update(chain_ids)
        try:
            yield
        finally:
            with self._lock:
                self._pinned.subtract(chain_ids)
                self._pinned += Counter()  # drop zero counts

    def _add(self, found: archive.FoundImage, *, parent: str = "") -> tuple[Image, dict[str, str]]:
        """Unpack a found image's layers and record it under its names; return it and the tags it took."""
        config_blob = self._blob(found.config.digest)
        config = m.parse_config(config_blob)
        diff_ids = config["rootfs"]["diff_ids"]
        with self._pinning(m.chain_ids(diff_ids)):
            unpacked = unpack(self.content, self.snapshotter, found.layers, diff_ids)
            record = ImageRecord(
                id=m.image_id(config_blob),
                target=found.manifest.digest,
                media_type=found.manifest.media_type,
                target_size=found.manifest.size,
                created=config.get("created") or "",
                parent=parent,
                size=sum(layer.size for layer in unpacked),
                added=time.time(),
            )
            moved = self.images.add(record, found.names)
        return self._load(self.images.get(record.id) or record), moved

    @contextlib.contextmanager
    def _adding(self) -> Iterator[str]:
        """A lease for an operation that adds an image; if it fails, what it brought is deleted.

        The lease ends before the clean-up, so that the clean-up can see its blobs as unneeded.
        """
        try:
            with self.content.lease() as lease:
                yield lease
        except BaseException:
            with contextlib.suppress(Exception):
                self.collect()
            raise

    def load(self, stream: BinaryIO) -> list[str]:
        """docker load: every image in the archive; returns docker's "Loaded image: …" lines."""
        with self._adding() as lease:
            contents = archive.read_archive(stream, self.content, lease)
            return self._add_all(archive.find_images(contents, self.content, lease))

    def load_layout(self, path: str, names: tuple[str, ...] = ()) -> list[str]:
        """Load an OCI image layout directory; names tag its (single) image when given."""
        with self._adding() as lease:
            contents = archive.read_layout_dir(path, self.content, lease)
            found = archive.find_images(contents, self.content, lease)
            if names:
                if len(found) != 1:
                    raise InvalidParameter(f"{path} holds {len(found)} images: cannot give them one name")
                found = [found[0]._replace(names=[str(reference.parse(n)) for n in names])]
            return self._add_all(found)

    def _add_all(self, found: list[archive.FoundImage]) -> list[str]:
        messages = []
        for item in found:
            image, moved = self._add(item)
            self._event("load", image.id, reference.parse(item.names[0]).familiar() if item.names else image.id)
            for name, old in moved.items():
                familiar = reference.parse(name).familiar()
                messages.append(
                    f"The image {familiar} already exists, renaming the old one with ID {old} to empty string"
                )
            names = item.names or [None]
            for name in names:
                messages.append(
                    f"Loaded image: {reference.parse(name).familiar()}" if name else f"Loaded image ID: {image.id}"
                )
        return messages

    def tag(self, name: str, target: str) -> None:
        """docker tag: target ("repo[:tag]") names the image name refers to."""
        image = self.get(name)
        ref = reference.parse(target)
        if ref.digest is not None:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        self.images.tag(image.id, str(ref))
        self._event("tag", image.id, ref.familiar())

    def import_image(
        self,
        stream: BinaryIO,
        *,
        name: str | None = None,
        changes: list[str] = (),
        message: str = "",
        source: str = "-",
        platform: m.Platform | None = None,
    ) -> Image:
        """docker import: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image."""
        ref = reference.parse(name) if name else None
        platform = platform or m.host_platform()
        config_changes = apply_changes({}, list(changes))
        with self._adding() as lease, self._collecting:
            blob = self.content.ingest(stream, lease=lease)
            layer_descriptor = archive.layer_descriptor(self.content, blob)
            layer = unpack_layer(self.content, self.snapshotter, layer_descriptor, None)
            created = timestamps.now()
            history_comment = message or f"Imported from {source}"
            config = {
                "architecture": platform.architecture,
                **({"variant": platform.variant} if platform.variant else {}),
                "os": platform.os,
                "created": created,
                "comment": history_comment,
                "config": config_changes,
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                "history": [{"created": created, "comment": history_comment}],
            }
            found = self._store_image(config, [layer_descriptor], [str(ref)] if ref else [], lease)
            image = self._add(found)[0]
        self._event("import", image.id, ref.familiar() if ref else image.id)
        return image

    def import_url(self, url: str, **options) -> Image:
        """docker import URL: the rootfs tarball is downloaded (http or https) and imported as it arrives."""
        import urllib.error
        import urllib.request

        if not url.startswith(("http://", "https://")):
            raise InvalidParameter(f"cannot import from {url!r}: only http and https URLs are supported")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return self.import_image(response, source=url, **options)
        except urllib.error.HTTPError as exc:
            raise Unavailable(f"cannot import from {url}: the server answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise Unavailable(f"cannot import from {url}: {getattr(exc, 'reason', exc)}") from None

    def _store_image(
        self, config: dict, layer_blobs: list[m.Descriptor], names: list[str], lease: str
    ) -> archive.FoundImage:
        """Ingest a new image's config and manifest; the layers are in the store already."""
        config_blob = self.content.ingest(io.BytesIO(_canonical(config)), lease=lease)
        config_descriptor = m.Descriptor(m.OCI_CONFIG, config_blob.digest, config_blob.size)
        found = archive.make_manifest(self.content, lease, config_descriptor, layer_blobs)
        return found._replace(names=names)

    def commit(
        self,
        container_id: str,
        *,
        container_config: dict,
        name: str | None = None,
        changes: list[str] = (),
        comment: str = "",
        author: str = "",
        created_by: str = "",
    ) -> Image:
        """docker commit: the container's changes become a new layer over its image.

        container_config is the container's own config (Cmd, Env, ... as the container service
        holds it); the changes are applied on top of it.
        """
        ref = reference.parse(name) if name else None
        info = self.snapshotter.stat(self._rootfs_key(container_id))
        parent = self.get(info.labels[IMAGE_LABEL])
        found_layers = layers(self.rootfs_mounts(container_id))
        if not found_layers.overlay:
            raise Unsupported("commit needs the overlay snapshotter: a native snapshot holds no change list")
        with self._adding() as lease, self._collecting:
            blob = self._write_diff(found_layers.lowers, found_layers.upper, lease)
            chain = parent.chain_ids
            layer = unpack_layer(self.content, self.snapshotter, blob, chain[-1] if chain else None)
            created = timestamps.now()
            config = {key: value for key, value in parent.config.items() if key not in ("history", "rootfs", "config")}
            config.update(
                created=created,
                config=apply_changes(container_config, list(changes)),
                rootfs={"type": "layers", "diff_ids": [*parent.config["rootfs"]["diff_ids"], layer.diff_id]},
                history=[
                    *(parent.config.get("history") or []),
                    {
                        "created": created,
                        **({"created_by": created_by} if created_by else {}),
                        **({"author": author} if author else {}),
                        **({"comment": comment} if comment else {}),
                    },
                ],
            )
            for key, value in (("comment", comment), ("author", author), ("container", container_id)):
                config.pop(key, None)
                if value:
                    config[key] = value
            found = self._store_image(config, [*parent.manifest.layers, blob], [str(ref)] if ref else [], lease)
            return self._add(found, parent=parent.id)[0]

    def _write_diff(self, lowers: tuple[str, ...], upper: str, lease: str) -> m.Descriptor:
        """The changes in upper as a gzip layer blob in the content store."""
        with tempfile.TemporaryFile(dir=self.root) as spool:
            with CompressingWriter(spool, "gzip") as writer:
                diff_layer(list(lowers), upper, writer)
            spool.seek(0)
            blob = self.content.ingest(spool, expected=writer.digest, lease=lease)
        return m.Descriptor(m.OCI_LAYER_GZIP, blob.digest, blob.size)

    # -- reading images --------------------------------------------------------------------

    def inspect(self, name: str) -> dict:
        """docker image inspect, in the Engine API's ImageInspect shape."""
        image = self.get(name)
        config = image.config
        container_config = {**_CONFIG_DEFAULTS, **(config.get("config") or {})}
        last_tagged = image.record.last_tagged
        return {
            "Id": image.id,
            "RepoTags": [reference.parse(tag).familiar() for tag in image.tags],
            "RepoDigests": [],
            "Parent": image.record.parent,
            "Comment": config.get("comment", ""),
            "Created": image.record.created,
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""),
            "Config": container_config,
            "Architecture": config.get("architecture", ""),
            **({"Variant": config["variant"]} if config.get("variant") else {}),
            "Os": config.get("os", ""),
            **({"OsVersion": config["os.version"]} if config.get("os.version") else {}),
            "Size": image.record.size,
            "GraphDriver": {"Name": self.driver_name(), "Data": {}},
            "RootFS": {"Type": "layers", "Layers": list(config["rootfs"]["diff_ids"])},
            "Metadata": {
                "LastTagTime": timestamps.from_seconds(last_tagged) if last_tagged else "0001-01-01T00:00:00Z"
            },
            "Descriptor": {
                "mediaType": image.record.media_type,
                "digest": image.record.target,
                "size": image.record.target_size,
            },
        }

    def driver_name(self) -> str:
        return type(self.snapshotter).__name__.removesuffix("Snapshotter").lower()

    def history(self, name: str) -> list[dict]:
        """docker history: newest first; the entries that made a layer carry its ID and size."""
        image = self.get(name)
        layer_sizes = iter(self._layer(chain).size for chain in image.chain_ids)
        entries = []
        for entry in image.config.get("history") or []:
            empty = entry.get("empty_layer", False)
            entries.append(
                {
                    "Id": "<missing>",
                    "Created": _epoch(entry.get("created", "")),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": [],
                    "Size": 0 if empty else next(layer_sizes, 0),
                    "Comment": entry.get("comment", ""),
                }
            )
        entries.reverse()
        if entries:
            entries[0]["Id"] = image.id
            entries[0]["Tags"] = [reference.parse(tag).familiar() for tag in image.tags]  # the swagger: never null
        return entries

    def _layer(self, chain_id: str) -> Layer:
        layer = layer_of(self.snapshotter, chain_id)
        if layer is None:
            raise NotFound(f"layer {chain_id} is not in the store")
        return layer

    def list(self, filters: dict[str, list[str]] | None = None, *, show_all: bool = False) -> list[dict]:
        """docker images: ImageSummary entries, newest first."""
        filters = filters or {}
        filters_.check(filters, _LIST_FILTERS)
        images = self._all()
        uses = Counter(use.image_id for use in self._uses())
        with_children = {image.record.parent for image in images if image.record.parent}
        selected = []
        for image in images:
            if not show_all and not image.tags and image.id in with_children:
                continue  # an intermediate image, as `docker images` hides them without -a
            if self._matches(image, filters, images):
                selected.append(image)
        selected.sort(key=lambda image: (_epoch(image.record.created), image.record.added), reverse=True)
        return [self._summary(image, uses[image.id]) for image in selected]

    def _summary(self, image: Image, containers: int) -> dict:
        return {
            "Id": image.id,
            "ParentId": image.record.parent,
            "RepoTags": [reference.parse(tag).familiar() for tag in image.tags],
            "RepoDigests": [],
            "Created": _epoch(image.record.created),
            "Size": image.record.size,
            "SharedSize": -1,
            "Labels": (image.config.get("config") or {}).get("Labels") or {},
            "Containers": containers,
            "Descriptor": {
                "mediaType": image.record.media_type,
                "digest": image.record.target,
                "size": image.record.target_size,
            },
        }

    def _matches(self, image: Image, filters: dict[str, list[str]], images: list[Image]) -> bool:
        labels = (image.config.get("config") or {}).get("Labels") or {}
        created = _epoch(image.record.created)
        for key, values in filters.items():
            if key == "dangling" and not all((not image.tags) == filters_.boolean(v, key) for v in values):
                return False
            if key == "label" and not all(filters_.label_matches(labels, v) for v in values):
                return False
            if key == "label!" and any(filters_.label_matches(labels, v) for v in values):
                return False
            if key == "reference" and not any(_reference_matches(image.tags, v) for v in values):
                return False
            if key == "before" and not all(created < _epoch(self.get(v).record.created) for v in values):
                return False
            if key == "since" and not all(created > _epoch(self.get(v).record.created) for v in values):
                return False
            if key == "until" and not all(created < filters_.until(v) for v in values):
                return False
        return True

    # -- removing images -------------------------------------------------------------------

    def remove(self, name: str, *, force: bool = False, prune: bool = True) -> list[dict]:
        """docker rmi: untags or deletes as docker does; returns Untagged/Deleted records."""
        records = self._remove(name, force=force, prune=prune)
        self.collect()
        for record in records:
            for action, what in record.items():
                self._event("untag" if action == "Untagged" else "delete", what, what)
        return records

    def _event(self, action: str, image_id: str, name: str) -> None:
        if self.events is not None:
            self.events.emit("image", action, image_id, {"name": name})

    def _remove(self, name: str, *, force: bool, prune: bool) -> list[dict]:
        image = self.get(name)
        records: list[dict] = []
        uses = [use for use in self._uses() if use.image_id == image.id]
        by_id = self._names_id(name, image.id)
        quiet = False
        if not by_id:
            ref = str(reference.parse(name))
            if not force and len(image.tags) == 1 and uses:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - container '
                    f"{uses[0].container_id[:12]} is using its referenced image {short_id(image.id)}"
                )
            self.images.untag(ref)
            records.append({"Untagged": reference.parse(ref).familiar()})
            if len(image.tags) > 1:
                return records
            quiet = True
        elif len(image.tags) == 1:
            self._check_conflicts(image, uses, soft=not force, references=False)
            self.images.untag(image.tags[0])
            records.append({"Untagged": reference.parse(image.tags[0]).familiar()})
        self._delete(image.id, records, force=force, prune=prune, quiet=quiet)
        return records

    def _names_id(self, name: str, image_id: str) -> bool:
        """Whether name is the image's ID or a prefix of it, rather than a reference."""
        hex_id = image_id.partition(":")[2]
        plain = name.removeprefix("sha256:")
        return bool(plain) and hex_id.startswith(plain) and self.images.resolve(_normalised(name)) is None

    def _check_conflicts(self, image: Image, uses: list[ContainerUse], *, soft: bool, references: bool) -> None:
        if self.images.children(image.id):
            raise _delete_conflict(image.id, "image has dependent child images", hard=True)
        running = [use for use in uses if use.running]
        if running:
            raise _delete_conflict(
                image.id, f"image is being used by running container {running[0].container_id[:12]}", hard=True
            )
        if not soft:
            return
        if references and self.images.tags_of(image.id):
            raise _delete_conflict(image.id, "image is referenced in multiple repositories", hard=False)
        if uses:
            raise _delete_conflict(
                image.id, f"image is being used by stopped container {uses[0].container_id[:12]}", hard=False
            )

    def _delete(self, image_id: str, records: list[dict], *, force: bool, prune: bool, quiet: bool) -> None:
        image = self._load(self.images.get(image_id))
        uses = [use for use in self._uses() if use.image_id == image_id]
        try:
            self._check_conflicts(image, uses, soft=not force, references=True)
        except Conflict:
            if quiet and (image.tags or uses or self.images.children(image_id)):
                return  # the untag was the whole job: the image stays, as docker leaves it
            raise
        for tag in image.tags:
            self.images.untag(tag)
            records.append({"Untagged": reference.parse(tag).familiar()})
        self.images.delete(image_id)
        records.append({"Deleted": image_id})
        parent = image.record.parent
        if prune and parent and self.images.get(parent) is not None:
            with contextlib.suppress(Conflict):
                self._delete(parent, records, force=False, prune=True, quiet=True)

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict:
        """docker image prune: dangling images, or with dangling=false every image no container uses.

        SpaceReclaimed is measured on disk (snapshots' usage and blobs freed), not estimated.
        """
        filters = dict(filters or {})
        filters_.check(filters, _PRUNE_FILTERS)
        dangling_only = all(filters_.boolean(v, "dangling") for v in filters.pop("dangling", ["true"]))
        used = {use.image_id for use in self._uses()}
        records: list[dict] = []
        before = self._disk_usage()
        for image in self._all():
            if image.id in used or (dangling_only and image.tags) or not self._matches(image, filters, []):
                continue
            if self.images.get(image.id) is None or self.images.children(image.id):
                continue
            # As docker prunes: each name first, then the image by ID if the names did not take it.
            with contextlib.suppress(Conflict, NotFound):
                for tag in image.tags:
                    records += self._remove(tag, force=False, prune=True)
                if self.images.get(image.id) is not None:
                    records += self._remove(image.id, force=False, prune=True)
        self.collect()
        return {"ImagesDeleted": records or None, "SpaceReclaimed": max(0, before - self._disk_usage())}

    def _disk_usage(self) -> int:
        total = sum(blob.size for blob in self.content.walk())
        for info in self.snapshotter.walk():
            total += self.snapshotter.usage(info.key).size
        return total

    # -- saving ------------------------------------------------------------------------------

    def save(self, names: list[str], out: BinaryIO) -> None:
        """docker save: the named images in one archive; by tag with that tag, by ID with none (so that
        load answers "Loaded image ID: ...", as dockerd's save does)."""
        wanted: dict[str, tuple[Image, list[str]]] = {}
        for name in names:
            image = self.get(name)
            _, tags = wanted.setdefault(image.id, (image, []))
            if not self._names_id(name, image.id):
                tags.append(_normalised(name))
        saved = [
            archive.SavedImage(
                m.Descriptor(image.record.media_type, image.record.target, image.record.target_size),
                image.manifest.config,
                image.manifest.layers,
                list(dict.fromkeys(tags)),
            )
            for image, tags in wanted.values()
        ]
        archive.write_archive(out, saved, self.content)

    # -- garbage collection --------------------------------------------------------------

    def repair(self) -> list[str]:
        """After a crash: drop half-made ingests and unpacks, then everything no image needs."""
        removed = self.content.repair() if isinstance(self.content, LocalContentStore) else []
        removed += [f"snapshot {key}" for key in remove_abandoned(self.snapshotter)]
        return removed + self.collect()

    def collect(self) -> list[str]:
        """Delete the blobs and layer snapshots that no image, container or operation in flight needs."""
        with self._collecting:
            return self._collect()

    def _collect(self) -> list[str]:
        roots: set[str] = set()
        chains: set[str] = set()
        for record in self.images.all():
            image = self._load(record, [])
            roots.update((record.target, image.manifest.config.digest))
            roots.update(layer.digest for layer in image.manifest.layers)
            chains.update(image.chain_ids)
        with self._lock:
            chains.update(self._pinned)
        removed = [f"blob {blob.digest}" for blob in self.content.gc(roots)]
        removed += [f"snapshot {key}" for key in self._collect_snapshots(chains)]
        return removed

    def _collect_snapshots(self, keep: set[str]) -> list[str]:
        infos = {info.key: info for info in self.snapshotter.walk()}
        needed: set[str] = set()
        for key, info in infos.items():
            if key in keep or info.kind != Kind.COMMITTED:
                while key is not None and key not in needed:
                    needed.add(key)
                    key = infos[key].parent if key in infos else None
        removed = []
        doomed = [key for key in infos if key not in needed]
        # Children before parents: a snapshotter refuses to remove a parent.
        depth = {key: _depth(infos, key) for key in doomed}
        for key in sorted(doomed, key=depth.__getitem__, reverse=True):
            with contextlib.suppress(NotFound, Conflict):
                self.snapshotter.remove(key)
                removed.append(key)
        return removed


def _depth(infos: dict, key: str) -> int:
    depth = 0
    while infos[key].parent is not None and infos[key].parent in infos:
        key = infos[key].parent
        depth += 1
    return depth


def _normalised(name: str) -> str:
    try:
        return str(reference.parse(name))
    except InvalidParameter:
        return ""


def _delete_conflict(image_id: str, message: str, *, hard: bool) -> Conflict:
    forced = "cannot be forced" if hard else "must be forced"
    return Conflict(f"conflict: unable to delete {short_id(image_id)} ({forced}) - {message}")


def _reference_matches(tags: list[str], pattern: str) -> bool:
    """docker's reference filter: a glob over the familiar name, with or without the tag."""
    for tag in tags:
        ref = reference.parse(tag)
        if fnmatch.fnmatchcase(ref.familiar_name, pattern) or fnmatch.fnmatchcase(ref.familiar(), pattern):
            return True
    return False


def _as_docker_shows(name: str) -> str:
    """A name not found, as dockerd writes it: a reference in its familiar form with its tag ("busybox" is
    "busybox:latest"), an ID as given."""
    if name.startswith("sha256:"):
        return name
    try:
        return reference.parse(name).familiar()
    except InvalidParameter:
        return name
