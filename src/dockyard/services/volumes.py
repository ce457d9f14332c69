"""The volume service: docker's volumes over the drivers (only `local` today) and the metadata store.

It also sets up and tears down a container's mounts (binds, volumes, tmpfs) for
the container service:

    create   container_mount_points() parses the request; attach() creates the volumes it names
             (named ones that do not exist yet, anonymous ones always) and holds them for the
             container until settle(): kept once the container's record exists, removed otherwise
             populate(): the image's files at each volume's destination copied into it while it is empty
    start    setup_mounts(): each volume mounted through its driver (on first use for a volume with a
             filesystem of its own); the OCI mounts
    exit     teardown_mounts(): each volume unmounted (the filesystem when its last user stops)
    remove   release(): with `rm -v` or --rm, the container's anonymous volumes are removed
             unless another container uses them too

Which containers use a volume is the container service's knowledge: the daemon
sets `references` ({volume name: [container ids]}) as it sets the image service's
`running`. A volume is in use while any container, running or not, refers to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable

from dockyard.core.volume import VolumeDriver
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.kernel.paths import resolve_in_root
from dockyard.metadata.db import Database
from dockyard.metadata.volumes import VolumeRecord, VolumeTable
from dockyard.services.events import EventBus
from dockyard.services.filters import boolean, check, label_matches
from dockyard.snapshot.copy import copy_tree
from dockyard.volume import names
from dockyard.volume.local import LocalDriver
from dockyard.volume.mountspec import MountPoint, oci_mounts

LIST_FILTERS = frozenset({"dangling", "driver", "label", "name"})
PRUNE_FILTERS = frozenset({"label", "label!", "all"})


def _created_at() -> str:
    """CreatedAt as dockerd's local driver writes it: RFC 3339 to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class VolumeService:
    def __init__(self, *, data_root: str, db: Database, drivers: dict[str, VolumeDriver] | None = None) -> None:
        self.drivers: dict[str, VolumeDriver] = drivers or {"local": LocalDriver(os.path.join(data_root, "volumes"))}
        self.records = VolumeTable(db)
        self.events: EventBus | None = None  # set by the daemon: docker events
        # {volume name: [container ids]} of every container that refers to a volume; set by the daemon.
        self.references: Callable[[], dict[str, list[str]]] = dict
        # Containers being created: the volumes they will refer to, and those they created.
        self._pending: dict[str, tuple[set[str], list[str]]] = {}
        self._lock = threading.RLock()

    # -- the volumes themselves -----------------------------------------------------------

    def driver(self, name: str) -> VolumeDriver:
        try:
            return self.drivers[name or "local"]
        except KeyError:
            raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found') from None

    def get(self, name: str) -> VolumeRecord:
        record = self.records.get(name)
        if record is None:
            raise NotFound(f"get {name}: no such volume")
        return record

    def create(
        self, name: str = "", driver: str = "local", options: dict | None = None, labels: dict | None = None
    ) -> VolumeRecord:
        """docker volume create: an existing name with the same driver is that volume, unchanged; one
        without a name is anonymous (labelled so, as dockerd labels it: `volume prune` takes it)."""
        driver = driver or "local"
        if not name:
            name, labels = names.anonymous(), {**(labels or {}), names.ANONYMOUS_LABEL: ""}
        options = {str(k): str(v) for k, v in (options or {}).items()}
        with self._lock:
            existing = self.records.get(name)
            if existing is not None:  # before the options are looked at, as dockerd's volume store does
                if existing.driver != driver:
                    raise Conflict(
                        f"create {name}: volume name must be unique: driver '{existing.driver}' already has "
                        f"volume '{name}'"
                    )
                return existing
            plugin = self._checked(name, driver, options)
            plugin.create(name, options)
            record = VolumeRecord(name, driver, _created_at(), dict(labels or {}), options)
            try:
                self.records.add(record)
            except BaseException:
                plugin.remove(name)
                raise
        self._event("create", record)
        return record

    def _checked(self, name: str, driver: str, options: dict) -> VolumeDriver:
        """The driver for a new volume, once the name and options are found good (docker's messages)."""
        names.check(name)
        try:
            plugin = self.driver(driver)
            plugin.validate(options)
        except (NotFound, InvalidParameter) as exc:
            raise type(exc)(f"create {name}: {exc}") from None
        return plugin

    def inspect(self, record: VolumeRecord) -> dict:
        return {
            "CreatedAt": record.created,
            "Driver": record.driver,
            "Labels": record.labels,
            "Mountpoint": self.driver(record.driver).path(record.name),
            "Name": record.name,
            "Options": record.options,
            "Scope": "local",
        }

    def _users(self) -> dict[str, list[str]]:
        users = {name: list(ids) for name, ids in self.references().items()}
        with self._lock:
            for container_id, (wanted, _created) in self._pending.items():
                for name in wanted:
                    users.setdefault(name, []).append(container_id)
        return users

    def list(self, filters: dict[str, list[str]] | None = None) -> list[dict]:
        """docker volume ls: filters dangling, driver, label, name (a substring)."""
        filters = filters or {}
        check(filters, LIST_FILTERS)
        users = self._users()
        dangling = {boolean(value, "dangling") for value in filters.get("dangling", [])}
        found = []
        for record in self.records.all():
            if dangling and (record.name not in users) not in dangling:
                continue
            if "driver" in filters and record.driver not in filters["driver"]:
                continue
            if "name" in filters and not any(value in record.name for value in filters["name"]):
                continue
            if not all(label_matches(record.labels, value) for value in filters.get("label", [])):
                continue
            found.append(self.inspect(record))
        return found

    def remove(self, name: str, *, force: bool = False) -> None:
        """docker volume rm: refused while a container refers to it; force only forgives a missing volume."""
        with self._lock:
            record = self.records.get(name)
            if record is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self._users().get(name)
            if users or self.driver(record.driver).in_use(name):
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users or [])}]")
            # The record first: a crash between the two leaves a directory that repair() removes.
            self.records.delete(name)
            with contextlib.suppress(NotFound):
                self.driver(record.driver).remove(name)
        self._event("destroy", record)

    def prune(self, filters: dict[str, list[str]] | None = None, *, anonymous_only: bool = True) -> dict:
        """docker volume prune: unused volumes, only anonymous ones unless all=true (API 1.42 and later)."""
        filters = filters or {}
        check(filters, PRUNE_FILTERS)
        every = any(boolean(value, "all") for value in filters.get("all", []))
        users = self._users()
        deleted, reclaimed = [], 0
        for record in self.records.all():
            if record.name in users or (anonymous_only and not every and names.ANONYMOUS_LABEL not in record.labels):
                continue
            if not all(label_matches(record.labels, value) for value in filters.get("label", [])):
                continue
            if any(label_matches(record.labels, value) for value in filters.get("label!", [])):
                continue
            size = self.driver(record.driver).usage(record.name)
            try:
                self.remove(record.name)
            except (Conflict, NotFound):
                continue  # taken or removed meanwhile
            deleted.append(record.name)
            reclaimed += size
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def disk_usage(self) -> list[dict]:
        """The volumes of /system/df, with UsageData: bytes on disk and how many containers refer to each."""
        users = self._users()
        return [
            {**self.inspect(record), "UsageData": {"Size": self.driver(record.driver).usage(record.name),
                                                   "RefCount": len(users.get(record.name, []))}}
            for record in self.records.all()
        ]  # fmt: skip

    def repair(self) -> list[str]:
        """At start: remove the driver directories no record names (a crash during create or remove)."""
        known = {record.name for record in self.records.all()}
        removed = []
        for name, plugin in ((n, p) for p in self.drivers.values() for n in p.names()):
            if name not in known:
                with contextlib.suppress(NotFound, Conflict, OSError):
                    plugin.remove(name)
                    removed.append(name)
        return removed

    def _event(self, action: str, record: VolumeRecord, **extra: str) -> None:
        if self.events is not None:
            self.events.emit("volume", action, record.name, {"driver": record.driver, **extra})

    # -- a container's mounts -------------------------------------------------------------

    def attach(self, container_id: str, points: list[MountPoint]) -> list[MountPoint]:
        """The volumes points name, created where missing: the points with names and sources filled in.

        Every driver and its options are checked before the first volume is made; on failure the
        volumes made here are removed again. Until settle(container_id) they count as in use.
        """
        points = [
            dataclasses.replace(point, name=names.anonymous()) if point.type == "volume" and not point.name else point
            for point in points
        ]
        for point in points:
            if point.type == "volume" and self.records.get(point.name) is None:
                self._checked(point.name, point.driver, point.driver_options)
        attached: list[MountPoint] = []
        with self._lock:
            wanted, created = self._pending.setdefault(container_id, (set(), []))
            try:
                for point in points:
                    if point.type == "volume":
                        point = self._attach_volume(point, wanted, created)
                    attached.append(point)
            except BaseException:
                self.settle(container_id, keep=False)
                raise
        return attached

    def _attach_volume(self, point: MountPoint, wanted: set[str], created: list[str]) -> MountPoint:
        name = point.name
        record = self.records.get(name)
        if record is None:
            labels = {names.ANONYMOUS_LABEL: "", **point.labels} if point.anonymous else point.labels
            record = self.create(name, point.driver, point.driver_options, labels)
            created.append(name)
        elif record.driver != point.driver:
            raise Conflict(f"volume {name} exists with driver {record.driver}, not {point.driver}")
        wanted.add(name)
        return dataclasses.replace(point, driver=record.driver, source=self.driver(record.driver).path(name))

    def settle(self, container_id: str, *, keep: bool) -> None:
        """The container's record now exists (keep) or will not (the volumes attach() made are removed)."""
        with self._lock:
            _wanted, created = self._pending.pop(container_id, (set(), []))
            for name in [] if keep else reversed(created):
                with contextlib.suppress(NotFound, Conflict):
                    self.remove(name)

    def release(self, points: list[MountPoint], *, remove_anonymous: bool) -> None:
        """After a container's removal: with remove_anonymous (rm -v, --rm), its anonymous volumes go too,
        unless another container still uses them (docker skips those silently)."""
        if not remove_anonymous:
            return
        for point in points:
            if point.type != "volume":
                continue
            record = self.records.get(point.name)
            if record is not None and names.ANONYMOUS_LABEL in record.labels:
                with contextlib.suppress(NotFound, Conflict):
                    self.remove(point.name)

    def populate(self, container_id: str, points: list[MountPoint], rootfs: str) -> None:
        """At create, as dockerd does: each volume still empty receives what the image (the container's
        rootfs, mounted) holds at its destination, owners, modes and times kept, unless nocopy.

        A volume with a filesystem of its own is mounted for the copy and unmounted after it, so a
        tmpfs volume keeps nothing of it (dockerd's local driver behaves the same).
        """
        for point in points:
            if point.type != "volume" or not point.copy_data:
                continue
            record = self.get(point.name)
            path = self._driver_mount(record, container_id)
            try:
                _copy_up(resolve_in_root(rootfs, point.destination), path)
            finally:
                self.driver(record.driver).unmount(record.name, container_id)

    def setup_mounts(self, container_id: str, points: list[MountPoint], rootfs: str) -> list[dict]:
        """Mount the container's volumes and make its bind sources: the OCI mounts, in docker's order.

        A missing -v bind source is created (0755), as dockerd creates it.
        """
        mounted: list[MountPoint] = []
        try:
            resolved = []
            for point in points:
                if point.type == "volume":
                    path = self._mount(point, container_id)
                    mounted.append(point)
                    point = dataclasses.replace(point, source=_subpath(path, point.subpath))
                elif point.type == "bind" and point.create_source and not os.path.exists(point.source):
                    os.makedirs(point.source, 0o755)
                resolved.append(point)
        except BaseException:
            self.teardown_mounts(container_id, mounted)
            raise
        return oci_mounts(resolved)

    def _driver_mount(self, record: VolumeRecord, container_id: str) -> str:
        try:
            return self.driver(record.driver).mount(record.name, record.options, container_id)
        except OSError as exc:  # the kernel refused the volume's filesystem: docker's words, the errno's reason
            raise InvalidParameter(f"error while mounting volume '{record.name}': {exc}") from None

    def _mount(self, point: MountPoint, container_id: str, *, quiet: bool = False) -> str:
        record = self.get(point.name)
        path = self._driver_mount(record, container_id)
        if not quiet:
            self._event("mount", record, container=container_id, destination=point.destination,
                        **{"read/write": str(point.rw).lower()}, propagation=point.propagation)  # fmt: skip
        return path

    def adopt(self, container_id: str, points: list[MountPoint]) -> None:
        """After a daemon restart, for a container still running: hold its volumes again (no event)."""
        for point in points:
            if point.type == "volume":
                with contextlib.suppress(NotFound, InvalidParameter):
                    self._mount(point, container_id, quiet=True)

    def teardown_mounts(self, container_id: str, points: list[MountPoint]) -> None:
        for point in points:
            if point.type != "volume":
                continue
            record = self.records.get(point.name)
            if record is None:
                continue
            self.driver(record.driver).unmount(record.name, container_id)
            self._event("unmount", record, container=container_id)


def _subpath(volume: str, subpath: str) -> str:
    """The directory to bind: the volume's, or its subpath resolved without leaving the volume."""
    if not subpath:
        return volume
    path = resolve_in_root(volume, subpath)
    if not os.path.isdir(path):
        raise InvalidParameter(f"cannot mount volume subpath {subpath}: no such directory in the volume")
    return path


def _copy_up(source: str, volume: str) -> None:
    """The image's directory at the mount's destination into the volume, if the volume is still empty."""
    if os.path.isdir(source) and not os.path.islink(source) and not os.listdir(volume):
        copy_tree(source, volume)
