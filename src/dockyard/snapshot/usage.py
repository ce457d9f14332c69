"""Disk usage of a directory tree, as du -x counts it."""

from __future__ import annotations

import os
import stat

from dockyard.core.snapshot import Usage

_BLOCK = 512  # st_blocks is in 512-byte units whatever the filesystem's block size


def disk_usage(path: str) -> Usage:
    """Allocated bytes and inodes under path (itself included), each inode once.

    Blocks rather than file sizes, so that what `system df` reports is what
    removing the snapshot frees; hard-linked files count once. Entries that
    vanish during the walk are skipped; directories of another filesystem
    (a mount point) are not entered. Raises FileNotFoundError if path is gone.
    """
    top = os.lstat(path)
    seen = {(top.st_dev, top.st_ino)}
    size = top.st_blocks * _BLOCK
    pending = [path]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            size += info.st_blocks * _BLOCK
            if stat.S_ISDIR(info.st_mode) and info.st_dev == top.st_dev:
                pending.append(entry.path)
    return Usage(size=size, inodes=len(seen))
