"""Layers on real overlayfs: applied layers stack as the kernel expects, and a container's
upper dir, diffed and re-applied, shows the same tree.

Every mount point is under tmp_path and named dy-merged-N; the fixture unmounts them all,
also when a test fails.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.image.layer import CompressingWriter, apply_layer, changes, diff_layer
from dockyard.kernel import libc
from dockyard.kernel.constants import MNT_DETACH
from support.images import directory
from support.images import entry as member
from support.images import layer as make_tar
from support.trees import tree

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting overlayfs needs root"),
]

# Dockyard's overlay mounts keep every change in the upper dir, which is what diff_layer reads.
OVERLAY_OPTIONS = "redirect_dir=off,metacopy=off,index=off"


class Overlays:
    """Mounts overlayfs under a tmp dir and unmounts whatever is left at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._counter = itertools.count()
        self._mounted: list[str] = []

    def mount(self, lowers: list[Path], upper: Path | None = None) -> Path:
        n = next(self._counter)
        target, work = self.base / f"dy-merged-{n}", self.base / f"dy-work-{n}"
        upper = upper or self.base / f"dy-upper-{n}"
        for path in (target, work, upper):
            path.mkdir(exist_ok=True)
        lowerdir = ":".join(str(p) for p in lowers)
        options = f"lowerdir={lowerdir},upperdir={upper},workdir={work},{OVERLAY_OPTIONS}"
        libc.mount("overlay", str(target), "overlay", 0, options)
        self._mounted.append(str(target))
        return target

    def unmount(self, target: Path) -> None:
        libc.umount2(str(target))
        self._mounted.remove(str(target))

    def cleanup(self) -> None:
        for target in reversed(self._mounted):
            try:
                libc.umount2(target)
            except OSError:
                libc.umount2(target, MNT_DETACH)
        self._mounted.clear()


@pytest.fixture
def overlays(tmp_path):
    overlays = Overlays(tmp_path)
    try:
        yield overlays
    finally:
        overlays.cleanup()


@pytest.fixture
def layer_dir(tmp_path):
    counter = itertools.count()

    def make(data: bytes, *, overlay: bool = True, into: Path | None = None) -> Path:
        path = into or tmp_path / f"layer-{next(counter)}"
        path.mkdir(exist_ok=True)
        apply_layer(io.BytesIO(data), str(path), overlay=overlay)
        return path

    return make


# -- tars and trees --------------------------------------------------------------------


def tree_s(root) -> dict[str, tuple]:
    return tree(root, whole_seconds=True)  # mtimes as the layer tar carries them


def diff_bytes(lowers: list[Path], upper: Path) -> tuple[bytes, str]:
    out = io.BytesIO()
    result = diff_layer([str(p) for p in lowers], str(upper), out)
    return out.getvalue(), result.diff_id


