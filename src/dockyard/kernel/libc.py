"""errno-checked system calls that Python's os module lacks.

Python 3.11's os module has no mount, unshare, setns, pivot_root, sethostname,
capset, prctl, clone3, seccomp, statfs, inotify or bpf (os.unshare/os.setns only
arrive in 3.12). They are made by the C extension `_native` (see _native.c for why
not ctypes), which answers -errno on failure; each wrapper here raises
OSError(errno, "<operation> <path>: <strerror>").
"""

from __future__ import annotations

import os

from dockyard.kernel import _native

TMPFS_MAGIC = 0x01021994
RAMFS_MAGIC = 0x858458F6


def fail(err: int, what: str, path: str | bytes | None = None) -> OSError:
    """The OSError for a call that answered -err."""
    where = f" {os.fsdecode(path)}" if path else ""
    return OSError(err, f"{what}{where}: {os.strerror(err)}")


def _bytes(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    if rc := _native.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)):
        raise fail(-rc, f"mount {source or fstype or ''} on", target)


def umount2(target: str, flags: int = 0) -> None:
    if rc := _native.umount2(_bytes(target), flags):
        raise fail(-rc, "umount", target)


def unshare(flags: int) -> None:
    if rc := _native.unshare(flags):
        raise fail(-rc, f"unshare {flags:#x}")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    if rc := _native.setns(fd, nstype):
        raise fail(-rc, "setns", path)


def pivot_root(new_root: str, put_old: str) -> None:
    if rc := _native.pivot_root(_bytes(new_root), _bytes(put_old)):
        raise fail(-rc, "pivot_root", new_root)


def sethostname(name: str) -> None:
    if rc := _native.sethostname(name.encode()):
        raise fail(-rc, "sethostname", name)


def setdomainname(name: str) -> None:
    if rc := _native.setdomainname(name.encode()):
        raise fail(-rc, "setdomainname", name)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    result = _native.prctl(option, arg2, arg3, arg4, arg5)
    if result < 0:
        raise fail(-result, f"prctl {option}")
    return result


def clone3(cgroup_fd: int | None = None, namespaces: int = 0) -> int:
    """fork() through clone3(2): the child born in the cgroup v2 directory cgroup_fd
    and in new namespaces (CLONE_NEW* flags), as the kernel allows both at birth.

    Why not fork then write cgroup.procs: moving a running process takes the
    kernel's global threadgroup lock, whose write side waits for an RCU grace
    period (10-25 ms measured here); a child created inside the cgroup does not.
    Why not fork then unshare: a new pid namespace only takes the caller's
    children, so that would need one more process; with CLONE_NEWPID the child
    is already pid 1 of its namespace.
    The child returns 0 into this same interpreter, like os.fork() but without
    its at-fork hooks: only call this from a single-threaded process.
    Raises OSError (ENOSYS before Linux 5.3, EINVAL for cgroup_fd before 5.7)
    when the kernel can't do it.
    """
    pid = _native.clone3(namespaces, -1 if cgroup_fd is None else cgroup_fd)
    if pid < 0:
        raise fail(-pid, "clone3")
    return pid


_CLOSE_RANGE_CLOEXEC = 4


def cloexec_from(first_fd: int) -> None:
    """Mark every fd from first_fd up close-on-exec with one close_range(2).

    Raises OSError (ENOSYS before Linux 5.11) so callers can fall back to
    walking /proc/self/fd, which a chroot without /proc does not have.
    """
    if rc := _native.close_range(first_fd, 0xFFFFFFFF, _CLOSE_RANGE_CLOEXEC):
        raise fail(-rc, "close_range")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) of this thread's three sets, as 64-bit masks (capability version 3)."""
    if rc := _native.capset(effective, permitted, inheritable):
        raise fail(-rc, "capset")


def seccomp_set_filter(flags: int, program: bytes) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER): 0, or with TSYNC the id of a thread that could not take it."""
    result = _native.seccomp_set_filter(flags, program)
    if result < 0:
        raise fail(-result, "seccomp install")
    return result


def filesystem_type(path: str) -> int:
    """statfs(2)'s f_type of the filesystem holding path (os.statvfs does not report it)."""
    result = _native.filesystem_type(os.fsencode(path))
    if result < 0:
        raise fail(-result, "statfs", path)
    return result


def inotify_init1(flags: int) -> int:
    fd = _native.inotify_init1(flags)
    if fd < 0:
        raise fail(-fd, "inotify_init1")
    return fd


def inotify_add_watch(fd: int, path: str, mask: int) -> int:
    wd = _native.inotify_add_watch(fd, os.fsencode(path), mask)
    if wd < 0:
        raise fail(-wd, "inotify_add_watch", path)
    return wd


def bpf(cmd: int, attr: bytearray | memoryview, what: str) -> int:
    """bpf(2) with a union bpf_attr packed into a writable buffer the kernel may answer into."""
    result = _native.bpf(cmd, attr)
    if result < 0:
        raise fail(-result, what)
    return result
