"""Reading a layer tar as a stream of members: tarfile over a forward-only LayerReader.

tarfile does the parsing (PAX, GNU long names, sparse files), with three additions
that a layer needs:

- members() checks that the archive really ends: tarfile takes a torn or garbled header
  after the first one as a quiet end of archive, which would apply half a layer.
- MemberData copies a member's bytes straight from the reader to a file descriptor.
- FastTarInfo parses the common header (POSIX ustar magic, octal numbers, unsigned
  checksum) with one struct.unpack; it is tarfile's pure-Python header parsing that
  dominates the time of a many-file layer. Anything else goes to tarfile's own parser.
"""

from __future__ import annotations

import os
import struct
import tarfile
from collections.abc import Iterator

from dockyard.errors import InvalidParameter
from dockyard.image.layer_stream import CHUNK, LayerReader

_BLOCK = tarfile.BLOCKSIZE
# name mode uid gid size mtime chksum type linkname magic+version uname gname devmajor devminor prefix
_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s8s32s32s8s8s155s")
_POSIX_MAGIC = b"ustar\x0000"
# Types whose header means nothing more than its fields; V7 "\0" (trailing-slash dirs), GNU
# sparse and long-name headers and the rest keep tarfile's handling.
_FAST_TYPES = frozenset(
    {
        tarfile.REGTYPE,
        tarfile.LNKTYPE,
        tarfile.SYMTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.DIRTYPE,
        tarfile.FIFOTYPE,
        tarfile.XHDTYPE,
    }
)


def _octal(field: bytes) -> int:
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits else 0


def _text(field: bytes, encoding: str, errors: str) -> str:
    return field.split(b"\0", 1)[0].decode(encoding, errors)


class FastTarInfo(tarfile.TarInfo):
    __slots__ = ()

    @classmethod
    def frombuf(cls, buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo:
        if len(buf) != _BLOCK or buf[257:265] != _POSIX_MAGIC or buf[156:157] not in _FAST_TYPES:
            return super().frombuf(buf, encoding, errors)
        fields = _HEADER.unpack_from(buf)
        try:
            mode, uid, gid, size, mtime, chksum, devmajor, devminor = (
                _octal(fields[i]) for i in (1, 2, 3, 4, 5, 6, 12, 13)
            )
        except ValueError:  # base-256 numbers or garbage: tarfile decides
            return super().frombuf(buf, encoding, errors)
        # The checksum counts its own field as eight spaces (0x20 * 8 = 256).
        if chksum != sum(buf) - sum(buf[148:156]) + 256:
            return super().frombuf(buf, encoding, errors)  # a signed checksum, or a bad block
        info = cls(_text(fields[0], encoding, errors))
        info.mode, info.uid, info.gid, info.size, info.mtime, info.chksum = mode, uid, gid, size, mtime, chksum
        info.type = fields[7]
        info.linkname = _text(fields[8], encoding, errors)
        info.uname, info.gname = _text(fields[10], encoding, errors), _text(fields[11], encoding, errors)
        info.devmajor, info.devminor = devmajor, devminor
        if info.type == tarfile.DIRTYPE:
            info.name = info.name.rstrip("/")
        prefix = _text(fields[14], encoding, errors)
        if prefix and info.type != tarfile.XHDTYPE:
            info.name = prefix + "/" + info.name
        return info


def members(reader: LayerReader) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Yield the tar's members in order; the end must be a real end-of-archive block."""
    try:
        # "r:" over a forward-only reader: tarfile only ever seeks ahead, to skip data.
        tar = tarfile.TarFile(fileobj=reader, mode="r", tarinfo=FastTarInfo)
    except tarfile.TarError as exc:
        raise InvalidParameter(f"not a tar archive: {exc}") from exc
    while True:
        try:
            member = tar.next()
        except tarfile.TarError as exc:
            raise _tar_error(exc, reader) from exc
        if member is None:
            _check_end_of_archive(reader)
            return
        tar.members.clear()  # tarfile keeps every TarInfo otherwise: a million-file layer would sit in memory
        yield tar, member


def _tar_error(exc: tarfile.TarError, reader: LayerReader) -> InvalidParameter:
    if reader.at_eof:
        return InvalidParameter(f"layer is truncated: {exc}")
    return InvalidParameter(f"layer is corrupt: {exc}")


def _check_end_of_archive(reader: LayerReader) -> None:
    # The block tarfile last read tells a real end (zeros) from a torn or a garbled header.
    last = reader.last_read
    if len(last) == _BLOCK and not last.strip(b"\0"):
        return
    if len(last) < _BLOCK:
        raise InvalidParameter("layer is truncated: the tar ends without its end-of-archive marker")
    raise InvalidParameter(f"layer is corrupt: invalid tar header at offset {reader.tell() - len(last)}")


class MemberData:
    """Copies a member's data to a file: straight from the reader, or through tarfile for sparse files."""

    def __init__(self, tar: tarfile.TarFile, reader: LayerReader) -> None:
        self.tar, self.reader = tar, reader

    def read(self, member: tarfile.TarInfo) -> bytes:
        """The whole data of a (not sparse) member, for a file small enough to hold."""
        self.reader.seek(member.offset_data)  # a no-op: the reader is already there
        data = self.reader.read(member.size)
        if len(data) != member.size:
            raise InvalidParameter(f"layer is truncated: entry {member.name!r} ends early")
        return data

    def copy_to(self, fd: int, member: tarfile.TarInfo) -> None:
        if member.issparse():
            source = self.tar.extractfile(member)
            while chunk := source.read(CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            return
        self.reader.seek(member.offset_data)  # a no-op: the reader is already there
        if self.reader.copy_to_fd(fd, member.size) != member.size:
            raise InvalidParameter(f"layer is truncated: entry {member.name!r} ends early")