BASE = make_tar(
    directory("etc"),
    member("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    member("etc/group", b"root:x:0:\n"),
    member("etc/shadow", b"root:*::\n", mode=0o640, gid=42),
    directory("bin"),
    member("bin/busybox", b"\x7fELF" + b"\0" * 3000, mode=0o755),
    member("bin/sh", kind=tarfile.SYMTYPE, linkname="busybox", mode=0o777),
    member("bin/ls", kind=tarfile.LNKTYPE, linkname="bin/busybox"),
    member("bin/su", b"setuid", mode=0o4755),
    directory("opt"),
    directory("opt/app"),
    member("opt/app/main.py", b"print('hi')\n", uid=1000, gid=1000),
    member("opt/app/data.bin", b"\1" * 10000, uid=1000, gid=1000),
    directory("opt/app/cache"),
    member("opt/app/cache/entry", b"cached"),
    directory("dev"),
    member("dev/null", None, kind=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
    member("dev/initctl", None, kind=tarfile.FIFOTYPE, mode=0o600),
    directory("tmp", mode=0o1777),
)


# -- stacking applied layers ------------------------------------------------------------


def test_a_whiteout_in_an_upper_layer_hides_the_lower_file(overlays, layer_dir):
    lower = layer_dir(BASE)
    upper = layer_dir(make_tar(directory("etc"), member("etc/.wh.shadow"), directory("bin"), member("bin/.wh.su")))
    merged = overlays.mount([upper, lower])
    assert sorted(os.listdir(merged / "etc")) == ["group", "passwd"]
    assert not os.path.lexists(merged / "bin/su")
    assert os.readlink(merged / "bin/sh") == "busybox"


def test_an_opaque_directory_hides_all_lower_content(overlays, layer_dir):
    lower = layer_dir(BASE)
    upper = layer_dir(make_tar(directory("opt"), member("opt/.wh..wh..opq"), member("opt/README", b"new")))
    merged = overlays.mount([upper, lower])
    assert os.listdir(merged / "opt") == ["README"]
    assert os.path.isdir(merged / "etc")


def test_a_directory_deleted_and_recreated_in_one_layer_shows_only_the_new_content(overlays, layer_dir):
    lower = layer_dir(BASE)
    layer = make_tar(directory("opt"), directory("opt/app"), member("opt/.wh.app"), member("opt/app/new", b"n"))
    merged = overlays.mount([layer_dir(layer), lower])
    assert os.listdir(merged / "opt/app") == ["new"]


def test_native_application_gives_the_tree_overlayfs_shows(overlays, layer_dir, tmp_path):
    layers = [
        BASE,
        make_tar(directory("etc"), member("etc/.wh.shadow"), directory("opt"), member("opt/.wh..wh..opq")),
        make_tar(
            directory("opt"),
            directory("opt/app"),
            member("opt/app/x", b"x"),
            member("opt/.wh.app"),  # after this layer's own opt/app: hides only the lower content
            member(".wh.tmp"),
            directory("tmp", mode=0o700),
            directory("bin"),
            member("bin/busybox", b"replaced", mode=0o755),
        ),
    ]
    snapshots = [layer_dir(data) for data in layers]
    native = tmp_path / "native"
    for data in layers:
        layer_dir(data, overlay=False, into=native)
    merged = overlays.mount(list(reversed(snapshots)))
    assert tree_s(native) == tree_s(merged)
    assert os.listdir(merged / "opt/app") == ["x"]


# -- a container's changes, committed and applied again ---------------------------------


def change_things(root: Path) -> None:
    """What a container might do to its rootfs."""
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/ash\n")
    os.remove(root / "etc/shadow")
    shutil.rmtree(root / "opt/app/cache")
    shutil.rmtree(root / "tmp")
    os.mkdir(root / "tmp", 0o755)
    (root / "tmp/fresh").write_text("after rm -rf")
    os.chmod(root / "bin/busybox", 0o4711)
    os.chown(root / "opt/app/main.py", 2000, 3000)
    os.link(root / "opt/app/data.bin", root / "opt/app/data.link")
    os.symlink("/etc/passwd", root / "opt/app/passwd")
    os.mknod(root / "dev/zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    os.mkfifo(root / "opt/app/fifo", 0o640)
    os.rename(root / "etc/group", root / "etc/group-")
    (root / "opt/app/tagged").write_text("xattr")
    os.setxattr(root / "opt/app/tagged", "user.origin", b"dockyard")
    os.setxattr(root / "opt/app/tagged", "trusted.note", b"\x00\x01binary")
    os.utime(root / "opt/app/main.py", ns=(5 * 10**9, 5 * 10**9))


@pytest.fixture
def container_upper(overlays, layer_dir, tmp_path) -> tuple[list[Path], Path, dict]:
    """A container over BASE and a small layer below it, changed by change_things() and stopped.

    Returns the lowers (top first), its upper dir, and the tree the container saw.
    """
    srv = layer_dir(make_tar(directory("srv")))
    lowers = [layer_dir(BASE), srv]
    container = overlays.mount(lowers)
    change_things(container)
    seen = tree_s(container)
    overlays.unmount(container)
    return lowers, tmp_path / "dy-upper-0", seen


def test_committed_changes_apply_to_the_same_tree_and_diff_id(overlays, layer_dir, tmp_path, container_upper):
    lowers, upper, seen = container_upper
    layer, diff_id = diff_bytes(lowers, upper)
    applied = layer_dir(layer)
    assert tree_s(overlays.mount([applied, *lowers])) == seen
    assert diff_bytes(lowers, applied)[1] == diff_id  # the round trip is exact

    native = tmp_path / "native"
    for data in (make_tar(directory("srv")), BASE, layer):
        layer_dir(data, overlay=False, into=native)
    assert tree_s(native) == seen


def test_changes_reports_what_docker_diff_would(container_upper):
    lowers, upper, _ = container_upper
    # /bin and /opt were copied up but are unchanged themselves, and nothing was added to or
    # deleted from them directly: docker does not list such directories either.
    assert changes([str(p) for p in lowers], str(upper)) == [
        ("C", "/bin/busybox"),
        ("C", "/dev"),
        ("A", "/dev/zero"),
        ("C", "/etc"),
        ("D", "/etc/group"),
        ("A", "/etc/group-"),
        ("C", "/etc/passwd"),
        ("D", "/etc/shadow"),
        ("C", "/opt/app"),
        ("D", "/opt/app/cache"),
        ("C", "/opt/app/data.bin"),
        ("A", "/opt/app/data.link"),
        ("A", "/opt/app/fifo"),
        ("C", "/opt/app/main.py"),
        ("A", "/opt/app/passwd"),
        ("A", "/opt/app/tagged"),
        ("C", "/tmp"),
        ("A", "/tmp/fresh"),
    ]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_compressed_commit_applies_to_the_same_diff_id(tmp_path, container_upper, compression):
    lowers, upper, _ = container_upper
    blob = io.BytesIO()
    with CompressingWriter(blob, compression) as writer:
        diff_id = diff_layer([str(p) for p in lowers], str(upper), writer).diff_id
    target = tmp_path / "from-blob"
    target.mkdir()
    assert apply_layer(io.BytesIO(blob.getvalue()), str(target)).diff_id == diff_id
    assert diff_bytes(lowers, target)[1] == diff_id


# -- property: random container changes survive commit and re-apply -------------------

_paths = st.sampled_from(
    ["etc/passwd", "etc/group", "etc", "bin/sh", "bin/busybox", "bin/ls", "opt/app", "opt/app/main.py", "opt", "tmp/x"]
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _paths, st.binary(max_size=300)),
        st.tuples(st.just("remove"), _paths, st.none()),
        st.tuples(st.just("recreate_dir"), _paths, st.none()),
        st.tuples(st.just("chmod"), _paths, st.sampled_from([0o700, 0o4755, 0o640])),
        st.tuples(st.just("symlink"), _paths, st.sampled_from(["/etc", "../x", "busybox"])),
        st.tuples(st.just("mkdir"), _paths, st.none()),
    ),
    max_size=8,
)


def _do(root: Path, op: str, rel: str, arg) -> None:
    path = root / rel
    try:
        if op == "write":
            path.write_bytes(arg)
        elif op == "remove":
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        elif op == "recreate_dir":
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            path.mkdir()
            (path / "new").write_text(rel)
        elif op == "chmod":
            if not path.is_symlink():
                os.chmod(path, arg)
        elif op == "symlink":
            os.symlink(arg, path)
        else:
            path.mkdir()
    except (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError):
        pass  # the op made no sense for the tree as it stood


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_random_container_changes_survive_commit_and_apply(ops, tmp_path_factory):
    base = tmp_path_factory.mktemp("dy-prop")
    overlays = Overlays(base)
    try:
        lower = base / "lower"
        lower.mkdir()
        apply_layer(io.BytesIO(BASE), str(lower))
        container = overlays.mount([lower])
        for op, rel, arg in ops:
            _do(container, op, rel, arg)
        expected = tree_s(container)
        overlays.unmount(container)
        layer, diff_id = diff_bytes([lower], base / "dy-upper-0")
        applied = base / "applied"
        applied.mkdir()
        assert apply_layer(io.BytesIO(layer), str(applied)).diff_id == diff_id
        assert tree_s(overlays.mount([applied, lower])) == expected
        with tempfile.TemporaryDirectory(dir=base) as native:
            for data in (BASE, layer):
                apply_layer(io.BytesIO(data), native, overlay=False)
            assert tree_s(Path(native)) == expected
    finally:
        overlays.cleanup()
        shutil.rmtree(base, ignore_errors=True)
