"""Applying a layer tar to a snapshot directory (OCI layer.md, "Applying Changesets").

Two targets, one code path:

- overlay=True: dest is an empty overlayfs upper dir. Whiteouts become what the kernel
  understands: `.wh.<name>` a 0/0 character device <name>, `.wh..wh..opq` the xattr
  trusted.overlay.opaque=y on its directory. Nothing of the lower layers is touched.
- overlay=False: dest already holds the lower layers' files (the native, copying
  snapshotter). Whiteouts are applied by deleting what they name.

Every entry name is resolved inside dest the way the kernel would after chroot(dest):
symlinks met on the way, absolute or relative, are followed but can never leave dest
(dockyard.kernel.paths.resolve_in_root), and the last component is never followed — it
is replaced. Names that are absolute or climb out with ".." are refused outright, as are
hardlinks to anything but an earlier file of the same layer. This closes tar-slip and
the symlink-swap class (CVE-2018-15664, CVE-2019-14271). It assumes that nothing else
writes to dest while the layer is applied, which holds for a snapshot being prepared.

On any error dest is left half-written: the caller (the snapshotter) removes it. Nothing
is fsynced here either; the snapshotter syncs the filesystem once when it commits.
"""

from __future__ import annotations

import decimal
import errno
import logging
import os
import shutil
import stat
import tarfile
from typing import BinaryIO

from dockyard.errors import DockyardError, Internal, InvalidParameter, NotFound, PermissionDenied, Unavailable
from dockyard.image.layer_files import SMALL_FILE, FileWriter
from dockyard.image.layer_format import (
    CAPABILITY_XATTR,
    OPAQUE_MARKER,
    OVERLAY_OPAQUE_XATTR,
    PAX_XATTR_PREFIX,
    WHITEOUT_META_PREFIX,
    WHITEOUT_PREFIX,
    ApplyResult,
    clean_entry_path,
    is_portable_xattr,
    whiteout_target,
)
from dockyard.image.layer_stream import LayerReader
from dockyard.image.layer_tar import MemberData, members
from dockyard.kernel import libc
from dockyard.kernel.paths import resolve_in_root

_log = logging.getLogger(__name__)

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Errors that a malformed layer causes (as opposed to the host: full disk, a bug).
_LAYER_ERRNOS = frozenset(
    {errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EEXIST, errno.EINVAL, errno.ENOENT}
)
# xattrs the filesystem or the caller's privileges cannot take: skipped with a warning, as docker does.
_XATTR_SKIP_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP})


def apply_layer(stream: BinaryIO, dest: str, *, compression: str | None = None, overlay: bool = True) -> ApplyResult:
    """Extract the layer tar read from `stream` into the directory `dest`.

    compression is "gzip", "zstd" or "none"; None detects it from the magic bytes. The
    stream is read once, front to back, and read to its end. Returns the diffID (sha256
    of the uncompressed tar), the uncompressed size and the bytes of file data; the caller compares the diffID
    with the image config's rootfs.diff_ids. Raises InvalidParameter for a truncated,
    corrupt or hostile layer; dest must then be discarded by the caller.
    """
    root = os.path.realpath(dest)
    if not os.path.isdir(root):
        raise NotFound(f"apply layer: destination {dest} is not a directory")
    with LayerReader(stream, compression) as reader:
        writer = FileWriter(_write_small_file, threaded=not _in_memory(root))
        try:
            applier = _Applier(root, overlay=overlay, writer=writer)
            content_size = 0
            for tar, member in members(reader):
                applier.apply(member, MemberData(tar, reader))
                content_size += member.size if member.isreg() else len(member.linkname) if member.issym() else 0
            applier.finish()
        finally:
            writer.close()
        reader.drain()
        return ApplyResult(diff_id=reader.diff_id, size=reader.size, content_size=content_size)


def _os_error(entry: str, exc: OSError) -> DockyardError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Unavailable(f"apply layer: no space left writing {entry!r}")
    if exc.errno in (errno.EPERM, errno.EACCES):
        return PermissionDenied(f"apply layer: {entry!r}: {exc.strerror}")
    if exc.errno in _LAYER_ERRNOS:
        return InvalidParameter(f"layer entry {entry!r}: {exc.strerror}")
    return Internal(f"apply layer: {entry!r}: {exc}")


