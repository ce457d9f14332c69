"""A container's mounts as docker's create request asks for them, parsed and checked before anything is made.

    HostConfig.Binds   "/host:/dst[:mode]" (a bind), "name:/dst[:mode]" (a named volume), "/dst[:mode]"
    HostConfig.Mounts  {"Type": "volume"|"bind"|"tmpfs", "Source", "Target", "ReadOnly", ...Options} (--mount)
    HostConfig.VolumesFrom  "container[:ro|rw]": that container's volumes and binds, where the request
                       mounts nothing else
    Config.Volumes     {"/dst": {}} (-v /dst), and the image's VOLUMEs: anonymous volumes for the paths
                       nothing else mounts

mode is a comma-separated list (moby's volume/mounts linux parser): at most one of
rw/ro, of z/Z (SELinux relabelling, accepted and ignored: these hosts have none),
of a propagation, and nocopy (do not copy the image's files into the new volume).
Every spec is parsed before any volume is created, so that a bad one leaves
nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.volume import names

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_ACCESS, _LABELS, _COPY = ("rw", "ro"), ("z", "Z"), ("nocopy",)


@dataclass(frozen=True)
class MountPoint:
    """One mount of a container, as its record keeps it and inspect shows it (docker's MountPoint)."""

    type: str  # "volume", "bind" or "tmpfs"
    destination: str
    source: str = ""  # a bind's host path; a volume's Mountpoint once it exists
    name: str = ""  # a volume's name; "" for an anonymous one until it is created
    driver: str = ""
    mode: str = ""
    rw: bool = True
    propagation: str = ""
    copy_data: bool = True  # copy the image's files at destination into the volume while it is empty
    anonymous: bool = False
    driver_options: dict = field(default_factory=dict)  # for a volume this mount creates (volume-opt=)
    labels: dict = field(default_factory=dict)  # likewise (volume-label=)
    tmpfs_options: tuple[str, ...] = ()
    subpath: str = ""  # the directory inside the volume to mount instead of its root (volume-subpath=)
    create_source: bool = False  # a -v bind creates a missing host directory, as docker's does

    def inspect(self) -> dict:
        """docker's MountPoint in container inspect and list."""
        shown = {"Type": self.type}
        if self.type == "volume":
            shown |= {"Name": self.name}
        shown |= {"Source": self.source, "Destination": self.destination}
        if self.type == "volume":
            shown |= {"Driver": self.driver}
        return shown | {"Mode": self.mode, "RW": self.rw, "Propagation": self.propagation}

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, document: dict) -> MountPoint:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in document.items() if key in known}
        values["tmpfs_options"] = tuple(values.get("tmpfs_options", ()))
        return cls(**values)


def container_mount_points(
    config: dict, host_config: dict, image_config: dict, inherited: Sequence[MountPoint] = ()
) -> list[MountPoint]:
    """Every mount the create request and the image ask for, checked; refuses two on one destination.

    inherited are the mount points of --volumes-from containers: the request's own mounts replace
    those on the same destination, as docker's do.
    """
    driver = host_config.get("VolumeDriver") or "local"
    points = [parse_bind(spec, driver) for spec in host_config.get("Binds") or []]
    points += [parse_mount(mount, driver) for mount in host_config.get("Mounts") or []]
    seen: set[str] = set()
    for point in points:
        if point.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {point.destination}")
        seen.add(point.destination)
    for point in inherited:
        if point.destination not in seen:
            seen.add(point.destination)
            points.append(point)
    # The request's -v /path, then the image's VOLUMEs: anonymous volumes where nothing else is mounted.
    for path in [*(config.get("Volumes") or {}), *(image_config.get("Volumes") or {})]:
        destination = _destination(path, "volume")
        if destination not in seen:
            seen.add(destination)
            points.append(MountPoint("volume", destination, driver=driver, anonymous=True))
    return points


def parse_volumes_from(spec: str) -> tuple[str, bool | None]:
    """One HostConfig.VolumesFrom entry, "container[:ro|rw]": (container, read-write, or None to keep its mode)."""
    container, _, mode = spec.partition(":")
    if not container or mode not in ("", "ro", "rw"):
        raise InvalidParameter(f"invalid mode: {mode}" if container else f"invalid volumes-from: '{spec}'")
    return container, None if not mode else mode == "rw"


def inherit(points: Sequence[MountPoint], rw: bool | None) -> list[MountPoint]:
    """A --volumes-from container's volumes and binds for another container, made read-only with ":ro"."""
    return [
        dataclasses.replace(point, rw=point.rw if rw is None else rw, anonymous=False, copy_data=False)
        for point in points
        if point.type in ("volume", "bind")
    ]


