"""The libc handle and errno-checked calls.

Python 3.11's os module lacks mount, unshare, setns, pivot_root, sethostname,
capset and prctl (os.unshare/os.setns only arrive in 3.12), so these go through
ctypes. Each wrapper raises OSError(errno, "<operation> <path>: <strerror>").
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# Syscall numbers that glibc has no wrapper for (pivot_root) or that we call raw
# so that no glibc caching gets in the way. x86_64 and aarch64 only.
_MACHINE = os.uname().machine
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}[_MACHINE]
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}[_MACHINE]
SYS_CAPGET = {"x86_64": 125, "aarch64": 90}[_MACHINE]
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}[_MACHINE]
SYS_SETNS = {"x86_64": 308, "aarch64": 268}[_MACHINE]
SYS_CLONE3 = 435  # the same on every architecture
SYS_CLOSE_RANGE = 436  # likewise

_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_libc.statfs.argtypes = (ctypes.c_char_p, ctypes.c_void_p)

TMPFS_MAGIC = 0x01021994
RAMFS_MAGIC = 0x858458F6


def fail(what: str, path: str | bytes | None = None) -> OSError:
    """Build the OSError for the errno ctypes saved after a failed call."""
    err = ctypes.get_errno()
    where = f" {os.fsdecode(path)}" if path else ""
    return OSError(err, f"{what}{where}: {os.strerror(err)}")


def _bytes(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    if _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)) != 0:
        raise fail(f"mount {source or fstype or ''} on", target)


def umount2(target: str, flags: int = 0) -> None:
    if _libc.umount2(_bytes(target), flags) != 0:
        raise fail("umount", target)


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise fail(f"unshare {flags:#x}")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    if _libc.syscall(SYS_SETNS, fd, nstype) != 0:
        raise fail("setns", path)


def pivot_root(new_root: str, put_old: str) -> None:
    if _libc.syscall(SYS_PIVOT_ROOT, _bytes(new_root), _bytes(put_old)) != 0:
        raise fail("pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, len(raw)) != 0:
        raise fail("sethostname", name)


def setdomainname(name: str) -> None:
    raw = name.encode()
    if _libc.setdomainname(raw, len(raw)) != 0:
        raise fail("setdomainname", name)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    result = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if result < 0:
        raise fail(f"prctl {option}")
    return result


def syscall(number: int, *args: int | bytes | ctypes.Array | ctypes._Pointer) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        raise fail(f"syscall {number}")
    return result


class _CloneArgs(ctypes.Structure):
    """struct clone_args of <linux/sched.h>, up to the cgroup field (CLONE_ARGS_SIZE_VER2)."""

    _fields_ = tuple(
        (name, ctypes.c_uint64)
        for name in (
            "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
            "stack_size", "tls", "set_tid", "set_tid_size", "cgroup",
        )
    )  # fmt: skip


_CLONE_INTO_CGROUP = 0x200000000
_SIGCHLD = 17


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
    flags = namespaces | (_CLONE_INTO_CGROUP if cgroup_fd is not None else 0)
    args = _CloneArgs(flags=flags, exit_signal=_SIGCHLD, cgroup=cgroup_fd or 0)
    pid = _libc.syscall(SYS_CLONE3, ctypes.byref(args), ctypes.sizeof(args))
    if pid < 0:
        raise fail("clone3")
    return pid


_CLOSE_RANGE_CLOEXEC = 4


def cloexec_from(first_fd: int) -> None:
    """Mark every fd from first_fd up close-on-exec with one close_range(2).

    Raises OSError (ENOSYS before Linux 5.11) so callers can fall back to
    walking /proc/self/fd, which a chroot without /proc does not have.
    """
    if _libc.syscall(SYS_CLOSE_RANGE, ctypes.c_uint(first_fd), ctypes.c_uint(0xFFFFFFFF), _CLOSE_RANGE_CLOEXEC) != 0:
        raise fail("close_range")


def filesystem_type(path: str) -> int:
    """statfs(2)'s f_type of the filesystem holding path (os.statvfs does not report it)."""
    # struct statfs is 120 bytes on 64-bit Linux; f_type, a long, comes first.
    buffer = ctypes.create_string_buffer(128)
    if _libc.statfs(os.fsencode(path), buffer) != 0:
        raise fail("statfs", path)
    return ctypes.c_long.from_buffer(buffer).value
