"""A container's cgroup: the same path in every mounted hierarchy, created, joined,
limited, frozen, signalled, measured and removed as one."""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.cgroups import common
from dockyard.kernel.cgroups.layout import V2, Layout

SIGKILL = 9
_FREEZE_TIMEOUT = 5.0
_REMOVE_TIMEOUT = 2.0


def _os_error(exc: OSError, what: str) -> OSError:
    return OSError(exc.errno, f"{what}: {os.strerror(exc.errno or 0)}")


def _poll(check, timeout: float) -> bool:
    """Call check until it is true, backing off from 0.5 ms to 10 ms; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
    return True


class Cgroup:
    """members: (hierarchy, path inside it, directory) for every hierarchy of the layout."""

    __slots__ = ("layout", "members")

    def __init__(self, layout: Layout, paths: dict[str, str]) -> None:
        self.layout = layout
        self.members = [
            (h, paths[h.key], h.mountpoint if paths[h.key] == "/" else h.mountpoint + paths[h.key])
            for h in layout.hierarchies
        ]

    def __repr__(self) -> str:
        return f"Cgroup({self.path!r}, {self.layout.mode})"

    # -- where things are --------------------------------------------------------

    @property
    def path(self) -> str | dict[str, str]:
        """The absolute cgroupsPath that open_cgroup maps back to this cgroup.

        A relative cgroupsPath can resolve to different paths per hierarchy (the
        caller's cgroups differ); then this is {hierarchy key: path}, which
        open_cgroup also accepts, so it can be stored in state.json as it is.
        """
        paths = {h.key: path for h, path, _ in self.members}
        distinct = set(paths.values())
        return distinct.pop() if len(distinct) == 1 else paths

    @property
    def dirs(self) -> list[str]:
        return [d for _, _, d in self.members]

    @property
    def is_root(self) -> bool:
        return all(path == "/" for _, path, _ in self.members)

    @property
    def unified_dir(self) -> str | None:
        for h, _, d in self.members:
            if h.version == 2:
                return d
        return None

    def locate(self, controller: str) -> tuple[int, str] | None:
        """(1 or 2, directory) of the hierarchy holding controller, or None."""
        for h, _, d in self.members:
            if h.version == 1 and controller in h.controllers:
                return 1, d
        unified = self.unified_dir
        if unified is not None and controller in self.layout.v2_controllers():
            return 2, unified
        return None

    def _procs_dir(self) -> str:
        """The hierarchy to list processes from: unified on v2, else a v1 one every runtime joins."""
        if self.layout.mode == V2:
            return self.members[0][2]
        for controller in ("pids", "freezer", "memory", "cpu", "devices"):
            found = self.locate(controller)
            if found is not None and found[0] == 1:
                return found[1]
        return self.members[0][2]

    def exists(self) -> bool:
        return os.path.isdir(self._procs_dir())

    def parent(self) -> Cgroup:
        return Cgroup(self.layout, {h.key: os.path.dirname(path) for h, path, _ in self.members})

    def container_mounts(self) -> list[tuple[str, str, str, str]]:
        """(name under /sys/fs/cgroup, fstype, super options, host directory) per hierarchy.

        The name is the host's own mount point name; "" means the container's
        /sys/fs/cgroup itself is the (pure v2) unified hierarchy.
        """
        mounts = []
        for h, _, d in self.members:
            name = "" if self.layout.mode == V2 else os.path.basename(h.mountpoint)
            mounts.append((name, "cgroup2" if h.version == 2 else "cgroup", h.options, d))
        return mounts

    # -- create and join ---------------------------------------------------------

    def create(self) -> None:
        """mkdir -p in every hierarchy; make v1 cpusets joinable and enable v2 controllers."""
        for h, path, d in self.members:
            try:
                try:
                    os.mkdir(d, 0o755)
                except FileExistsError:
                    pass
                except FileNotFoundError:
                    os.makedirs(d, 0o755, exist_ok=True)
                if h.version == 1 and "cpuset" in h.controllers:
                    _fill_cpuset(h.mountpoint, path)
                elif h.version == 2:
                    _enable_controllers(h.mountpoint, path)
            except OSError as exc:
                raise _os_error(exc, f"create cgroup {d}") from None

    def add_process(self, pid: int) -> None:
        for _, _, d in self.members:
            try:
                common.write(f"{d}/cgroup.procs", str(pid))
            except OSError as exc:
                raise _os_error(exc, f"add process {pid} to cgroup {d}") from None

    def join_self(self, *, unified: bool = True) -> None:
        """Move the calling process, which must be single-threaded, into the cgroup.

        Writing another pid to cgroup.procs takes the kernel's global threadgroup
        lock, whose first use costs an RCU grace period (10-25 ms measured on
        these hosts). Writing "0" to a v1 "tasks" file moves only the calling
        thread and skips that lock. v2 has no such path: unified=False leaves
        the unified hierarchy to a caller that used clone3(CLONE_INTO_CGROUP).
        """
        for h, _, d in self.members:
            if h.version == 2 and not unified:
                continue
            name = "tasks" if h.version == 1 else "cgroup.procs"
            try:
                common.write(f"{d}/{name}", "0")
            except OSError as exc:
                raise _os_error(exc, f"join cgroup {d}") from None

    def apply(self, resources_: dict) -> list[str]:
        """Write linux.resources; returns warnings about fields this host ignores.

        Only present fields are written, so an update can pass just what changed.
        A device list is applied in order on a deny-all start.
        """
        if resources_ and self.is_root:
            raise InvalidParameter("linux.cgroupsPath: refusing to set limits on the root cgroup")
        from dockyard.kernel.cgroups import resources  # kill, pause and delete never need the writers

        return resources.apply(self, resources_)

    # -- freezer -----------------------------------------------------------------

    def _freezer(self) -> tuple[int, str]:
        found = self.locate("freezer")
        if found is not None and found[0] == 1:
            return found
        if self.unified_dir is not None:
            return 2, self.unified_dir  # cgroup.freeze is core in v2, no controller needed
        raise Unsupported("freezing needs the v1 freezer controller or cgroup v2")

    def freeze(self) -> None:
        version, d = self._freezer()
        try:
            if version == 1:
                common.write(f"{d}/freezer.state", "FROZEN")

                def frozen() -> bool:
                    if common.read(f"{d}/freezer.state").strip() == "FROZEN":
                        return True
                    # FREEZING: tasks that were busy are only retried when asked again.
                    common.write(f"{d}/freezer.state", "FROZEN")
                    return False
            else:
                common.write(f"{d}/cgroup.freeze", "1")

                def frozen() -> bool:
                    return common.read_keyed(f"{d}/cgroup.events").get("frozen") == 1

            if not _poll(frozen, _FREEZE_TIMEOUT):
                self.thaw()
                raise OSError(errno.EBUSY, f"freeze cgroup {d}: not frozen after {_FREEZE_TIMEOUT:g} s")
        except OSError as exc:
            raise _os_error(exc, f"freeze cgroup {d}") from None

    def thaw(self) -> None:
        version, d = self._freezer()
        try:
            if version == 1:
                common.write(f"{d}/freezer.state", "THAWED")
            else:
                common.write(f"{d}/cgroup.freeze", "0")
                _poll(lambda: common.read_keyed(f"{d}/cgroup.events").get("frozen") != 1, _FREEZE_TIMEOUT)
        except OSError as exc:
            raise _os_error(exc, f"thaw cgroup {d}") from None

    def state(self) -> str:
        """Either "frozen" or "thawed"; a cgroup still FREEZING is not frozen yet."""
        try:
            version, d = self._freezer()
        except Unsupported:
            return "thawed"
        try:
            if version == 1:
                return "frozen" if common.read(f"{d}/freezer.state").strip() == "FROZEN" else "thawed"
            return "frozen" if common.read_keyed(f"{d}/cgroup.events").get("frozen") == 1 else "thawed"
        except FileNotFoundError:
            return "thawed"

    # -- processes ---------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every process in the cgroup and the cgroups below it, sorted."""
        found: set[int] = set()
        stack = [self._procs_dir()]
        while stack:
            d = stack.pop()
            try:
                found.update(int(pid) for pid in common.read(f"{d}/cgroup.procs").split())
                with os.scandir(d) as entries:
                    stack += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
            except FileNotFoundError:
                continue  # removed while we walked
        return sorted(found)

    def kill_all(self, sig: int) -> None:
        """Signal every process. SIGKILL uses cgroup.kill where the kernel has it (5.14+),
        else freezes first so that nothing forks past the loop, as runc does."""
        if self.is_root:
            raise InvalidParameter("linux.cgroupsPath: refusing to signal every process of the root cgroup")
        killed = sig == SIGKILL and self._cgroup_kill()
        if killed and self.layout.mode == V2:
            return
        frozen = False
        if sig == SIGKILL and not killed and self.locate("freezer") is not None:
            try:
                self.freeze()
                frozen = True
            except OSError:
                pass  # kill what we can see
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self.thaw()  # v1 frozen tasks only die once thawed

    def _cgroup_kill(self) -> bool:
        d = self.unified_dir
        if d is None:
            return False
        try:
            common.write(f"{d}/cgroup.kill", "1")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _os_error(exc, f"kill cgroup {d}") from None
        return True

    # -- measurements ------------------------------------------------------------

    def oom_kill_count(self) -> int:
        found = self.locate("memory")
        if found is None:
            return 0
        version, d = found
        name = "memory.oom_control" if version == 1 else "memory.events"
        return common.read_keyed(f"{d}/{name}").get("oom_kill", 0)

    def stats(self) -> dict:
        """Memory, CPU and pids figures for `docker stats`; missing controllers are left out.

        memory: usage, limit (None = unlimited), max_usage (None if unknown), stats (memory.stat)
        cpu:    usage_ns, user_ns, system_ns, periods, throttled_periods, throttled_ns
        pids:   current, limit (None = unlimited)
        """
        from dockyard.kernel.cgroups import stats

        return stats.collect(self)

    # -- removal -----------------------------------------------------------------

    def destroy(self, kill: bool = False) -> None:
        """Remove the cgroup from every hierarchy; missing directories are fine.

        kill=True first SIGKILLs what is left, removes nested cgroups and retries
        while the kernel still reports the cgroup busy. Without it a busy cgroup
        (processes or children, e.g. a shared parent) fails at once with EBUSY.
        """
        if self.is_root:
            raise OSError(errno.EPERM, "refusing to remove the root cgroup")
        if kill and self.pids():
            self.kill_all(SIGKILL)
            _poll(lambda: not self.pids(), _REMOVE_TIMEOUT)
        first = None
        for _, _, d in reversed(self.members):
            try:
                _remove(d, patient=kill)
            except OSError as exc:
                first = first or exc
        if first is not None:
            raise first


def _remove(d: str, patient: bool) -> None:
    def rmdir() -> bool:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            return True
        except OSError as exc:
            if not patient or exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                raise
            return False
        return True

    def removed() -> bool:
        if rmdir():
            return True
        # Nested cgroups first, deepest first. Only walked when busy: the walk reads
        # a directory per hierarchy, which a container's delete mostly does not need.
        for sub, _, _ in os.walk(d, topdown=False):
            if sub != d:
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        return rmdir()

    try:
        if not _poll(removed, _REMOVE_TIMEOUT if patient else 0):
            raise OSError(errno.EBUSY, "still busy")
    except OSError as exc:
        raise _os_error(exc, f"remove cgroup {d}") from None


def _fill_cpuset(mountpoint: str, path: str) -> None:
    """A new v1 cpuset starts with empty cpus and mems, and nothing can join it:
    copy the parent's down each level that is still empty."""
    parent_dir = mountpoint
    inherited = None
    for part in path.split("/")[1:]:
        d = f"{parent_dir}/{part}"
        own = [common.read(f"{d}/cpuset.{key}").strip() for key in ("cpus", "mems")]
        if not all(own):
            if inherited is None:
                inherited = [common.read(f"{parent_dir}/cpuset.{key}").strip() for key in ("cpus", "mems")]
            for i, key in enumerate(("cpus", "mems")):
                if not own[i]:
                    common.write(f"{d}/cpuset.{key}", inherited[i])
                    own[i] = inherited[i]
        inherited = own
        parent_dir = d


def _enable_controllers(mountpoint: str, path: str) -> None:
    """Enable every available controller in each ancestor's cgroup.subtree_control.

    As runc does; failures are ignored here (a busy cgroup with processes cannot
    delegate, rule "no internal processes") and surface as a missing control file
    when a resource actually needs the controller.
    """
    if path == "/":
        return
    parts = path.split("/")[1:-1]
    levels = [mountpoint] + [f"{mountpoint}/{'/'.join(parts[: i + 1])}" for i in range(len(parts))]
    for level in levels:
        available = common.read(f"{level}/cgroup.controllers").split()
        enabled = common.read(f"{level}/cgroup.subtree_control").split()
        missing = [f"+{c}" for c in available if c not in enabled]
        if not missing:
            continue
        try:
            common.write(f"{level}/cgroup.subtree_control", " ".join(missing))
        except OSError:
            for item in missing:
                try:
                    common.write(f"{level}/cgroup.subtree_control", item)
                except OSError:
                    pass
