"""Layer diffs: an overlayfs upper dir, read against its lowers, written as a layer tar.

The upper dir already is the changeset (overlayfs copies a whole file up on any change
and leaves whiteouts for deletions), so, as docker's overlay2 driver does, the layer is
the upper dir as a tar, with overlayfs' markers translated back to OCI's: a 0/0
character device becomes `.wh.<name>`, trusted.overlay.opaque=y becomes
`<dir>/.wh..wh..opq`. The lowers (top first) are consulted only to drop markers that
hide nothing, which keeps the tar canonical.

The tar is reproducible: the same tree gives the same bytes, hence the same diffID.
That is why entries are sorted (bytewise, like Go's filepath.Walk), why mtimes are
whole seconds and uname/gname empty (as docker writes them), and why PAX is the format:
it is the one that carries long names, large ids and xattrs without GNU extensions, and
Python writes its extended headers only when an entry needs one.

Upper dirs made with redirect_dir or metacopy keep data in the lowers; they are refused
(Unsupported) rather than turned into a wrong layer. Dockyard mounts without them.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import Conflict, Internal, NotFound, Unsupported
from dockyard.image.layer_format import (
    CAPABILITY_XATTR,
    OPAQUE_MARKER,
    OVERLAY_OPAQUE_XATTR,
    OVERLAY_UNSUPPORTED_XATTRS,
    PAX_XATTR_PREFIX,
    WHITEOUT_PREFIX,
    DiffResult,
    is_portable_xattr,
    portable_capability,
)
from dockyard.image.layer_stream import CHUNK
from dockyard.image.layer_writers import DigestWriter

_log = logging.getLogger(__name__)

_WHITEOUT_MODE = 0o600  # what docker writes for a whiteout entry; the device's own mode is 0
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def diff_layer(lower_dirs: list[str], upper_dir: str, out_stream: BinaryIO) -> DiffResult:
    """Write the changes of `upper_dir` over `lower_dirs` (top first) as an uncompressed layer tar.

    Returns the diffID and size of the tar written to out_stream. Wrap out_stream in a
    layer_writers.CompressingWriter to get a gzip or zstd blob and its digest at the same time.
    """
    tree = _OverlayTree(_existing_dir(upper_dir), [_existing_dir(d) for d in lower_dirs])
    writer = DigestWriter(out_stream)
    tar = tarfile.TarFile(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8")
    tar.copybufsize = CHUNK
    _TarWriter(tree, tar).write_dir(b"")
    tar.close()  # writes the end-of-archive blocks; out_stream itself stays open
    return DiffResult(diff_id=writer.digest, size=writer.size)


def changes(lower_dirs: list[str], upper_dir: str) -> list[tuple[str, str]]:
    """What `docker diff` shows: ("A" | "C" | "D", "/path") sorted by path.

    As in docker, a directory holding an added or deleted path is reported changed, and
    a deleted directory is one "D" entry, not one per file inside it.
    """
    tree = _OverlayTree(_existing_dir(upper_dir), [_existing_dir(d) for d in lower_dirs])
    found: dict[bytes, str] = {}
    _collect_changes(tree, b"", hidden=False, found=found)
    for path, kind in list(found.items()):
        parent = os.path.dirname(path)
        if kind in ("A", "D") and parent and parent not in found:
            found[parent] = "C"
    return [(kind, "/" + os.fsdecode(path)) for path, kind in sorted(found.items())]


def _existing_dir(path: str) -> bytes:
    if not os.path.isdir(path):
        raise NotFound(f"layer diff: {path} is not a directory")
    return os.fsencode(os.path.realpath(path))


def _join(rel: bytes, name: bytes) -> bytes:
    return rel + b"/" + name if rel else name


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _xattrs(path: bytes) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    values = {}
    for name in sorted(names):
        if name in OVERLAY_UNSUPPORTED_XATTRS:
            raise Unsupported(
                f"layer diff: {os.fsdecode(path)} has {name}: upper dirs made with redirect_dir or metacopy "
                "cannot be read as a changeset"
            )
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENODATA:  # removed since listed
                raise
    return values


@dataclass(frozen=True)
class _Entry:
    name: bytes
    path: bytes
    rel: bytes
    st: os.stat_result


class _OverlayTree:
    """An upper dir and its lowers, answering what the lowers showed before the upper existed."""

    def __init__(self, upper: bytes, lowers: list[bytes]) -> None:
        self.upper = upper
        self.lowers = lowers

    def children(self, rel: bytes) -> Iterator[_Entry]:
        """The upper dir's entries under rel, sorted bytewise."""
        base = os.path.join(self.upper, rel) if rel else self.upper
        with os.scandir(base) as entries:
            found = sorted((entry.name, entry.path) for entry in entries)
        for name, path in found:
            yield _Entry(name, path, _join(rel, name), os.lstat(path))

    def lower_stat(self, rel: bytes) -> os.stat_result | None:
        """rel as the merged lower layers show it: None when absent, whited out or hidden."""
        for lower in self.lowers:
            state, st = _lookup(lower, rel.split(b"/"))
            if state == "found":
                return st
            if state == "hidden":
                return None
        return None

    def lower_children(self, rel: bytes) -> set[bytes]:
        """Names the merged lower layers show inside the directory rel."""
        names: set[bytes] = set()
        hidden: set[bytes] = set()
        parts = rel.split(b"/") if rel else []
        for lower in self.lowers:
            state, st = _lookup(lower, parts) if parts else ("found", os.lstat(lower))
            if state == "hidden" or (state == "found" and not stat.S_ISDIR(st.st_mode)):
                break
            if state == "missing":
                continue
            directory = os.path.join(lower, rel) if rel else lower
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name in names or entry.name in hidden:
                        continue
                    (hidden if _is_whiteout(entry.stat(follow_symlinks=False)) else names).add(entry.name)
            if _xattrs(directory).get(OVERLAY_OPAQUE_XATTR) == b"y":
                break
        return names


