"""Where the cgroup hierarchies are mounted, and which directory a cgroupsPath names.

Everything is read from /proc/self/mountinfo and /proc/self/cgroup (both paths are
parameters, so tests can point them at fake trees); no mount point is hardcoded.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.mounts import unescape_mountinfo

V1 = "v1"
V2 = "v2"
HYBRID = "hybrid"

# What a v1 mount's super options may name besides mount flags (rw, clone_children,
# release_agent=, ...). Named hierarchies ("name=systemd") carry no controller but
# processes are still placed in them, as runc and systemd expect.
_V1_CONTROLLERS = frozenset(
    (
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "blkio",
        "perf_event",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
    )
)


class Hierarchy:
    """One mounted cgroup hierarchy.

    key is how /proc/self/cgroup names it, sorted: "cpu,cpuacct", "name=systemd",
    or "" for the cgroup2 (unified) one. root is the mount's root inside the
    hierarchy (not "/" when a sub-cgroup is bind-mounted, as inside containers).
    """

    __slots__ = ("controllers", "key", "mountpoint", "options", "root", "version")

    def __init__(self, version: int, mountpoint: str, root: str, controllers: tuple, options: str) -> None:
        self.version = version
        self.mountpoint = mountpoint
        self.root = root
        self.controllers = controllers
        self.options = options
        self.key = ",".join(sorted(controllers))

    def __repr__(self) -> str:
        return f"Hierarchy(v{self.version}, {self.mountpoint!r}, {self.key!r})"


class Layout:
    """The cgroup hierarchies of this mount namespace: mode is "v1", "v2" or "hybrid"."""

    __slots__ = ("_v2_controllers", "hierarchies", "mode", "unified")

    def __init__(self, v1: list[Hierarchy], unified: Hierarchy | None) -> None:
        has_v1_controllers = any(not c.startswith("name=") for h in v1 for c in h.controllers)
        if unified is None:
            if not v1:
                raise Unsupported("no cgroup filesystem is mounted (see /proc/self/mountinfo)")
            self.mode = V1
        elif has_v1_controllers:
            self.mode = HYBRID
        else:
            # A cgroup2 host that also mounts name=systemd for old containers is still
            # pure v2: that hierarchy has no controller and runc ignores it there too.
            self.mode = V2
            v1 = []
        self.unified = unified
        self.hierarchies = [*v1, unified] if unified else v1
        self._v2_controllers: frozenset | None = None

    def v2_controllers(self) -> frozenset:
        """Controllers the unified hierarchy offers (in hybrid, those v1 does not hold)."""
        if self._v2_controllers is None:
            names: frozenset = frozenset()
            if self.unified is not None:
                try:
                    with open(os.path.join(self.unified.mountpoint, "cgroup.controllers")) as f:
                        names = frozenset(f.read().split())
                except OSError:
                    pass
            self._v2_controllers = names
        return self._v2_controllers


def parse_mountinfo(text: str) -> Layout:
    """Build the Layout from mountinfo text; the first mount of each hierarchy wins."""
    v1: list[Hierarchy] = []
    seen: set[str] = set()
    unified = None
    for line in text.splitlines():
        if "cgroup" not in line:
            continue
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            fstype, options = fields[sep + 1], fields[sep + 3]
        except (ValueError, IndexError):
            continue
        if fstype == "cgroup2":
            if unified is None:
                unified = Hierarchy(2, unescape_mountinfo(fields[4]), unescape_mountinfo(fields[3]), (), options)
        elif fstype == "cgroup":
            controllers = tuple(o for o in options.split(",") if o in _V1_CONTROLLERS or o.startswith("name="))
            hierarchy = Hierarchy(1, unescape_mountinfo(fields[4]), unescape_mountinfo(fields[3]), controllers, options)
            if controllers and hierarchy.key not in seen:
                seen.add(hierarchy.key)
                v1.append(hierarchy)
    return Layout(v1, unified)


def read_layout(mountinfo: str = "/proc/self/mountinfo") -> Layout:
    with open(mountinfo) as f:
        return parse_mountinfo(f.read())


def detect_layout(mountinfo_path: str = "/proc/self/mountinfo") -> str:
    """The cgroup layout, "v1", "v2" or "hybrid", from the cgroup mounts in mountinfo."""
    return read_layout(mountinfo_path).mode


def parse_own_cgroups(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {hierarchy key: path}; the unified line has key ""."""
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            own[",".join(sorted(parts[1].split(","))) if parts[1] else ""] = parts[2]
    return own


