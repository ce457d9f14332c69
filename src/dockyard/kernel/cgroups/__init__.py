"""cgroups for the OCI runtime: one container cgroup across whatever hierarchies the host mounts.

Three layouts exist in the wild, and Dockyard must run on all of them:

    v1      one "cgroup" mount per controller set (/sys/fs/cgroup/memory,
            /sys/fs/cgroup/cpu,cpuacct, ...) plus named ones (name=systemd);
            each hierarchy is a separate tree, so a container's cgroup is
            one directory per hierarchy, all with the same path.
    v2      one "cgroup2" mount (usually /sys/fs/cgroup) holding every
            controller; a controller is usable in a cgroup only once its
            parent lists it in cgroup.subtree_control.
    hybrid  v1 mounts for most controllers plus a cgroup2 mount (often
            /sys/fs/cgroup/unified) holding the controllers v1 does not
            (here: hugetlb) and the v2 core files (cgroup.freeze,
            cgroup.kill, cgroup.events). A controller lives in exactly one
            hierarchy, so the choice of v1 or v2 files is made per controller.

The container's cgroup is created and joined in every hierarchy, the unified one
included, so processes can be listed, frozen and killed through whichever
hierarchy serves that best. Mount points come from /proc/self/mountinfo and the
caller's own cgroups from /proc/self/cgroup; both paths are parameters so tests
can run on fake trees.

linux.cgroupsPath (cgroupfs driver, as runc):
    "/a/b"            absolute: relative to each hierarchy's mount root
    "a/b"             relative: below the caller's own cgroup in each hierarchy
    "slice:prefix:n"  systemd form, mapped without D-Bus to the cgroupfs path
                      systemd would use: /<expanded slice>/prefix-n.scope
                      ("user-1000.slice" expands to user.slice/user-1000.slice)

Public API:

    detect_layout(mountinfo_path) -> "v1" | "v2" | "hybrid"
    read_layout(mountinfo_path) -> Layout
    open_cgroup(cgroups_path, *, own_cgroup_file, mountinfo, systemd) -> Cgroup
    Cgroup: create, add_process, join_self, apply (-> warnings), freeze, thaw,
            state, pids, kill_all, oom_kill_count, stats, destroy, exists,
            parent, container_mounts, path, dirs, locate, unified_dir
"""

from __future__ import annotations

from dockyard.kernel.cgroups.cgroup import Cgroup
from dockyard.kernel.cgroups.layout import HYBRID, V1, V2, Layout, detect_layout, read_layout, resolve

__all__ = ["HYBRID", "V1", "V2", "Cgroup", "Layout", "detect_layout", "open_cgroup", "read_layout"]


def open_cgroup(
    cgroups_path: str | dict[str, str],
    *,
    own_cgroup_file: str = "/proc/self/cgroup",
    mountinfo: str | Layout = "/proc/self/mountinfo",
    systemd: bool | None = None,
) -> Cgroup:
    """The cgroup named by an OCI linux.cgroupsPath; nothing is created until create().

    systemd=None recognises "slice:prefix:name" by its two colons; True insists on
    that form, False reads any path as a cgroupfs path. mountinfo may be a Layout
    already read, so a caller opening many cgroups parses mountinfo once.
    """
    layout = mountinfo if isinstance(mountinfo, Layout) else read_layout(mountinfo)
    return Cgroup(layout, resolve(cgroups_path, layout, own_cgroup_file, systemd))