def _lookup(lower: bytes, parts: list[bytes]) -> tuple[str, os.stat_result | None]:
    """Look a path up in one overlay layer: "found", "missing" (look further down) or "hidden".

    A whiteout, a non-directory ancestor, or an opaque ancestor in this layer hides
    whatever the layers below hold at that path, as overlayfs' lookup does.
    """
    path = lower
    opaque_above = False
    for index, part in enumerate(parts):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return ("hidden" if opaque_above else "missing"), None
        if _is_whiteout(st):
            return "hidden", None
        if index == len(parts) - 1:
            return "found", st
        if not stat.S_ISDIR(st.st_mode):
            return "hidden", None
        opaque_above = opaque_above or _xattrs(path).get(OVERLAY_OPAQUE_XATTR) == b"y"
    return "found", os.lstat(path)


class _TarWriter:
    """Writes the upper dir depth-first: a directory, its markers, then its children."""

    def __init__(self, tree: _OverlayTree, tar: tarfile.TarFile) -> None:
        self.tree = tree
        self.tar = tar
        self._links: dict[tuple[int, int], str] = {}  # (st_dev, st_ino) -> first name, for hardlinks

    def write_dir(self, rel: bytes) -> None:
        entries = list(self.tree.children(rel))
        # Whiteouts first: OCI asks for them before sibling directories, so that an applier
        # that streams sees a deletion before anything recreated under the same name.
        for entry in entries:
            if _is_whiteout(entry.st) and self.tree.lower_stat(entry.rel) is not None:
                self._whiteout(entry)
        for entry in entries:
            if _is_whiteout(entry.st):
                continue
            if stat.S_ISSOCK(entry.st.st_mode):
                _log.warning("layer diff: skipping socket %s: tar cannot hold sockets", os.fsdecode(entry.path))
                continue
            xattrs = _xattrs(entry.path)
            self._entry(entry, xattrs)
            if stat.S_ISDIR(entry.st.st_mode):
                if xattrs.get(OVERLAY_OPAQUE_XATTR) == b"y" and self._hides_lower_dir(entry.rel):
                    self._opaque(entry)
                self.write_dir(entry.rel)

    def _hides_lower_dir(self, rel: bytes) -> bool:
        lower = self.tree.lower_stat(rel)
        return lower is not None and stat.S_ISDIR(lower.st_mode)

    def _whiteout(self, entry: _Entry) -> None:
        parent = os.path.dirname(entry.rel)
        info = _info(_join(parent, WHITEOUT_PREFIX.encode() + entry.name), entry.st)
        info.mode = _WHITEOUT_MODE
        self.tar.addfile(info)

    def _opaque(self, entry: _Entry) -> None:
        # Docker's form: the directory's owner and permissions, a zero mtime.
        info = _info(_join(entry.rel, OPAQUE_MARKER.encode()), entry.st)
        info.mode = entry.st.st_mode & 0o777
        info.mtime = 0
        self.tar.addfile(info)

    def _entry(self, entry: _Entry, xattrs: dict[str, bytes]) -> None:
        st = entry.st
        info = _info(entry.rel, st)
        info.pax_headers = _pax_xattrs(xattrs)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first = self._links.setdefault((st.st_dev, st.st_ino), info.name)
            if first != info.name:
                info.type, info.linkname, info.pax_headers = tarfile.LNKTYPE, first, {}
                self.tar.addfile(info)
                return
        if stat.S_ISREG(st.st_mode):
            self._regular(entry, info)
            return
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.fsdecode(os.readlink(entry.path))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            raise Internal(f"layer diff: {os.fsdecode(entry.path)} has an unknown file type")
        self.tar.addfile(info)

    def _regular(self, entry: _Entry, info: tarfile.TarInfo) -> None:
        fd = os.open(entry.path, _OPEN_FILE)
        with os.fdopen(fd, "rb", buffering=0) as source:
            st = os.fstat(source.fileno())
            if (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino):
                raise Conflict(f"layer diff: {os.fsdecode(entry.path)} was replaced while the layer was written")
            info.size = st.st_size
            try:
                self.tar.addfile(info, source)
            except tarfile.ReadError as exc:
                raise Conflict(f"layer diff: {os.fsdecode(entry.path)} shrank while the layer was written") from exc


