"""Copying a directory tree exactly: the native snapshotter's whole trick.

Everything a layer can hold survives: owners, modes (setuid included), xattrs
(file capabilities), timestamps, symlinks, device nodes, fifos, sockets, and hard
links inside the tree (linked again inside the copy, never to the source, so the
copy shares no inode with it). Data goes through copy_file_range(2), which lets
filesystems that can share extents (btrfs, xfs) do so.

Metadata is applied in an order that keeps it: owner first (chown clears setuid
bits and file capabilities), then mode, then xattrs, then times last (every
earlier step touches ctime, and creating children touches a directory's mtime).
"""

from __future__ import annotations

import errno
import logging
import os
import stat

log = logging.getLogger(__name__)

_CHUNK = 1 << 30


def copy_tree(source: str, destination: str) -> None:
    """Copy the contents of directory source into the existing directory destination."""
    links: dict[tuple[int, int], str] = {}
    _copy_children(source, destination, links)
    _copy_metadata(source, destination, os.lstat(source))


def _copy_children(source: str, destination: str, links: dict[tuple[int, int], str]) -> None:
    with os.scandir(source) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            target = os.path.join(destination, entry.name)
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(target, 0o700)
                _copy_children(entry.path, target, links)
            elif _copy_entry(entry.path, target, info, links):
                continue  # a hard link: it shares the metadata already copied
            _copy_metadata(entry.path, target, info)


def _copy_entry(source: str, target: str, info: os.stat_result, links: dict[tuple[int, int], str]) -> bool:
    """Create target like source (not a directory); True if it is a hard link to an earlier copy."""
    mode = info.st_mode
    if info.st_nlink > 1:
        earlier = links.get((info.st_dev, info.st_ino))
        if earlier is not None:
            os.link(earlier, target)
            return True
        links[(info.st_dev, info.st_ino)] = target
    if stat.S_ISREG(mode):
        _copy_data(source, target)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        os.mknod(target, mode, info.st_rdev)
    else:
        raise OSError(errno.EINVAL, f"copy {source}: unknown file type {stat.S_IFMT(mode):#o}")
    return False


def _copy_data(source: str, target: str) -> None:
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            try:
                while os.copy_file_range(src, dst, _CHUNK):
                    pass
            except OSError as exc:  # EXDEV before 5.3, or a filesystem without support
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                while os.sendfile(dst, src, None, _CHUNK):
                    pass
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_metadata(source: str, target: str, info: os.stat_result) -> None:
    os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)
    is_link = stat.S_ISLNK(info.st_mode)
    if not is_link:  # Linux has no lchmod; a symlink's mode is always 0777
        os.chmod(target, stat.S_IMODE(info.st_mode))
    _copy_xattrs(source, target)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(source: str, target: str) -> None:
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name, follow_symlinks=False), follow_symlinks=False)
        except OSError as exc:
            # security.* labels (SELinux) often cannot be set; containerd ignores these failures
            # too (moby/buildkit#1189). File capabilities and anything else are real errors.
            ignorable = name.startswith("security.") and name != "security.capability"
            if not ignorable or exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EACCES):
                raise
            log.debug("not copying xattr %s of %s: %s", name, source, exc)