def normalize(path: str, field: str = "linux.cgroupsPath") -> str:
    """Collapse slashes and refuse "." and ".." so no path escapes its hierarchy."""
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InvalidParameter(f"{field}: {path!r}: '.' and '..' are not allowed")
    return "/" + "/".join(parts)


def is_systemd_path(path: str) -> bool:
    return not path.startswith("/") and path.count(":") == 2


def systemd_path(value: str, field: str = "linux.cgroupsPath") -> str:
    """Map systemd's "slice:prefix:name" to the cgroupfs path systemd would give it.

    No D-Bus: the directory is made with cgroupfs like any other. A slice's place
    follows from its name ("a-b.slice" lives in "a.slice"); the unit is the scope
    "prefix-name.scope", or the slice itself when name ends in ".slice".
    """
    slice_name, prefix, name = value.split(":")
    if not name or "/" in value:
        raise InvalidParameter(f"{field}: {value!r} is not of the form slice:prefix:name")
    if name.endswith(".slice"):
        return "/" + _expand_slice(name, field)
    unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
    parent = _expand_slice(slice_name or "system.slice", field)
    return f"/{parent}/{unit}" if parent else f"/{unit}"


def _expand_slice(slice_name: str, field: str) -> str:
    if slice_name == "-.slice":
        return ""  # the root slice
    stem = slice_name.removesuffix(".slice")
    words = stem.split("-")
    if stem == slice_name or not all(words):
        raise InvalidParameter(f"{field}: {slice_name!r} is not a valid slice name")
    return "/".join("-".join(words[: i + 1]) + ".slice" for i in range(len(words)))


def resolve(
    cgroups_path: str | dict,
    layout: Layout,
    own_cgroup_file: str = "/proc/self/cgroup",
    systemd: bool | None = None,
) -> dict[str, str]:
    """{hierarchy key: path of the cgroup inside that hierarchy} for a cgroupsPath.

    Absolute paths are taken relative to each hierarchy's mount root; relative
    ones relative to the caller's own cgroup in each hierarchy (as runc does), so
    they can differ between hierarchies. A dict (Cgroup.path of such a cgroup) is
    taken as already resolved.
    """
    field = "linux.cgroupsPath"
    if isinstance(cgroups_path, dict):
        try:
            return {h.key: normalize(cgroups_path[h.key]) for h in layout.hierarchies}
        except KeyError as exc:
            raise InvalidParameter(f"{field}: no path for the cgroup hierarchy {exc.args[0]!r}") from None
    if not isinstance(cgroups_path, str) or not cgroups_path:
        raise InvalidParameter(f"{field}: must be a non-empty string")
    if systemd or (systemd is None and is_systemd_path(cgroups_path)):
        if cgroups_path.count(":") != 2:
            raise InvalidParameter(f"{field}: {cgroups_path!r} is not of the form slice:prefix:name")
        cgroups_path = systemd_path(cgroups_path)
    if cgroups_path.startswith("/"):
        path = normalize(cgroups_path)
        return {h.key: path for h in layout.hierarchies}
    relative = normalize(cgroups_path)
    with open(own_cgroup_file) as f:
        own = parse_own_cgroups(f.read())
    paths = {}
    for h in layout.hierarchies:
        mine = own.get(h.key)
        if mine is None:
            raise InvalidParameter(
                f"{field}: relative path, but {own_cgroup_file} has no entry for {h.key or 'cgroup2'}"
            )
        # Inside a container the mount's root is the container's cgroup: strip it.
        if h.root != "/" and (mine == h.root or mine.startswith(h.root + "/")):
            mine = mine[len(h.root) :]
        paths[h.key] = normalize(mine + relative)
    return paths
