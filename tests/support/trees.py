"""Snapshots of directory trees, for asserting that two trees hold the same files."""

from __future__ import annotations

import hashlib
import os
import stat


def tree(root, *, whole_seconds: bool = False) -> dict[str, tuple]:
    """Type and mode, owner, mtime, content, xattrs and hardlink group of every path under root.

    whole_seconds compares mtimes to the second, as layer tars carry them.
    """
    root = os.fspath(root)
    result: dict[str, tuple] = {}
    links: dict[tuple[int, int], list[str]] = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            xattrs = ()
            if not stat.S_ISLNK(st.st_mode):
                listed = os.listxattr(path, follow_symlinks=False)
                xattrs = tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False)) for n in listed))
            if not stat.S_ISDIR(st.st_mode):
                links.setdefault((st.st_dev, st.st_ino), []).append(rel)
            mtime = st.st_mtime_ns // 10**9 if whole_seconds else st.st_mtime_ns
            result[rel] = (st.st_mode, st.st_uid, st.st_gid, mtime, _content(path, st), xattrs)
    for names in links.values():  # hardlinks: every name of an inode carries the same group label
        for rel in names:
            result[rel] += (min(names),)
    return result


def _content(path: str, st: os.stat_result):
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return (os.major(st.st_rdev), os.minor(st.st_rdev))
    return None
