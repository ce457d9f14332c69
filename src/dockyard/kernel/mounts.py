"""Performing the mounts a snapshotter returns, and undoing them.

mount_all() takes (type, source, options) triples, dockyard.core.snapshot.Mount
among them (this package imports nothing above it), and mounts each on the same
target in order. unmount_all() undoes the mounts stacked on one target;
unmount_under() detaches every mount at or under a directory, found in
/proc/self/mountinfo (mount_points_under), so the tree can be removed safely.

The page limit. mount(2) copies its data argument into one page (4096 bytes
here) and an overlay's lowerdir= lists every layer, so absolute paths overflow
it after a few dozen layers (130 layers under /var/lib/dockyard/snapshots/<id>/fs
need ~6 KB). Like containerd's mount helper, an overlay whose options come near
the limit is mounted from a thread that has its own working directory
(unshare(CLONE_FS), then chdir to the lowerdirs' common parent) with lowerdirs
relative to it: "12/fs:11/fs:..." takes ~7 bytes a layer, so 500 layers, the
kernel's own stack limit, fit. Only that thread's cwd changes; the rest of the
process never sees it.
"""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import Internal
from dockyard.kernel import constants as k
from dockyard.kernel import libc, mountopts

# The cgroup layout reads mountinfo through this module on every `dockyard-runtime`
# call, whose start-up is benchmarked: re, threading and collections stay out of the
# import (~5 ms here); threading is imported where a thread is started.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Compact before the last 512 bytes of the page, as containerd does, so a list
# near the limit never depends on an exact count of separators and terminator.
_COMPACT_AT = PAGE_SIZE - 512

_UNMOUNT_BUSY_RETRIES = 50
_UNMOUNT_BUSY_WAIT = 0.05


def mount_all(mounts: Iterable[tuple[str, str, Sequence[str]]], target: str) -> None:
    """Mount each (type, source, options) on target, in order.

    If one fails, the ones already mounted are unmounted before the error (an
    OSError naming the operation and the path) propagates.
    """
    target = os.path.abspath(target)  # a relative target would follow the chdir below
    done = 0
    try:
        for fstype, source, options in mounts:
            mount_one(fstype, source, options, target)
            done += 1
    except BaseException:
        for _ in range(done):
            libc.umount2(target, k.MNT_DETACH)
        raise


def mount_one(fstype: str, source: str, options: Sequence[str], target: str) -> None:
    """One mount on the absolute path target; raises OSError(E2BIG) if its options cannot fit a page."""
    flags, propagation, data = mountopts.parse(options)
    chdir = None
    if fstype == "overlay" and len(",".join(data)) >= _COMPACT_AT:
        chdir, data = compact_lowerdir(data)
    joined = ",".join(data)
    if len(joined) >= PAGE_SIZE:
        raise OSError(errno.E2BIG, f"mount {fstype} on {target}: options are {len(joined)} bytes, over one page")
    if chdir is None:
        libc.mount(source, target, fstype, flags, joined or None)
    else:
        _mount_from(chdir, source, target, fstype, flags, joined)
    try:
        if flags & k.MS_BIND and flags & k.MS_RDONLY:
            # The kernel ignores MS_RDONLY on the bind itself; only a remount makes it read-only.
            libc.mount(None, target, None, flags | k.MS_REMOUNT)
        for flag in propagation:
            libc.mount(None, target, None, flag)
    except OSError:
        libc.umount2(target, k.MNT_DETACH)  # never leave a bind writable that was asked read-only
        raise


def compact_lowerdir(data: Sequence[str]) -> tuple[str | None, list[str]]:
    """Rewrite lowerdir= relative to the lowerdirs' common parent: (that directory, new data).

    Returns (None, data unchanged) when there is nothing to gain: no lowerdir,
    a single one, or no common parent below "/".
    """
    index = next((i for i, option in enumerate(data) if option.startswith("lowerdir=")), None)
    if index is None:
        return None, list(data)
    dirs = data[index].removeprefix("lowerdir=").split(":")
    if len(dirs) < 2 or not all(os.path.isabs(d) for d in dirs):
        return None, list(data)
    common = os.path.commonpath(dirs)
    if common in dirs:  # one lowerdir inside another: relative to its parent instead
        common = os.path.dirname(common)
    if common == "/":
        return None, list(data)
    relative = [os.path.relpath(d, common) for d in dirs]
    compacted = list(data)
    compacted[index] = "lowerdir=" + ":".join(relative)
    return common, compacted


def _mount_from(directory: str, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    """mount(2) with the working directory set to directory, in a thread of its own.

    unshare(CLONE_FS) gives the thread a private cwd, so the chdir cannot move
    any other thread; the thread (and its cwd) ends with the mount.
    """
    import threading

    failure: list[BaseException] = []

    def run() -> None:
        try:
            libc.unshare(k.CLONE_FS)
            os.chdir(directory)
            libc.mount(source, target, fstype, flags, data)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="dy-mount-chdir")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def unmount_all(target: str, flags: int = 0) -> None:
    """Unmount everything stacked on target until it is no mount point at all.

    A target that is not mounted (or does not exist) is fine. EBUSY is retried
    for a few seconds, as a process leaving the mount may still hold it; then
    the error propagates (pass MNT_DETACH to detach lazily instead).
    """
    target = os.path.abspath(target)
    busy = 0
    while True:
        try:
            libc.umount2(target, flags | k.UMOUNT_NOFOLLOW)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                return  # nothing (more) mounted there
            if exc.errno != errno.EBUSY or busy >= _UNMOUNT_BUSY_RETRIES:
                raise
            busy += 1
            time.sleep(_UNMOUNT_BUSY_WAIT)


def unescape_mountinfo(field: str) -> str:
    """A mountinfo path field as the path: the kernel writes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    # The kernel escapes every backslash too, so each one starts an escape.
    head, *escaped = field.split("\\")
    parts = [head]
    for part in escaped:
        code = part[:3]
        if len(code) == 3 and all(c in "01234567" for c in code):
            parts.append(chr(int(code, 8)) + part[3:])
        else:
            parts.append("\\" + part)  # not an escape after all: keep it as written
    return "".join(parts)


def mount_points_under(root: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points at or under root in our mount namespace, deepest first."""
    root = os.path.realpath(root)
    with open(mountinfo) as f:
        points = [unescape_mountinfo(line.split(" ")[4]) for line in f if line.strip()]
    under = [p for p in points if p == root or p.startswith(root + "/")]
    return sorted(set(under), key=lambda p: p.count("/"), reverse=True)


def unmount_under(root: str) -> None:
    """Detach (MNT_DETACH) everything mounted at or under root, deepest first; Internal if something stays mounted."""
    for point in mount_points_under(root):
        unmount_all(point, k.MNT_DETACH)
    left = mount_points_under(root)
    if left:
        raise Internal(f"still mounted under {root} after unmounting: {', '.join(left)}")