def parse_bind(spec: str, volume_driver: str = "local") -> MountPoint:
    """One HostConfig.Binds entry (docker run -v)."""
    parts = spec.split(":")
    # "/dst:ro" is refused: a mode needs a source (moby's linux parser says so too).
    if len(parts) > 3 or any(part == "" for part in parts) or (len(parts) == 2 and _is_mode(parts[1])):
        raise InvalidParameter(f"invalid volume specification: '{spec}'")
    if len(parts) == 1:
        source, destination, mode = "", parts[0], ""
    elif len(parts) == 2:
        source, destination, mode = parts[0], parts[1], ""
    else:
        source, destination, mode = parts
    if not _is_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    options = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    try:
        destination = _destination(destination, kind)
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid volume specification: '{spec}': {exc}") from None
    rw = "ro" not in options
    propagation = next((o for o in options if o in PROPAGATIONS), "")
    if kind == "bind":
        if "nocopy" in options:
            raise InvalidParameter(f"invalid mode: {mode}")
        return MountPoint("bind", destination, source=posixpath.normpath(source), mode=mode, rw=rw,
                          propagation=propagation or "rprivate", create_source=True)  # fmt: skip
    if propagation:
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config for type \"volume\": "
            "field BindOptions must not be specified"
        )
    if source:
        names.check(source)
    # dockerd shows "z" (its SELinux default) as the mode of a volume given none.
    return MountPoint("volume", destination, name=source, driver=volume_driver, mode=mode or "z", rw=rw,
                      copy_data="nocopy" not in options, anonymous=not source)  # fmt: skip


def parse_mount(mount: dict, volume_driver: str = "local") -> MountPoint:
    """One HostConfig.Mounts entry (docker run --mount)."""
    kind = mount.get("Type") or ""
    target = mount.get("Target") or ""
    source = mount.get("Source") or ""

    def refuse(problem: str) -> InvalidParameter:
        return InvalidParameter(f'invalid mount config for type "{kind}": {problem}')

    if kind in ("image", "cluster", "npipe"):
        raise Unsupported(f"mounts of type {kind} are not supported")
    if kind not in ("bind", "volume", "tmpfs"):
        raise refuse("mount type unknown")
    if not target:
        raise refuse("field Target must not be empty")
    for other, options in (("bind", "BindOptions"), ("volume", "VolumeOptions"), ("tmpfs", "TmpfsOptions")):
        if other != kind and mount.get(options):
            raise refuse(f"field {options} must not be specified")
    destination = _destination(target, kind)
    rw = not mount.get("ReadOnly")
    if kind == "bind":
        bind_options = mount.get("BindOptions") or {}
        if not source:
            raise refuse("field Source must not be empty")
        if not source.startswith("/"):
            raise refuse(f"invalid mount path: '{source}' mount path must be absolute")
        create = bool(bind_options.get("CreateMountpoint"))
        if not create and not os.path.exists(source):
            raise refuse(f"bind source path does not exist: {source}")
        propagation = bind_options.get("Propagation") or "rprivate"
        if propagation not in PROPAGATIONS:
            raise refuse(f"invalid propagation mode: {propagation}")
        return MountPoint("bind", destination, source=posixpath.normpath(source), rw=rw, propagation=propagation,
                          create_source=create)  # fmt: skip
    if kind == "tmpfs":
        if source:
            raise refuse("field Source must not be specified")
        return MountPoint("tmpfs", destination, rw=rw, tmpfs_options=_tmpfs_options(mount.get("TmpfsOptions") or {}))
    volume_options = mount.get("VolumeOptions") or {}
    subpath = volume_options.get("Subpath") or ""
    if subpath and (subpath.startswith("/") or posixpath.normpath(subpath).split("/")[0] == ".."):
        raise refuse("subpath must be a relative path within the volume")
    if source:
        names.check(source)
    driver_config = volume_options.get("DriverConfig") or {}
    return MountPoint(
        "volume", destination, name=source, driver=driver_config.get("Name") or volume_driver, mode="z", rw=rw,
        copy_data=not volume_options.get("NoCopy") and not subpath, anonymous=not source,
        subpath=posixpath.normpath(subpath) if subpath else "",
        driver_options=dict(driver_config.get("Options") or {}), labels=dict(volume_options.get("Labels") or {}),
    )  # fmt: skip


def _destination(path: str, kind: str) -> str:
    if not path.startswith("/"):
        raise InvalidParameter(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{path}' mount path must be absolute"
        )
    cleaned = posixpath.normpath(path)
    if cleaned == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    return cleaned


def _is_mode(mode: str) -> bool:
    """Whether mode is a valid -v mode list: each kind of option at most once, nothing unknown."""
    if not mode:
        return True
    options = mode.split(",")
    for group in (_ACCESS, _LABELS, PROPAGATIONS, _COPY):
        if sum(option in group for option in options) > 1:
            return False
    return all(option in (*_ACCESS, *_LABELS, *PROPAGATIONS, *_COPY) for option in options)


def _tmpfs_options(options: dict) -> tuple[str, ...]:
    result = []
    if options.get("SizeBytes"):
        if int(options["SizeBytes"]) < 0:
            raise InvalidParameter(f"invalid tmpfs size: {options['SizeBytes']}")
        result.append(f"size={int(options['SizeBytes'])}")
    if options.get("Mode"):
        result.append(f"mode={int(options['Mode']):o}")
    return tuple(result)


def oci_mounts(points: list[MountPoint]) -> list[dict]:
    """The OCI mounts of points whose volumes are mounted (source is the host path), parents before the
    mounts inside them, as docker sorts them (by the depth of the destination)."""
    mounts = []
    for point in sorted(points, key=lambda p: p.destination.count("/")):
        access = "rw" if point.rw else "ro"
        if point.type == "tmpfs":
            mounts.append({"destination": point.destination, "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "noexec", access, *point.tmpfs_options]})  # fmt: skip
        else:
            mounts.append({"destination": point.destination, "type": "bind", "source": point.source,
                           "options": ["rbind", access, point.propagation or "rprivate"]})  # fmt: skip
    return mounts