def _info(rel: bytes, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(os.fsdecode(rel))
    info.type = tarfile.REGTYPE
    info.mode = st.st_mode & 0o7777
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""  # numeric ids only: names depend on the host's /etc/passwd
    info.mtime = st.st_mtime_ns // 1_000_000_000  # whole seconds, as docker truncates them
    return info


def _pax_xattrs(xattrs: dict[str, bytes]) -> dict[str, str]:
    headers = {}
    for name, value in xattrs.items():  # already sorted by name
        if not is_portable_xattr(name):
            continue
        if name == CAPABILITY_XATTR:
            value = portable_capability(value)
        # surrogateescape keeps binary values (capabilities) byte-exact; tarfile then marks hdrcharset=BINARY.
        headers[PAX_XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return headers


def _collect_changes(tree: _OverlayTree, rel: bytes, *, hidden: bool, found: dict[bytes, str]) -> None:
    """hidden: rel is an opaque directory or inside one, so the lowers show nothing through it."""
    present = set()
    for entry in tree.children(rel):
        lower = tree.lower_stat(entry.rel)
        if _is_whiteout(entry.st):
            if lower is not None and not hidden:
                found[entry.rel] = "D"
            continue
        present.add(entry.name)
        if not stat.S_ISDIR(entry.st.st_mode):
            found[entry.rel] = "A" if lower is None else "C"
            continue
        opaque = hidden or _xattrs(entry.path).get(OVERLAY_OPAQUE_XATTR) == b"y"
        if lower is None:
            found[entry.rel] = "A"
        elif opaque or not stat.S_ISDIR(lower.st_mode) or not _same_dir(entry.st, lower):
            found[entry.rel] = "C"
        _collect_changes(tree, entry.rel, hidden=opaque or lower is None, found=found)
    if hidden and rel:
        lower = tree.lower_stat(rel)
        if lower is not None and stat.S_ISDIR(lower.st_mode):
            for name in tree.lower_children(rel) - present:
                found[_join(rel, name)] = "D"


def _same_dir(upper: os.stat_result, lower: os.stat_result) -> bool:
    # A directory is copied up whenever something below it changes; docker lists it only if its own
    # attributes changed (or, below, because a child was added or deleted).
    return (upper.st_mode, upper.st_uid, upper.st_gid, upper.st_mtime_ns) == (
        lower.st_mode,
        lower.st_uid,
        lower.st_gid,
        lower.st_mtime_ns,
    )
