"""Layer tars: applying them (whiteouts, metadata, hostile names), diffing directories, digests.

Tars are built in memory with tarfile; trees are plain directories under tmp_path. Overlay
mounts are in tests/integration/test_layer_overlay.py.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter, NotFound, Unavailable, Unsupported
from dockyard.image.layer import CompressingWriter, apply_layer, changes, diff_layer
from dockyard.image.layer_format import clean_entry_path, portable_capability
from dockyard.image.layer_tar import FastTarInfo
from support.trees import tree

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: chown, mknod and trusted.* xattrs")

MTIME = 1_600_000_000
CAP_NET_BIND_SERVICE_V2 = bytes.fromhex("0100000200040000000000000000000000000000")


# -- building tars -------------------------------------------------------------


def _info(name: str, kind: bytes, *, mode: int = 0o644, uid: int = 0, gid: int = 0, mtime=MTIME, xattrs=None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, mtime
    for key, value in (xattrs or {}).items():
        info.pax_headers["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")
    return info


def reg(name: str, data: bytes = b"", **attrs):
    info = _info(name, tarfile.REGTYPE, **attrs)
    info.size = len(data)
    return info, data


def dir_(name: str, **attrs):
    attrs.setdefault("mode", 0o755)
    return _info(name, tarfile.DIRTYPE, **attrs), None


def sym(name: str, target: str, **attrs):
    info = _info(name, tarfile.SYMTYPE, mode=0o777, **attrs)
    info.linkname = target
    return info, None


def link(name: str, target: str):
    info = _info(name, tarfile.LNKTYPE)
    info.linkname = target
    return info, None


def dev(name: str, kind: bytes, major: int, minor: int, **attrs):
    info = _info(name, kind, **attrs)
    info.devmajor, info.devminor = major, minor
    return info, None


def fifo(name: str, **attrs):
    return _info(name, tarfile.FIFOTYPE, **attrs), None


def make_tar(*members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def apply(data: bytes, dest, **kwargs):
    return apply_layer(io.BytesIO(data), str(dest), **kwargs)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class OneWayStream:
    """A socket-like stream: no seek, no tell, and short reads."""

    def __init__(self, data: bytes, piece: int = 7) -> None:
        self._data, self._pos, self._piece = data, 0, piece

    def read(self, n: int = -1) -> bytes:
        n = self._piece if n < 0 else min(n, self._piece)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


class Outside:
    """A directory next to dest that no layer may touch; untouched() proves it was not."""

    def __init__(self, path) -> None:
        self.path = path
        path.mkdir()
        (path / "secret").write_bytes(b"host secret")
        os.utime(path, ns=(MTIME * 10**9, MTIME * 10**9))
        self._before = tree(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __truediv__(self, other):
        return self.path / other

    def untouched(self) -> bool:
        return tree(self.path) == self._before and os.lstat(self.path).st_mtime_ns == MTIME * 10**9


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "dest"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path) -> Outside:
    return Outside(tmp_path / "outside")


# -- digests, compression, streaming --------------------------------------------

SIMPLE = make_tar(dir_("etc"), reg("etc/hostname", b"dockyard\n"), sym("etc/link", "hostname"))


@pytest.mark.parametrize(
    "encode",
    [
        lambda data: data,
        lambda data: gzip.compress(data, mtime=0),
        lambda data: zstandard.ZstdCompressor().compress(data),
    ],
    ids=["plain", "gzip", "zstd"],
)
def test_diff_id_is_the_digest_of_the_uncompressed_tar(dest, encode):
    result = apply_layer(OneWayStream(encode(SIMPLE), piece=4096), str(dest))
    assert result.diff_id == sha256(SIMPLE)
    assert result.size == len(SIMPLE)
    assert (dest / "etc/hostname").read_bytes() == b"dockyard\n"


def test_a_stream_that_cannot_seek_and_reads_short_is_enough(dest):
    result = apply_layer(OneWayStream(gzip.compress(SIMPLE), piece=7), str(dest))
    assert result.diff_id == sha256(SIMPLE)
    assert os.readlink(dest / "etc/link") == "hostname"


def test_multi_member_gzip_and_multi_frame_zstd_are_read_whole(dest, tmp_path):
    half = len(SIMPLE) // 2
    members = gzip.compress(SIMPLE[:half]) + gzip.compress(SIMPLE[half:])
    assert apply(members, dest).diff_id == sha256(SIMPLE)
    frames = zstandard.ZstdCompressor().compress(SIMPLE[:half]) + zstandard.ZstdCompressor().compress(SIMPLE[half:])
    other = tmp_path / "other"
    other.mkdir()
    assert apply(frames, other).diff_id == sha256(SIMPLE)


def test_explicit_compression_overrides_detection(dest):
    assert apply(gzip.compress(SIMPLE), dest, compression="gzip").diff_id == sha256(SIMPLE)
    with pytest.raises(InvalidParameter, match="not a tar archive"):
        apply(gzip.compress(SIMPLE), dest, compression="none")
    with pytest.raises(InvalidParameter, match="unknown layer compression"):
        apply(SIMPLE, dest, compression="lz4")


def test_trailing_padding_is_part_of_the_diff_id(dest):
    padded = SIMPLE + b"\0" * 4096
    result = apply(padded, dest)
    assert result.diff_id == sha256(padded) and result.size == len(padded)


def test_bzip2_layers_are_unsupported(dest):
    with pytest.raises(Unsupported, match="bzip2"):
        apply(bz2.compress(SIMPLE), dest)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a tar archive"),
        (b"this is not a tar archive at all" * 40, "not a tar archive"),
        (SIMPLE[:700], "truncated"),  # inside the second header
        (make_tar(reg("a", b"x" * 600))[:1024], "truncated"),
        (SIMPLE[:1536], "truncated"),  # cut at a header boundary: no end-of-archive block
        (gzip.compress(SIMPLE)[:-12], "truncated"),
        (zstandard.ZstdCompressor().compress(SIMPLE)[:-5], "truncated"),
        (gzip.compress(SIMPLE)[:-8] + b"\xde\xad\xbe\xef" + gzip.compress(SIMPLE)[-4:], "corrupt"),  # bad CRC
        (SIMPLE[:512] + b"\x01" * 512 + SIMPLE[1024:], "corrupt"),  # a garbled second header
        (gzip.compress(SIMPLE) + b"garbage", "corrupt"),
    ],
    ids=[
        "empty",
        "text",
        "cut-in-data",
        "cut-in-big-file",
        "no-end-marker",
        "gzip-cut",
        "zstd-cut",
        "gzip-garbled",
        "bad-header",
        "gzip-trailer",
    ],
)
def test_truncated_or_corrupt_layers_are_rejected(dest, data, message):
    with pytest.raises(InvalidParameter, match=message):
        apply(data, dest)


class FailingStream(OneWayStream):
    def read(self, n: int = -1) -> bytes:
        if self._pos > 2000:
            raise ConnectionResetError("peer went away")
        return super().read(n)


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dy-layer-decode"]


def test_a_failing_stream_is_unavailable_and_leaves_no_thread(dest):
    with pytest.raises(Unavailable, match="peer went away"):
        apply_layer(FailingStream(make_tar(reg("big", b"x" * 100_000)), piece=512), str(dest))
    assert decode_threads() == []


def test_a_rejected_layer_stops_reading_promptly(dest):
    class Endless:
        """Serves a hostile first entry, then would go on forever."""

        def __init__(self) -> None:
            self.head = make_tar(reg("../escape", b"x"))[:1024]
            self.served = 0

        def read(self, n: int = -1) -> bytes:
            head, self.head = self.head, b""
            chunk = head or b"\0" * 65536
            self.served += len(chunk)
            if self.served > 64 * 65536:
                raise OSError("the layer kept being read after it was rejected")
            return chunk

    endless = Endless()
    with pytest.raises(InvalidParameter, match="escape"):
        apply_layer(endless, str(dest))
    assert endless.served < 64 * 65536  # the prefetch stopped within its read-ahead, not at the end
    assert decode_threads() == []


def test_missing_destination_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        apply(SIMPLE, tmp_path / "nope")


# -- what is preserved -----------------------------------------------------------


@needs_root
def test_files_keep_owner_mode_and_mtime_and_dirs_get_theirs_last(dest):
    data = make_tar(
        dir_("bin", mode=0o750, uid=7, gid=8, mtime=1_000_000),
        reg("bin/su", b"#!", mode=0o4755, uid=0, gid=0, mtime=2_000_000),
        reg("bin/wall", b"#!", mode=0o2711, uid=0, gid=5),
        dir_("tmp", mode=0o1777),
        reg("bin/late", b"written after bin/ was created", uid=1000, gid=1000),
    )
    apply(data, dest)
    st = os.lstat(dest / "bin")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 7, 8)
    assert st.st_mtime_ns == 1_000_000 * 10**9  # children created afterwards did not move it
    assert stat.S_IMODE(os.lstat(dest / "bin/su").st_mode) == 0o4755
    assert os.lstat(dest / "bin/su").st_mtime_ns == 2_000_000 * 10**9
    assert stat.S_IMODE(os.lstat(dest / "bin/wall").st_mode) == 0o2711  # setgid survives the chown
    assert stat.S_IMODE(os.lstat(dest / "tmp").st_mode) == 0o1777
    assert (os.lstat(dest / "bin/late").st_uid, os.lstat(dest / "bin/late").st_gid) == (1000, 1000)


def test_subsecond_pax_mtimes_are_kept(dest):
    info, data = reg("f", b"x")
    info.pax_headers["mtime"] = "1600000000.123456789"
    apply(make_tar((info, data)), dest)
    assert os.lstat(dest / "f").st_mtime_ns == 1_600_000_000_123_456_789


def test_symlinks_keep_their_target_verbatim_and_their_mtime(dest):
    apply(make_tar(sym("abs", "/etc/passwd", mtime=123), sym("rel", "../../x")), dest)
    assert os.readlink(dest / "abs") == "/etc/passwd"
    assert os.readlink(dest / "rel") == "../../x"
    assert os.lstat(dest / "abs").st_mtime_ns == 123 * 10**9


def test_hardlinks_share_the_inode_of_the_earlier_entry(dest):
    apply(make_tar(reg("a", b"same", mode=0o600), dir_("d"), link("d/b", "a"), link("c", "./d/b")), dest)
    inode = os.lstat(dest / "a").st_ino
    assert os.lstat(dest / "d/b").st_ino == inode == os.lstat(dest / "c").st_ino
    assert os.lstat(dest / "a").st_nlink == 3


@needs_root
def test_devices_and_fifos_are_created(dest):
    data = make_tar(
        dev("null", tarfile.CHRTYPE, 1, 3, mode=0o666),
        dev("loop9", tarfile.BLKTYPE, 7, 9, mode=0o660, gid=6),
        fifo("pipe", mode=0o620),
    )
    apply(data, dest)
    null, loop, pipe = (os.lstat(dest / name) for name in ("null", "loop9", "pipe"))
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_ISBLK(loop.st_mode) and (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 9)
    assert loop.st_gid == 6 and stat.S_IMODE(loop.st_mode) == 0o660
    assert stat.S_ISFIFO(pipe.st_mode) and stat.S_IMODE(pipe.st_mode) == 0o620


@needs_root
def test_xattrs_from_pax_headers_are_set(dest):
    binary = bytes(range(256))
    data = make_tar(
        dir_("d", xattrs={"user.dir": b"on a dir"}),
        reg("d/f", b"x", xattrs={"user.comment": b"hello", "trusted.blob": binary}),
    )
    apply(data, dest)
    assert os.getxattr(dest / "d", "user.dir") == b"on a dir"
    assert os.getxattr(dest / "d/f", "user.comment") == b"hello"
    assert os.getxattr(dest / "d/f", "trusted.blob") == binary


@needs_root
def test_file_capabilities_survive_the_chown_that_would_clear_them(dest):
    data = make_tar(
        reg("ping", b"\x7fELF", mode=0o755, uid=1000, xattrs={"security.capability": CAP_NET_BIND_SERVICE_V2})
    )
    apply(data, dest)
    assert os.lstat(dest / "ping").st_uid == 1000
    assert os.getxattr(dest / "ping", "security.capability") == CAP_NET_BIND_SERVICE_V2


@needs_root
def test_a_layer_cannot_plant_overlay_xattrs(dest):
    data = make_tar(dir_("d", xattrs={"trusted.overlay.opaque": b"y", "trusted.overlay.redirect": b"/etc"}))
    apply(data, dest)
    assert not [name for name in os.listxattr(dest / "d") if name.startswith("trusted.overlay.")]


def test_long_and_non_utf8_names_round_trip(dest):
    long_name = "/".join(["d" * 60] * 4) + "/" + "f" * 200
    odd = os.fsdecode(b"caf\xe9")  # latin-1 bytes, not UTF-8
    apply(make_tar(reg(long_name, b"long"), reg(odd, b"odd")), dest)
    assert (dest / long_name).read_bytes() == b"long"
    assert os.path.exists(os.path.join(os.fsencode(dest), b"caf\xe9"))


def test_gnu_and_ustar_formats_are_read(dest):
    apply(make_tar(reg("g" * 150, b"gnu"), fmt=tarfile.GNU_FORMAT), dest)
    assert (dest / ("g" * 150)).read_bytes() == b"gnu"


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar makes the sparse archive")
def test_sparse_files_are_expanded(dest, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.seek(1 << 20)
        f.write(b"end")
    archive = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "--format=posix", "-C", str(src), "-cf", str(archive), "sparse"], check=True)
    apply(archive.read_bytes(), dest)
    content = (dest / "sparse").read_bytes()
    assert len(content) == (1 << 20) + 3 and content.endswith(b"end") and not content[:-3].strip(b"\0")


def test_root_entry_is_ignored_and_names_are_normalised(dest):
    apply(make_tar(dir_("./", mode=0o700), reg("./a//b/../c", b"c")), dest)
    assert stat.S_IMODE(os.lstat(dest).st_mode) != 0o700
    assert (dest / "a/c").read_bytes() == b"c"
    assert stat.S_IMODE(os.lstat(dest / "a").st_mode) == 0o755  # implied directories are 0755


def test_unsupported_entry_types_are_rejected(dest):
    info, _ = reg("volume")
    info.type = b"V"
    with pytest.raises(InvalidParameter, match="volume"):
        apply(make_tar((info, None)), dest)


# -- replacing what is there (native: dest holds the lower layers) ----------------------


def test_a_directory_over_a_directory_keeps_its_contents_and_takes_the_attributes(dest):
    (dest / "etc").mkdir(mode=0o700)
    (dest / "etc/old").write_text("lower")
    apply(make_tar(dir_("etc", mode=0o755), reg("etc/new", b"upper")), dest, overlay=False)
    assert sorted(os.listdir(dest / "etc")) == ["new", "old"]
    assert stat.S_IMODE(os.lstat(dest / "etc").st_mode) == 0o755


def test_an_entry_replaces_a_directory_of_another_type(dest):
    (dest / "x").mkdir()
    (dest / "x/inside").write_text("lower")
    (dest / "y").write_text("lower file")
    apply(make_tar(reg("x", b"now a file"), dir_("y")), dest, overlay=False)
    assert (dest / "x").read_bytes() == b"now a file"
    assert (dest / "y").is_dir() and not os.listdir(dest / "y")


# -- whiteouts, overlay form -------------------------------------------------------


@needs_root
def test_whiteout_becomes_a_0_0_character_device(dest):
    apply(make_tar(dir_("etc"), reg("etc/.wh.passwd", uid=3, gid=4, mtime=42)), dest)
    st = os.lstat(dest / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 and stat.S_IMODE(st.st_mode) == 0
    assert (st.st_uid, st.st_gid, st.st_mtime_ns) == (3, 4, 42 * 10**9)
    assert not os.path.lexists(dest / "etc/.wh.passwd")


@needs_root
@pytest.mark.parametrize("marker_first", [True, False])
def test_opaque_marker_sets_the_overlay_xattr_wherever_it_appears(dest, marker_first):
    marker, child = reg("opt/.wh..wh..opq"), reg("opt/app", b"app")
    apply(make_tar(dir_("opt"), *([marker, child] if marker_first else [child, marker])), dest)
    assert os.getxattr(dest / "opt", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(dest / "opt")) == ["app"]


@needs_root
def test_a_whiteout_spares_this_layers_own_entries(dest):
    # OCI: whiteouts only hide lower layers. A directory of this layer still stops showing lower content.
    apply(make_tar(reg("file", b"mine"), reg(".wh.file"), dir_("d"), reg("d/x", b"x"), reg(".wh.d")), dest)
    assert (dest / "file").read_bytes() == b"mine"
    assert os.getxattr(dest / "d", "trusted.overlay.opaque") == b"y"
    assert os.listdir(dest / "d") == ["x"]


@needs_root
def test_a_directory_recreated_after_its_whiteout_is_opaque(dest):
    apply(make_tar(reg(".wh.cache"), dir_("cache"), reg("cache/new", b"n")), dest)
    assert os.getxattr(dest / "cache", "trusted.overlay.opaque") == b"y"
    assert (dest / "cache/new").read_bytes() == b"n"


@pytest.mark.parametrize("name", [".wh.", "d/.wh.", ".wh..", "d/.wh.."])
def test_whiteouts_without_a_plain_name_are_rejected(dest, name):
    with pytest.raises(InvalidParameter, match="whiteout"):
        apply(make_tar(reg(name)), dest)


def test_aufs_metadata_is_skipped(dest):
    apply(make_tar(dir_(".wh..wh.plnk"), reg(".wh..wh.plnk/1234.5678", b"x"), reg(".wh..wh.aufs")), dest)
    assert os.listdir(dest) == []


# -- whiteouts, native form ------------------------------------------------------------


def populate_lower(root) -> None:
    for rel in ("a/b/c", "etc", "keep"):
        (root / rel).mkdir(parents=True)
    (root / "a/b/c/bar").write_text("lower")
    (root / "a/lower-file").write_text("lower")
    (root / "etc/passwd").write_text("root:x:0:0")
    (root / "etc/group").write_text("root:x:0:")
    (root / "keep/x").write_text("x")


def test_native_whiteout_deletes_the_lower_file_or_directory(dest):
    populate_lower(dest)
    apply(make_tar(reg("etc/.wh.passwd"), reg(".wh.a"), reg(".wh.missing"), reg("nodir/.wh.x")), dest, overlay=False)
    assert os.listdir(dest / "etc") == ["group"]
    assert sorted(os.listdir(dest)) == ["etc", "keep"]


def test_native_opaque_removes_lower_children_but_not_this_layers(dest):
    # The OCI example: the marker comes after the new a/b/c/foo and must not remove it.
    populate_lower(dest)
    apply(
        make_tar(dir_("a"), dir_("a/b"), dir_("a/b/c"), reg("a/b/c/foo", b"new"), reg("a/.wh..wh..opq")),
        dest,
        overlay=False,
    )
    assert sorted(str(p.relative_to(dest)) for p in (dest / "a").rglob("*")) == ["a/b", "a/b/c", "a/b/c/foo"]
    assert (dest / "keep/x").exists()


def test_native_whiteout_of_this_layers_entry_keeps_it_and_hides_lower_children(dest):
    populate_lower(dest)
    apply(make_tar(reg("etc/new", b"n"), reg(".wh.etc")), dest, overlay=False)
    assert os.listdir(dest / "etc") == ["new"]


# -- hostile layers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    [
        reg("/etc/passwd", b"x"),
        dir_("/abs"),
        sym("/bin/sh", "x"),
        reg("../escape", b"x"),
        reg("a/../../escape", b"x"),
        reg("./../escape", b"x"),
        reg("../.wh.secret"),
        reg("/.wh..wh..opq"),
        link("x", "../outside/secret"),
        link("x", "/etc/passwd"),
    ],
    ids=lambda m: f"{m[0].type.decode() or 0}:{m[0].name}->{m[0].linkname}",
)
def test_absolute_and_escaping_names_are_refused_naming_the_entry(dest, outside, member):
    info = member[0]
    with pytest.raises(InvalidParameter) as caught:
        apply(make_tar(reg("ok", b"x"), member), dest)
    assert repr(info.name) in str(caught.value)
    assert outside.untouched()


def test_dotdot_that_stays_inside_is_allowed(dest):
    apply(make_tar(reg("a/../b", b"b")), dest)
    assert (dest / "b").read_bytes() == b"b"


@pytest.mark.parametrize("target", ["{outside}", "../outside", "../../../../../../outside", "/"])
def test_writes_through_a_symlink_stay_inside_dest(dest, outside, target):
    apply(make_tar(sym("evil", target.format(outside=outside)), reg("evil/pwned", b"x"), dir_("evil/sub")), dest)
    assert outside.untouched()
    landed = [p for p in dest.rglob("pwned")]
    assert len(landed) == 1 and landed[0].read_bytes() == b"x"


def test_a_directory_replaced_by_a_symlink_is_not_followed_later(dest, outside):
    # The symlink-swap class: d/ is created (its mtime queued), then swapped for a link to the host.
    data = make_tar(dir_("d", mtime=1), reg("d/a", b"a"), sym("d", str(outside)), reg("d/b", b"b"), dir_("d/e"))
    apply(data, dest)
    assert outside.untouched()
    assert os.path.islink(dest / "d")
    assert (dest / str(outside).lstrip("/") / "b").read_bytes() == b"b"


def test_an_existing_symlink_in_the_lower_layers_is_replaced_not_written_through(dest, outside):
    os.symlink(outside / "secret", dest / "config")
    os.symlink(outside, dest / "dir")
    apply(make_tar(reg("config", b"new"), reg("dir/file", b"f"), dir_("dir/sub")), dest, overlay=False)
    assert outside.untouched()
    assert (dest / "config").read_bytes() == b"new" and not os.path.islink(dest / "config")


def test_hardlinks_through_a_symlink_cannot_reach_host_files(dest, outside):
    data = make_tar(sym("evil", str(outside)), link("stolen", "evil/secret"))
    with pytest.raises(InvalidParameter, match="stolen"):
        apply(data, dest)
    assert os.lstat(outside / "secret").st_nlink == 1
    assert outside.untouched()


def test_hardlinks_to_lower_layer_files_are_refused(dest):
    populate_lower(dest)
    with pytest.raises(InvalidParameter, match="not an earlier file of this layer"):
        apply(make_tar(link("copy", "etc/passwd")), dest, overlay=False)


@pytest.mark.parametrize("marker", ["evil/.wh.secret", "evil/.wh..wh..opq"])
def test_native_whiteouts_through_a_symlink_delete_nothing_outside(dest, outside, marker):
    apply(make_tar(sym("evil", str(outside)), reg(marker)), dest, overlay=False)
    assert (outside / "secret").read_bytes() == b"host secret"
    assert outside.untouched()


@needs_root
@pytest.mark.parametrize("marker", ["evil/.wh.secret", "evil/.wh..wh..opq"])
def test_overlay_whiteouts_through_a_symlink_land_inside(dest, outside, marker):
    apply(make_tar(sym("evil", str(outside)), reg(marker)), dest)
    assert outside.untouched()
    assert not [n for n in os.listxattr(outside) if n.startswith("trusted.")]


def test_a_symlink_loop_is_refused(dest):
    with pytest.raises(InvalidParameter, match="loop/x"):
        apply(make_tar(sym("loop", "loop"), reg("loop/x", b"x")), dest)


def test_a_file_used_as_a_directory_is_refused(dest):
    with pytest.raises(InvalidParameter, match="not a directory"):
        apply(make_tar(reg("f", b"x"), reg("f/g", b"y")), dest)


def test_clean_entry_path():
    assert clean_entry_path("./a//b/./c/") == "a/b/c"
    assert clean_entry_path("a/b/../../c") == "c"
    assert clean_entry_path("./") == ""
    with pytest.raises(InvalidParameter):
        clean_entry_path("a/../../b")


# -- diffs ---------------------------------------------------------------------------


def write_tree(root, spec: dict[str, bytes | None]) -> None:
    """spec: path -> file content, or None for a directory. Every mtime is then MTIME."""
    for rel, content in spec.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    touch_all(root)


def touch_all(root) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)


def diff(lowers, upper) -> tuple[bytes, object]:
    out = io.BytesIO()
    result = diff_layer([str(d) for d in lowers], str(upper), out)
    return out.getvalue(), result


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [m.name for m in tar.getmembers()]


@pytest.fixture
def lower(tmp_path):
    path = tmp_path / "lower"
    path.mkdir()
    write_tree(path, {"etc/passwd": b"root", "etc/group": b"root", "opt/app/bin": b"#!", "opt/doc": b"d"})
    return path


@pytest.fixture
def upper(tmp_path):
    path = tmp_path / "upper"
    path.mkdir()
    return path


@needs_root
def test_diff_translates_overlay_markers_to_oci_whiteouts(lower, upper):
    write_tree(upper, {"etc": None, "opt": None, "opt/new": b"n", "a-new": b"x"})
    os.mknod(upper / "etc/passwd", stat.S_IFCHR, 0)
    os.setxattr(upper / "opt", "trusted.overlay.opaque", b"y")
    data, result = diff([lower], upper)
    assert names(data) == ["a-new", "etc", "etc/.wh.passwd", "opt", "opt/.wh..wh..opq", "opt/new"]
    assert result.diff_id == sha256(data) and result.size == len(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            assert (member.uname, member.gname) == ("", "")
            assert not [k for k in member.pax_headers if "overlay" in k]
        assert tar.getmember("etc/.wh.passwd").isreg() and tar.getmember("etc/.wh.passwd").mode == 0o600


@needs_root
def test_diff_puts_whiteouts_before_their_siblings(lower, upper):
    write_tree(upper, {"etc": None, "etc/aaa": b"new", "etc/zzz": None})
    os.mknod(upper / "etc/passwd", stat.S_IFCHR, 0)
    os.mknod(upper / "etc/group", stat.S_IFCHR, 0)
    data, _ = diff([lower], upper)
    assert names(data) == ["etc", "etc/.wh.group", "etc/.wh.passwd", "etc/aaa", "etc/zzz"]


@needs_root
def test_diff_drops_markers_that_hide_nothing(lower, upper):
    write_tree(upper, {"etc": None, "fresh": None})
    os.mknod(upper / "etc/never-existed", stat.S_IFCHR, 0)
    os.setxattr(upper / "fresh", "trusted.overlay.opaque", b"y")
    data, _ = diff([lower], upper)
    assert names(data) == ["etc", "fresh"]


def test_diff_is_reproducible_and_writes_hardlinks_once(upper, tmp_path):
    write_tree(upper, {"b/one": b"1", "a/two": b"2" * 5000})
    os.link(upper / "b/one", upper / "a/link")
    touch_all(upper)
    first, result = diff([], upper)
    again, _ = diff([], upper)
    assert first == again
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a", "a/link", "a/two", "b", "b/one"]
    assert members[4].islnk() and members[4].linkname == "a/link"
    assert all(m.mtime == MTIME for m in members)
    # Applying it gives the same tree, and diffing that gives the same layer.
    copy = tmp_path / "copy"
    copy.mkdir()
    assert apply(first, copy).diff_id == result.diff_id
    assert tree(copy) == tree(upper)
    assert diff([], copy)[0] == first


@needs_root
def test_diff_refuses_redirect_and_metacopy_uppers(upper):
    write_tree(upper, {"moved": None})
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(Unsupported, match="redirect"):
        diff([], upper)


def test_v3_file_capabilities_are_written_as_v2():
    v3 = bytes.fromhex("0100000300040000000000000000000000000000e8030000")
    assert portable_capability(v3) == CAP_NET_BIND_SERVICE_V2
    assert portable_capability(CAP_NET_BIND_SERVICE_V2) == CAP_NET_BIND_SERVICE_V2


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressing_writer_gives_a_blob_that_applies_to_the_same_diff_id(upper, tmp_path, compression):
    write_tree(upper, {"d/f": b"content" * 1000})
    blob = io.BytesIO()
    with CompressingWriter(blob, compression) as writer:
        result = diff_layer([], str(upper), writer)
    assert writer.digest == sha256(blob.getvalue()) and writer.size == len(blob.getvalue())
    again = io.BytesIO()
    with CompressingWriter(again, compression) as writer2:
        diff_layer([], str(upper), writer2)
    assert again.getvalue() == blob.getvalue()  # deterministic blob, not only diffID
    target = tmp_path / "target"
    target.mkdir()
    assert apply(blob.getvalue(), target).diff_id == result.diff_id


@needs_root
def test_changes_lists_added_changed_and_deleted_paths(lower, upper):
    write_tree(upper, {"etc": None, "etc/group": b"changed", "opt": None, "opt/new": b"n", "srv/site": b"s"})
    os.mknod(upper / "etc/passwd", stat.S_IFCHR, 0)
    os.setxattr(upper / "opt", "trusted.overlay.opaque", b"y")
    assert changes([str(lower)], str(upper)) == [
        ("C", "/etc"),
        ("C", "/etc/group"),
        ("D", "/etc/passwd"),
        ("C", "/opt"),
        ("D", "/opt/app"),
        ("D", "/opt/doc"),
        ("A", "/opt/new"),
        ("A", "/srv"),
        ("A", "/srv/site"),
    ]


# -- property: random trees survive tar -> apply ---------------------------------------

_names = st.sampled_from(["a", "b", "c", "long-" + "n" * 120, "sp ace", "ünï"])
_node = st.one_of(
    st.tuples(st.just("file"), st.binary(max_size=700), st.sampled_from([0o644, 0o600, 0o755, 0o4755, 0o2750])),
    st.tuples(st.just("dir"), st.none(), st.sampled_from([0o755, 0o700, 0o1777, 0o2775])),
    st.tuples(st.just("symlink"), st.sampled_from(["a", "../b", "/etc/passwd", "c/d"]), st.just(0o777)),
    st.tuples(st.just("hardlink"), st.none(), st.just(0)),
    st.tuples(st.just("fifo"), st.none(), st.sampled_from([0o644, 0o600])),
)
_trees = st.lists(
    st.tuples(
        st.lists(_names, min_size=1, max_size=3),
        _node,
        st.integers(0, 2**33),
        st.integers(0, 70000),
        st.dictionaries(st.sampled_from(["user.a", "user.b"]), st.binary(max_size=40), max_size=2),
    ),
    max_size=14,
)


def build_random_tree(root: str, nodes) -> None:
    files: list[str] = []
    dir_times = []
    for parts, (kind, payload, mode), mtime, owner, xattrs in nodes:
        path = os.path.join(root, *parts)
        if os.path.lexists(path) or not os.path.isdir(os.path.dirname(path)):
            continue
        if os.path.islink(os.path.dirname(path)) or os.path.realpath(os.path.dirname(path)) != os.path.dirname(path):
            continue
        if kind == "file":
            with open(path, "wb") as f:
                f.write(payload)
            files.append(path)
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "symlink":
            os.symlink(payload, path)
        elif kind == "hardlink":
            if not files:
                continue
            os.link(files[owner % len(files)], path)
            continue
        else:
            os.mkfifo(path)
        if os.geteuid() == 0:
            os.chown(path, owner, owner // 2, follow_symlinks=False)
        if kind != "symlink":
            os.chmod(path, mode)
        if kind in ("file", "dir"):  # Linux allows user.* xattrs on nothing else
            for name, value in xattrs.items():
                os.setxattr(path, name, value)
        if kind == "dir":
            dir_times.append((path, mtime))
        else:
            os.utime(path, ns=(mtime * 10**9, mtime * 10**9), follow_symlinks=False)
    for path, mtime in reversed(dir_times):
        os.utime(path, ns=(mtime * 10**9, mtime * 10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=_trees)
def test_random_trees_survive_diff_then_apply(nodes):
    with tempfile.TemporaryDirectory(prefix="dy-layer-") as work:
        source, target = os.path.join(work, "source"), os.path.join(work, "target")
        os.mkdir(source)
        os.mkdir(target)
        build_random_tree(source, nodes)
        out = io.BytesIO()
        written = diff_layer([], source, out)
        applied = apply_layer(OneWayStream(out.getvalue(), piece=1000), target)
        assert applied.diff_id == written.diff_id
        assert tree(target) == tree(source)
        assert diff_layer([], target, io.BytesIO()).diff_id == written.diff_id


# -- property: the fast header parser reads what tarfile reads ----------------------------

_header_types = st.sampled_from(
    [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE]
)
_path_text = st.text(st.sampled_from("ab/._-ü€ "), min_size=1, max_size=260)


@settings(max_examples=300, deadline=None)
@given(
    name=_path_text,
    linkname=_path_text,
    kind=_header_types,
    fmt=st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    ids=st.tuples(st.integers(0, 2**24), st.integers(0, 2**24)),
    mtime=st.one_of(st.integers(-(2**40), 2**40), st.floats(0, 2**33, allow_nan=False)),
    size=st.integers(0, 3000),
    names=st.tuples(st.text(max_size=40), st.text(max_size=40)),
    dev=st.tuples(st.integers(0, 4095), st.integers(0, 2**20)),
)
def test_fast_header_parsing_matches_tarfile(name, linkname, kind, fmt, ids, mtime, size, names, dev):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, linkname, mtime
    info.uid, info.gid = ids
    info.uname, info.gname = names
    info.devmajor, info.devminor = dev
    info.size = size if kind == tarfile.REGTYPE else 0
    buf = io.BytesIO()
    try:
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    except ValueError:
        return  # not representable in this format
    read = []
    for tarinfo in (tarfile.TarInfo, FastTarInfo):
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r:", tarinfo=tarinfo) as tar:
            read.append([(m.get_info(), m.pax_headers, m.offset, m.offset_data) for m in tar.getmembers()])
    assert read[0] == read[1]
