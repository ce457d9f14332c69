"""Building the container's root filesystem inside its new mount namespace.

Runs in the container's init, before pivot_root. Each step is its own function
and every failure names the mount and the path: this is the part of the
runtime most worth reading top to bottom.

    make "/" a slave (nothing we mount propagates back to the host)
    bind the rootfs onto itself      (pivot_root needs a mount point)
    mount each config mount          (paths resolved inside the rootfs)
    create /dev nodes and symlinks
    ── createContainer hooks run here, in the init, before the root moves ──
    pivot_root                        (or MS_MOVE + chroot with --no-pivot)
    sysctls, masked and read-only paths, read-only root
"""

from __future__ import annotations

import os

from dockyard.kernel import constants as k
from dockyard.kernel import libc, mountopts
from dockyard.kernel.paths import make_target, resolve_in_root, resolve_name_in_root
from dockyard.runtime import devices

_DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)
# statvfs f_flag bits that a bind remount inside a user namespace must keep:
# the kernel refuses to clear these "locked" flags (ST_* values equal MS_*).
_LOCKED = k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC


class MountError(OSError):
    pass


def prepare(config: dict, cgroup_mounts: list[tuple[str, str, str, str]], in_userns: bool, own_mounts: bool) -> None:
    """Everything before pivot_root. cgroup_mounts: (name, fstype, options, host dir) per hierarchy.

    Without a mount namespace of its own (own_mounts false, as runc allows) the
    mounts land in the runtime's namespace, which is what such a config asks for.
    """
    rootfs = config["root"]["path"]
    if own_mounts:
        libc.mount(None, "/", None, k.MS_SLAVE | k.MS_REC)
        libc.mount(rootfs, rootfs, None, k.MS_BIND | k.MS_REC)
    for i, mount in enumerate(config.get("mounts", [])):
        try:
            mount_one(rootfs, mount, cgroup_mounts, in_userns)
        except OSError as exc:
            raise MountError(exc.errno, f"mounts[{i}] {mount['destination']}: {exc.strerror}") from None
    for device in devices.container_devices(config):
        devices.create(rootfs, device, in_userns)
    for target, link in _DEV_SYMLINKS:
        _symlink(rootfs, target, link)
    if os.path.isdir(resolve_in_root(rootfs, "/dev/pts")):
        _symlink(rootfs, "pts/ptmx", "/dev/ptmx")


def mount_one(rootfs: str, mount: dict, cgroup_mounts: list, in_userns: bool) -> None:
    flags, propagation, data = mountopts.parse(mount.get("options", []))
    kind = mount.get("type", "")
    source = mount.get("source", "")
    dest = resolve_in_root(rootfs, mount["destination"])
    is_bind = bool(flags & k.MS_BIND) or kind == "bind"
    if is_bind:
        make_target(dest, directory=os.path.isdir(source))
        libc.mount(source, dest, None, k.MS_BIND | (flags & k.MS_REC))
        extra = flags & ~(k.MS_BIND | k.MS_REC)
        if extra:
            if in_userns:
                extra |= os.statvfs(dest).f_flag & _LOCKED
            libc.mount(None, dest, None, k.MS_BIND | k.MS_REMOUNT | extra)
    elif kind == "cgroup":
        make_target(dest, directory=True)
        mount_cgroups(dest, flags, cgroup_mounts)
    else:
        make_target(dest, directory=True)
        libc.mount(source or kind, dest, kind, flags, ",".join(data) or None)
    for prop in propagation:
        libc.mount(None, dest, None, prop)


def mount_cgroups(dest: str, flags: int, cgroup_mounts: list[tuple[str, str, str, str]]) -> None:
    """Show the container its own cgroups at dest, as docker does.

    Inside a new cgroup namespace a fresh cgroup mount shows the namespace's
    root, which is the container's cgroup; a bind of the container's cgroup
    directory gives the same view without one.
    """
    if len(cgroup_mounts) == 1 and cgroup_mounts[0][0] == "":  # pure cgroup v2
        host_dir = cgroup_mounts[0][3]
        libc.mount(host_dir, dest, None, k.MS_BIND | k.MS_REC)
        libc.mount(None, dest, None, k.MS_BIND | k.MS_REMOUNT | flags)
        return
    libc.mount("tmpfs", dest, "tmpfs", flags & ~k.MS_RDONLY, "mode=755")
    for name, _fstype, _options, host_dir in cgroup_mounts:
        target = os.path.join(dest, name)
        os.makedirs(target, exist_ok=True)
        libc.mount(host_dir, target, None, k.MS_BIND | k.MS_REC)
        libc.mount(None, target, None, k.MS_BIND | k.MS_REMOUNT | flags)
        if "," in name:  # cpu,cpuacct is also reachable as cpu and cpuacct
            for alias in name.split(","):
                if not os.path.lexists(os.path.join(dest, alias)):
                    os.symlink(name, os.path.join(dest, alias))
    if flags & k.MS_RDONLY:
        libc.mount(None, dest, None, k.MS_REMOUNT | flags, "mode=755")


def _symlink(rootfs: str, target: str, link: str) -> None:
    path = resolve_name_in_root(rootfs, link)
    if not os.path.lexists(path):
        os.symlink(target, path)


def pivot(rootfs: str, no_pivot: bool, own_mounts: bool) -> None:
    """Make rootfs the root of the mount namespace and detach the host's tree.

    pivot_root(".", ".") stacks the old root on top of the new one; unmounting
    "." afterwards removes it without needing a put_old directory in the image.
    In the host's own mount namespace only chroot is safe.
    """
    if not own_mounts:
        os.chroot(rootfs)
        os.chdir("/")
        return
    if no_pivot:
        os.chdir(rootfs)
        libc.mount(rootfs, "/", None, k.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        libc.pivot_root(".", ".")
        os.fchdir(old_root)
        # Slave first, so the detach below does not propagate to the host.
        libc.mount(None, ".", None, k.MS_SLAVE | k.MS_REC)
        libc.umount2(".", k.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def finish(config: dict, own_mounts: bool) -> None:
    """After pivot_root: sysctls, masked and read-only paths, the read-only root."""
    linux = config.get("linux", {})
    for key, value in linux.get("sysctl", {}).items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise OSError(exc.errno, f"linux.sysctl {key}: write {path}: {exc.strerror}") from None
    for path in linux.get("readonlyPaths", []):
        _readonly(path)
    for path in linux.get("maskedPaths", []):
        _mask(path)
    propagation = linux.get("rootfsPropagation")
    if propagation:
        libc.mount(None, "/", None, mountopts.PROPAGATION[propagation])
    if config["root"].get("readonly"):
        if not own_mounts:
            raise OSError(22, "root.readonly: a read-only root needs a mount namespace of its own")
        flags = os.statvfs("/").f_flag & _LOCKED
        libc.mount(None, "/", None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | flags)


def _readonly(path: str) -> None:
    if not os.path.exists(path):
        return
    libc.mount(path, path, None, k.MS_BIND | k.MS_REC)
    flags = os.statvfs(path).f_flag & _LOCKED
    libc.mount(
        None, path, None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC | flags
    )


def _mask(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        libc.mount("tmpfs", path, "tmpfs", k.MS_RDONLY, None)
    elif os.path.exists(path):
        libc.mount("/dev/null", path, None, k.MS_BIND)