def _mtime_ns(member: tarfile.TarInfo) -> int:
    # A PAX mtime carries sub-second precision that a float would round away.
    raw = member.pax_headers.get("mtime")
    if raw is not None:
        try:
            return int(decimal.Decimal(raw).scaleb(9))
        except decimal.InvalidOperation:
            pass
    return int(member.mtime) * 1_000_000_000


def _member_xattrs(member: tarfile.TarInfo, *, regular: bool) -> list[tuple[str, bytes]]:
    found = []
    for key, value in member.pax_headers.items():
        if not key.startswith(PAX_XATTR_PREFIX):
            continue
        name = key[len(PAX_XATTR_PREFIX) :]
        if not is_portable_xattr(name) or (name == CAPABILITY_XATTR and not regular):
            continue
        # tarfile decodes binary values with surrogateescape; this restores the exact bytes.
        found.append((name, value.encode("utf-8", "surrogateescape")))
    # File capabilities last: the kernel drops security.capability on chown and on a write.
    found.sort(key=lambda item: item[0] == CAPABILITY_XATTR)
    return found


def _set_xattrs(target: str | int, member: tarfile.TarInfo, *, regular: bool) -> None:
    for name, value in _member_xattrs(member, regular=regular):
        try:
            if isinstance(target, int):
                os.setxattr(target, name, value)
            else:
                os.setxattr(target, name, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _XATTR_SKIP_ERRNOS:
                raise
            _log.warning("layer entry %r: xattr %s not set: %s", member.name, name, exc.strerror)


def _is_meta(parent: str, base: str) -> bool:
    """AUFS bookkeeping (.wh..wh.plnk/...): never content, skipped like docker does."""
    if base.startswith(WHITEOUT_META_PREFIX) and base != OPAQUE_MARKER:
        return True
    return any(part.startswith(WHITEOUT_META_PREFIX) for part in parent.split("/"))


class _Applier:
    """The state of one layer being applied: what this layer wrote, and what is still to finish."""

    def __init__(self, root: str, *, overlay: bool, writer: FileWriter) -> None:
        self.root = root
        self.overlay = overlay
        self._writer = writer  # writes small regular files in order; settle a path before looking at it
        # tar parent path -> host directory it resolved to. Only removals of directories
        # or symlinks can change a resolution, and every removal clears it.
        self._parents: dict[str, str] = {}
        # Resolved paths (relative to root) this layer put in place, with their ancestors:
        # whiteouts and opaque markers must spare them (OCI: they only hide lower layers).
        self._ours: set[str] = set()
        self._whiteouts: set[str] = set()  # overlay: whiteout devices made by this layer
        self._dir_times: dict[str, int] = {}  # set last: creating children changes a directory's mtime

    # -- entries -------------------------------------------------------------

    def apply(self, member: tarfile.TarInfo, source: MemberData) -> None:
        entry = member.name
        name = clean_entry_path(entry)
        if not name:
            return  # the root entry: the snapshot's root directory is the snapshotter's, as in docker
        parent, _, base = name.rpartition("/")
        try:
            if _is_meta(parent, base):
                return
            if base == OPAQUE_MARKER:
                self._opaque(parent, entry)
            elif base.startswith(WHITEOUT_PREFIX):
                self._whiteout(parent, whiteout_target(base, entry=entry), member)
            else:
                self._entry(parent, base, member, source)
        except OSError as exc:
            raise _os_error(entry, exc) from exc

    def _entry(self, parent: str, base: str, member: tarfile.TarInfo, source: MemberData) -> None:
        link_target = self._hardlink_target(member) if member.islnk() else None
        path = os.path.join(self._parent_dir(parent, member.name), base)
        self._writer.settle(path)
        rel = self._rel(path)
        if member.isdir():
            self._directory(path, rel, member)
        elif link_target is not None:
            if link_target != path:
                self._clear(path, rel)
                os.link(link_target, path, follow_symlinks=False)  # the inode's metadata came with its first name
        else:
            self._clear(path, rel)
            self._non_directory(path, member, source)
        self._mark_ours(rel)

    def _directory(self, path: str, rel: str, member: tarfile.TarInfo) -> None:
        # OCI: a directory over a directory keeps the contents and takes the new attributes.
        st = _lstat(path)
        replaced_whiteout = rel in self._whiteouts
        if st is not None and not stat.S_ISDIR(st.st_mode):
            self._clear(path, rel)
            st = None
        if st is None:
            os.mkdir(path, 0o700)
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        os.chmod(path, member.mode & 0o7777)
        _set_xattrs(path, member, regular=False)
        if replaced_whiteout:
            # Deleted and recreated in one layer: the new directory must not show the old one's children.
            os.setxattr(path, OVERLAY_OPAQUE_XATTR, b"y", follow_symlinks=False)
        self._dir_times[rel] = _mtime_ns(member)

    def _non_directory(self, path: str, member: tarfile.TarInfo, source: MemberData) -> None:
        if member.isreg():
            self._regular(path, member, source)
            return
        if member.issym():
            if not member.linkname:
                raise InvalidParameter(f"layer entry {member.name!r}: symlink with an empty target")
            os.symlink(member.linkname, path)  # the target is data: it is never followed here
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidParameter(f"layer entry {member.name!r}: unsupported tar entry type {member.type!r}")
        os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if not member.issym():  # Linux has no symlink modes
            os.chmod(path, member.mode & 0o7777)  # after chown, which clears setuid/setgid
        _set_xattrs(path, member, regular=False)
        ns = _mtime_ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def _regular(self, path: str, member: tarfile.TarInfo, source: MemberData) -> None:
        if member.size <= SMALL_FILE and not member.issparse():
            self._writer.submit(path, member, source.read(member))
            return
        # O_EXCL|O_NOFOLLOW: the name was just cleared, so anything there now is not ours to follow.
        fd = os.open(path, _NEW_FILE, 0o600)
        try:
            source.copy_to(fd, member)
            _finish_file(fd, member)
        finally:
            os.close(fd)

    def _hardlink_target(self, member: tarfile.TarInfo) -> str:
        entry = member.name
        target = clean_entry_path(member.linkname, entry=entry)
        parent, _, base = target.rpartition("/")
        path = os.path.join(self._resolve(parent, entry), base) if base else self.root
        self._writer.settle(path)
        st = _lstat(path)
        if self._rel(path) not in self._ours or st is None or stat.S_ISDIR(st.st_mode):
            raise InvalidParameter(
                f"layer entry {entry!r}: hardlink target {member.linkname!r} is not an earlier file of this layer"
            )
        return path

    # -- whiteouts -----------------------------------------------------------

    def _whiteout(self, parent: str, name: str, member: tarfile.TarInfo) -> None:
        if self.overlay:
            directory = self._parent_dir(parent, member.name)
        else:
            directory = self._existing_dir(parent, member.name)
            if directory is None:
                return  # nothing below to delete
        path = os.path.join(directory, name)
        rel = self._rel(path)
        self._writer.settle(path)
        if rel in self._ours:
            # This layer's own entry stays; if it is a directory merged with a lower one,
            # the lower children are what the whiteout still has to hide.
            st = _lstat(path)
            if st is not None and stat.S_ISDIR(st.st_mode):
                self._hide_lower_children(path, rel)
            return
        self._clear(path, rel)
        if self.overlay:
            os.mknod(path, stat.S_IFCHR, 0)  # mode 0, device 0/0: overlayfs' whiteout
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
            ns = _mtime_ns(member)
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
            self._whiteouts.add(rel)

    def _opaque(self, parent: str, entry: str) -> None:
        directory = self._parent_dir(parent, entry)
        self._hide_lower_children(directory, self._rel(directory))

    def _hide_lower_children(self, path: str, rel: str) -> None:
        if self.overlay:
            os.setxattr(path, OVERLAY_OPAQUE_XATTR, b"y", follow_symlinks=False)
        else:
            self._prune_lower(path, rel)

    def _prune_lower(self, path: str, rel: str) -> None:
        """Native: remove everything under path that this layer did not write (OCI opaque whiteout)."""
        self._writer.settle_under(path)
        with os.scandir(path) as entries:
            children = list(entries)
        for child in children:
            child_rel = f"{rel}/{child.name}" if rel else child.name
            if child_rel not in self._ours:
                self._clear(child.path, child_rel)
            elif child.is_dir(follow_symlinks=False):
                self._prune_lower(child.path, child_rel)

    # -- paths ---------------------------------------------------------------

    def _rel(self, path: str) -> str:
        return path[len(self.root) + 1 :] if path != self.root else ""

    def _resolve(self, path: str, entry: str) -> str:
        try:
            return resolve_in_root(self.root, path)
        except OSError as exc:  # ELOOP from a symlink cycle planted by the layer
            raise InvalidParameter(f"layer entry {entry!r}: {exc.strerror}") from exc

    def _parent_dir(self, parent: str, entry: str) -> str:
        """The host directory for the tar directory `parent`, resolved inside root, created if missing."""
        host = self._parents.get(parent)
        if host is None:
            self._settle_ancestors(parent)
            host = self._resolve(parent, entry)
            self._make_dirs(host, entry)
            self._mark_ours(self._rel(host))
            self._parents[parent] = host
        return host

    def _settle_ancestors(self, parent: str) -> None:
        """Before resolving parent: a file still pending on its way must exist, or resolution would miss it."""
        current = self.root
        for part in parent.split("/") if parent else ():
            current = os.path.join(current, part)
            self._writer.settle(current)

    def _existing_dir(self, parent: str, entry: str) -> str | None:
        host = self._parents.get(parent) or self._resolve(parent, entry)
        st = _lstat(host)
        return host if st is not None and stat.S_ISDIR(st.st_mode) else None

    def _make_dirs(self, host: str, entry: str) -> None:
        st = _lstat(host)
        if st is not None and stat.S_ISDIR(st.st_mode):
            return
        current = self.root
        for part in self._rel(host).split("/"):
            current = os.path.join(current, part)
            st = _lstat(current)
            if st is None:
                os.mkdir(current)
                # Implied directories get 0755 whatever the umask, as docker (ImpliedDirectoryMode).
                os.chmod(current, 0o755)
            elif not stat.S_ISDIR(st.st_mode):
                raise InvalidParameter(f"layer entry {entry!r}: {self._rel(current)!r} is not a directory")

    def _mark_ours(self, rel: str) -> None:
        while rel and rel not in self._ours:
            self._ours.add(rel)
            rel = rel.rpartition("/")[0]

    def _clear(self, path: str, rel: str) -> None:
        """Remove whatever is at path, never following it (OCI: remove, then recreate)."""
        self._writer.settle(path)
        st = _lstat(path)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            self._writer.settle_under(path)
            shutil.rmtree(path)
        else:
            os.unlink(path)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            self._parents.clear()  # a cached resolution may have gone through it
        self._whiteouts.discard(rel)

    def finish(self) -> None:
        """Set directory mtimes, now that nothing more is created inside them."""
        self._writer.drain()
        for rel, ns in self._dir_times.items():
            path = os.path.join(self.root, rel)
            try:
                if resolve_in_root(self.root, rel) != path:
                    continue  # a later entry turned a component into a symlink: never follow it
            except OSError:
                continue
            st = _lstat(path)
            if st is not None and stat.S_ISDIR(st.st_mode):
                os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _in_memory(path: str) -> bool:
    """Whether creating files at path is so cheap that a helper thread would only add to it."""
    return libc.filesystem_type(path) in (libc.TMPFS_MAGIC, libc.RAMFS_MAGIC)


def _finish_file(fd: int, member: tarfile.TarInfo) -> None:
    os.chown(fd, member.uid, member.gid)
    os.chmod(fd, member.mode & 0o7777)  # after chown, which clears setuid/setgid
    _set_xattrs(fd, member, regular=True)
    ns = _mtime_ns(member)
    os.utime(fd, ns=(ns, ns))


def _write_small_file(path: str, member: tarfile.TarInfo, data: bytes) -> None:
    """A regular file the FileWriter thread creates; errors are named as the main thread names them."""
    try:
        fd = os.open(path, _NEW_FILE, 0o600)  # O_EXCL|O_NOFOLLOW, as _Applier._regular
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            _finish_file(fd, member)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(member.name, exc) from exc


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
