"""The Snapshotter contract (dockyard.core.snapshot), run against every implementation with real mounts.

Every snapshotter root and mount point lives under a tmp directory named dy-*, and
every mount is undone by the `mounter` fixture even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dockyard.core.snapshot import Kind, Mount, SnapshotInfo, Usage
from dockyard.errors import Conflict, InvalidParameter, NotFound, Unavailable
from dockyard.kernel import constants as k
from dockyard.kernel.mounts import PAGE_SIZE, mount_all, unmount_all
from dockyard.snapshot import NativeSnapshotter, OverlaySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="snapshotters mount, chown and mknod: root only")

IMPLEMENTATIONS = {"overlay": OverlaySnapshotter, "native": NativeSnapshotter}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def kind(request) -> str:
    return request.param


@pytest.fixture
def root(tmp_path) -> str:
    return str(tmp_path / "dy-snapshots")


@pytest.fixture
def snapshotter(kind, root):
    snapshotter = IMPLEMENTATIONS[kind](root)
    yield snapshotter
    snapshotter.close()


class Mounter:
    """mount(mounts) -> a fresh dy-mnt-* directory with them mounted; unmount(target) undoes it."""

    def __init__(self, base) -> None:
        self.base = base
        self.targets: list[str] = []

    def mount(self, mounts: list[Mount]) -> str:
        target = str(self.base / f"dy-mnt-{len(self.targets)}")
        os.mkdir(target)
        self.targets.append(target)
        mount_all(mounts, target)
        return target

    def unmount(self, target: str) -> None:
        unmount_all(target)

    def cleanup(self) -> None:
        for target in reversed(self.targets):
            unmount_all(target, k.MNT_DETACH)


@pytest.fixture
def mounter(tmp_path):
    mounter = Mounter(tmp_path)
    try:
        yield mounter
    finally:
        mounter.cleanup()


def make_layer(snapshotter, mounter, name: str, parent: str | None, change) -> str:
    """Prepare on parent, mount, change(path), unmount, commit as name."""
    target = mounter.mount(snapshotter.prepare(f"extract-{name}", parent))
    try:
        change(target)
    finally:
        mounter.unmount(target)
    snapshotter.commit(name, f"extract-{name}")
    return name


def write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def tree(path: str) -> dict[str, str]:
    """relative path -> file content, "<dir>" or "-> target": the visible filesystem."""
    found = {}
    for base, dirs, files in os.walk(path):
        for name in dirs:
            found[os.path.relpath(os.path.join(base, name), path)] = "<dir>"
        for name in files:
            full = os.path.join(base, name)
            found[os.path.relpath(full, path)] = f"-> {os.readlink(full)}" if os.path.islink(full) else read(full)
    return found


# -- lifecycle -----------------------------------------------------------------------


def test_prepare_without_parent_is_an_empty_writable_0755_directory(snapshotter, mounter):
    target = mounter.mount(snapshotter.prepare("fresh"))
    assert os.listdir(target) == []
    assert os.stat(target).st_mode & 0o7777 == 0o755
    write(os.path.join(target, "hello"), "hi")
    assert read(os.path.join(target, "hello")) == "hi"


def test_commit_turns_the_active_key_into_a_committed_name(snapshotter, mounter):
    make_layer(snapshotter, mounter, "base", None, lambda p: write(f"{p}/foo", "foo\n"))

    info = snapshotter.stat("base")
    assert (info.key, info.parent, info.kind) == ("base", None, Kind.COMMITTED)
    assert info.kind == "committed"
    with pytest.raises(NotFound):
        snapshotter.stat("extract-base")

    snapshotter.prepare("next", "base")
    assert snapshotter.stat("next")[:3] == ("next", "base", Kind.ACTIVE)


def test_files_of_every_layer_show_through_the_chain(snapshotter, mounter):
    def first(p):
        write(f"{p}/foo", "foo\n")
        write(f"{p}/gone", "soon deleted\n")
        os.makedirs(f"{p}/a/b/c")
        write(f"{p}/a/b/c/deep", "deep\n")
        os.makedirs(f"{p}/keep")
        write(f"{p}/keep/old", "old\n")

    def second(p):
        write(f"{p}/foo", "bar\n")  # overwrite
        os.unlink(f"{p}/gone")  # delete a file of a lower layer
        shutil.rmtree(f"{p}/a/b")  # and a whole directory
        os.symlink("foo", f"{p}/link")
        write(f"{p}/keep/new", "new\n")  # add beside a lower file

    def third(p):
        shutil.rmtree(f"{p}/keep")  # remove, then recreate: nothing of the lower one shows
        os.mkdir(f"{p}/keep")
        write(f"{p}/keep/only", "only\n")

    make_layer(snapshotter, mounter, "l1", None, first)
    make_layer(snapshotter, mounter, "l2", "l1", second)
    make_layer(snapshotter, mounter, "l3", "l2", third)

    expected = {"foo": "bar\n", "a": "<dir>", "link": "-> foo", "keep": "<dir>", "keep/only": "only\n"}
    assert tree(mounter.mount(snapshotter.view("v3", "l3"))) == expected
    assert tree(mounter.mount(snapshotter.prepare("c3", "l3"))) == expected
    assert tree(mounter.mount(snapshotter.view("v2", "l2")))["keep/old"] == "old\n"
    assert tree(mounter.mount(snapshotter.view("v1", "l1")))["gone"] == "soon deleted\n"


def test_writes_in_an_active_snapshot_leave_parent_and_siblings_alone(snapshotter, mounter):
    make_layer(snapshotter, mounter, "base", None, lambda p: (write(f"{p}/shared", "original"), os.mkdir(f"{p}/d")))
    container = mounter.mount(snapshotter.prepare("container", "base"))
    sibling = mounter.mount(snapshotter.prepare("sibling", "base"))

    write(f"{container}/shared", "changed")
    write(f"{container}/d/new", "new")
    os.unlink(f"{sibling}/shared")

    assert tree(mounter.mount(snapshotter.view("check", "base"))) == {"shared": "original", "d": "<dir>"}
    assert tree(sibling) == {"d": "<dir>"}
    assert tree(container) == {"shared": "changed", "d": "<dir>", "d/new": "new"}


def test_views_are_read_only(snapshotter, mounter):
    make_layer(snapshotter, mounter, "base", None, lambda p: write(f"{p}/foo", "foo"))
    make_layer(snapshotter, mounter, "top", "base", lambda p: write(f"{p}/bar", "bar"))
    for key, parent in [("v-none", None), ("v-one", "base"), ("v-two", "top")]:
        target = mounter.mount(snapshotter.view(key, parent))
        with pytest.raises(OSError) as failure:
            write(f"{target}/testfile", "nope")
        assert failure.value.errno == 30  # EROFS
    assert os.listdir(mounter.targets[0]) == []


def test_special_files_and_metadata_survive_layering(snapshotter, mounter):
    capability = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service=ep, VFS_CAP v2

    def special(p):
        os.mknod(f"{p}/null", 0o20666, os.makedev(1, 3))
        os.mkfifo(f"{p}/fifo", 0o600)
        write(f"{p}/tool", "#!/bin/sh\n", 0o755)
        os.chown(f"{p}/tool", 1000, 1001)
        os.chmod(f"{p}/tool", 0o4755)  # after chown, which clears setuid
        os.setxattr(f"{p}/tool", "user.origin", b"layer-1")
        write(f"{p}/ping", "ping", 0o755)
        os.setxattr(f"{p}/ping", "security.capability", capability)
        write(f"{p}/a", "linked")
        os.link(f"{p}/a", f"{p}/b")
        os.symlink("/etc/passwd", f"{p}/abs-link")
        os.mkdir(f"{p}/dir")
        os.chmod(f"{p}/dir", 0o1777)  # like /tmp
        os.utime(f"{p}/tool", (1_000_000_000, 1_000_000_000))
        os.utime(f"{p}/dir", (1_100_000_000, 1_100_000_000))

    make_layer(snapshotter, mounter, "special", None, special)
    for mounts in (snapshotter.prepare("child", "special"), snapshotter.view("v", "special")):
        target = mounter.mount(mounts)
        assert os.stat(f"{target}/null").st_rdev == os.makedev(1, 3)
        assert stat.S_ISFIFO(os.stat(f"{target}/fifo").st_mode)
        tool = os.stat(f"{target}/tool")
        assert (tool.st_uid, tool.st_gid, tool.st_mode & 0o7777, tool.st_mtime) == (1000, 1001, 0o4755, 1e9)
        assert os.getxattr(f"{target}/tool", "user.origin") == b"layer-1"
        assert os.getxattr(f"{target}/ping", "security.capability")[:8] == capability[:8]
        a, b = os.stat(f"{target}/a"), os.stat(f"{target}/b")
        assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
        assert os.readlink(f"{target}/abs-link") == "/etc/passwd"
        directory = os.stat(f"{target}/dir")
        assert (directory.st_mode & 0o7777, directory.st_mtime) == (0o1777, 1.1e9)


# -- errors --------------------------------------------------------------------------


def test_a_key_in_use_conflicts_whatever_its_kind(snapshotter, mounter):
    make_layer(snapshotter, mounter, "base", None, lambda p: None)
    snapshotter.prepare("active", "base")
    snapshotter.view("view", "base")
    for key in ("active", "view", "base"):
        with pytest.raises(Conflict):
            snapshotter.prepare(key, "base")
        with pytest.raises(Conflict):
            snapshotter.view(key, "base")


def test_a_parent_must_exist_and_be_committed(snapshotter):
    snapshotter.prepare("active")
    snapshotter.view("view")
    with pytest.raises(NotFound):
        snapshotter.prepare("x", "missing")
    for parent in ("active", "view"):
        with pytest.raises(InvalidParameter):
            snapshotter.prepare("x", parent)
        with pytest.raises(InvalidParameter):
            snapshotter.view("x", parent)
    with pytest.raises(InvalidParameter):
        snapshotter.prepare("")
    assert {info.key for info in snapshotter.walk()} == {"active", "view"}


def test_only_an_active_snapshot_commits_and_only_to_a_free_name(snapshotter):
    snapshotter.prepare("a1")
    snapshotter.commit("c1", "a1")
    snapshotter.view("v1", "c1")
    snapshotter.prepare("a2", "c1")
    with pytest.raises(Conflict):
        snapshotter.commit("c2", "v1")  # a view
    with pytest.raises(Conflict):
        snapshotter.commit("c2", "c1")  # already committed
    with pytest.raises(Conflict):
        snapshotter.commit("c1", "a2")  # the name is taken
    with pytest.raises(NotFound):
        snapshotter.commit("c2", "missing")
    assert snapshotter.stat("a2").kind == Kind.ACTIVE


def test_remove_refuses_a_parent_until_its_children_are_gone(snapshotter, root):
    snapshotter.prepare("base-a")
    snapshotter.commit("base", "base-a")
    snapshotter.prepare("mid-a", "base")
    snapshotter.commit("mid", "mid-a")
    snapshotter.prepare("top", "mid")
    snapshotter.view("peek", "base")
    directories = len(os.listdir(os.path.join(root, "snapshots")))

    for parent in ("mid", "base"):
        with pytest.raises(Conflict, match="parent"):
            snapshotter.remove(parent)
    snapshotter.remove("top")
    snapshotter.remove("mid")
    with pytest.raises(Conflict):
        snapshotter.remove("base")  # the view still holds it
    snapshotter.remove("peek")
    snapshotter.remove("base")

    assert list(snapshotter.walk()) == []
    assert directories == 4 and os.listdir(os.path.join(root, "snapshots")) == []
    with pytest.raises(NotFound):
        snapshotter.remove("base")


def test_a_removed_key_can_be_used_again_as_any_kind(snapshotter):
    snapshotter.prepare("committed-a")
    snapshotter.commit("committed-1", "committed-a")
    snapshotter.prepare("reuse-1", "committed-1")
    snapshotter.remove("reuse-1")
    snapshotter.view("reuse-1", "committed-1")
    snapshotter.remove("reuse-1")
    snapshotter.prepare("reuse-1")
    snapshotter.remove("committed-1")
    snapshotter.commit("committed-1", "reuse-1")
    assert snapshotter.stat("committed-1")[:3] == ("committed-1", None, Kind.COMMITTED)


def test_mounts_gives_back_what_prepare_and_view_returned(snapshotter):
    snapshotter.prepare("a")
    snapshotter.commit("c", "a")
    prepared = snapshotter.prepare("p", "c")
    viewed = snapshotter.view("v", "c")
    assert snapshotter.mounts("p") == prepared
    assert snapshotter.mounts("v") == viewed
    assert all(isinstance(m, Mount) and isinstance(m.options, tuple) for m in prepared + viewed)
    with pytest.raises(Conflict):
        snapshotter.mounts("c")
    with pytest.raises(NotFound):
        snapshotter.mounts("missing")


def test_concurrent_creates_get_their_own_snapshots_and_one_key_wins_once(snapshotter, root):
    snapshotter.prepare("base-a")
    snapshotter.commit("base", "base-a")

    def create(i: int) -> None:
        with contextlib.suppress(Conflict):
            snapshotter.prepare("contested", "base")
        snapshotter.prepare(f"own-{i}", "base")
        if i % 2:
            snapshotter.remove(f"own-{i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(40)))

    expected = {"base", "contested"} | {f"own-{i}" for i in range(0, 40, 2)}
    assert {info.key for info in snapshotter.walk()} == expected
    assert len(os.listdir(os.path.join(root, "snapshots"))) == len(expected)


# -- stat, walk, labels ----------------------------------------------------------------


def test_walk_and_stat_report_every_snapshot(snapshotter):
    before = time.time()
    snapshotter.prepare("c1-a", labels={"dockyard.gc.root": "yes"})
    snapshotter.commit("c1", "c1-a")
    snapshotter.prepare("c2-a", "c1")
    snapshotter.commit("c2", "c2-a", labels={"layer": "2"})
    snapshotter.prepare("a1", "c2", labels={"container": "abc"})
    snapshotter.prepare("a2")
    snapshotter.view("v1", "c2")
    snapshotter.view("v2")
    after = time.time()

    expected = {
        "c1": (None, Kind.COMMITTED, {"dockyard.gc.root": "yes"}),
        "c2": ("c1", Kind.COMMITTED, {"layer": "2"}),
        "a1": ("c2", Kind.ACTIVE, {"container": "abc"}),
        "a2": (None, Kind.ACTIVE, {}),
        "v1": ("c2", Kind.VIEW, {}),
        "v2": (None, Kind.VIEW, {}),
    }
    walked = {info.key: info for info in snapshotter.walk()}
    assert {key: (i.parent, i.kind, i.labels) for key, i in walked.items()} == expected
    for key, info in walked.items():
        assert isinstance(info, SnapshotInfo)
        assert snapshotter.stat(key) == info
        assert before <= info.created <= after
    snapshotter.stat("a1").labels["container"] = "changed"
    assert snapshotter.stat("a1").labels == {"container": "abc"}


def test_snapshots_survive_reopening_the_root(kind, root, mounter):
    first = IMPLEMENTATIONS[kind](root)
    make_layer(first, mounter, "base", None, lambda p: write(f"{p}/kept", "kept"))
    first.prepare("container", "base", labels={"x": "y"})
    infos = {info.key: info for info in first.walk()}
    first.close()

    second = IMPLEMENTATIONS[kind](root)
    try:
        assert {info.key: info for info in second.walk()} == infos
        assert read(f"{mounter.mount(second.mounts('container'))}/kept") == "kept"
        assert second.repair() == []
    finally:
        second.close()


def test_close_twice_then_every_call_is_unavailable(snapshotter):
    snapshotter.prepare("a")
    snapshotter.close()
    snapshotter.close()
    for call in (
        lambda: snapshotter.stat("a"),
        lambda: snapshotter.prepare("b"),
        lambda: snapshotter.view("b"),
        lambda: snapshotter.mounts("a"),
        lambda: snapshotter.commit("c", "a"),
        lambda: snapshotter.remove("a"),
        lambda: snapshotter.walk(),
        lambda: snapshotter.usage("a"),
    ):
        with pytest.raises(Unavailable):
            call()


# -- usage -----------------------------------------------------------------------------

MIB = 1 << 20


def test_usage_counts_a_snapshots_own_blocks_and_inodes_once(snapshotter, mounter, kind):
    def big(p):
        with open(f"{p}/big", "wb") as f:
            f.write(os.urandom(MIB))
        os.link(f"{p}/big", f"{p}/big-again")  # one inode, counted once
        os.mkdir(f"{p}/d")

    make_layer(snapshotter, mounter, "base", None, big)
    base = snapshotter.usage("base")
    assert MIB <= base.size <= MIB + 64 * 1024
    assert base.inodes == 3  # the root, big (twice linked), d

    container = mounter.mount(snapshotter.prepare("container", "base"))
    before = snapshotter.usage("container")
    if kind == "overlay":  # an upperdir starts empty; a native copy holds the parent's files as its own
        assert before.size < 16 * 1024 and before.inodes == 1
    with open(f"{container}/small", "wb") as f:
        f.write(os.urandom(100_000))
    after = snapshotter.usage("container")
    assert after.size - before.size >= 100_000 and after.inodes == before.inodes + 1
    mounter.unmount(container)
    snapshotter.commit("layer", "container")
    assert snapshotter.usage("layer") == after
    assert isinstance(after, Usage)
    with pytest.raises(NotFound):
        snapshotter.usage("missing")


# -- deep chains and the mount option page ----------------------------------------------------


def test_a_130_layer_chain_mounts_and_shows_every_layer(snapshotter, mounter, kind):
    parent = None
    for i in range(130):

        def change(p, i=i):
            write(f"{p}/layer-{i}", str(i))
            write(f"{p}/overwritten", str(i))
            if i == 60:
                os.unlink(f"{p}/layer-10")

        parent = make_layer(snapshotter, mounter, f"layer-{i}", parent, change)

    active = snapshotter.prepare("container", parent)
    view = snapshotter.view("full-view", parent)
    if kind == "overlay":
        # Absolute lowerdirs of 130 layers do not fit in the one page mount(2) copies.
        assert min(len(",".join(m[0].options)) for m in (active, view)) > PAGE_SIZE
    for mounts in (active, view):
        target = mounter.mount(mounts)
        names = set(os.listdir(target))
        assert names == {f"layer-{i}" for i in range(130) if i != 10} | {"overwritten"}
        assert read(f"{target}/overwritten") == "129" and read(f"{target}/layer-0") == "0"
    write(f"{mounter.targets[-2]}/written", "through 130 layers")
    assert read(f"{mounter.targets[-2]}/written") == "through 130 layers"


# -- crash safety -------------------------------------------------------------------------

# Runs in a child: open the snapshotter, arm one kill point, do one operation. The kill
# points wrap the very calls the snapshotter makes, so the SIGKILL lands between two
# steps of the change, exactly where a crash could.
CHILD = r"""
import os, signal, sys
import dockyard.snapshot.base as base
import dockyard.snapshot.copy as copy
from dockyard.snapshot import NativeSnapshotter, OverlaySnapshotter

kind, root, operation, point = sys.argv[1:]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def wrap(owner, name, before=None, after=None):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if before and before(*args):
            die()
        result = real(*args, **kwargs)
        if after and after(*args):
            die()
        return result
    setattr(owner, name, wrapper)

calls = []
def nth(n):
    def check(*args):
        calls.append(1)
        return len(calls) == n
    return check

snapshotter = {"overlay": OverlaySnapshotter, "native": NativeSnapshotter}[kind](root)
arm = {
    "dir-being-built": lambda: wrap(os, "mkdir", after=lambda path, *a: "/new-" in str(path)),
    "mid-copy": lambda: wrap(copy, "_copy_data", after=nth(3)),
    "dir-in-place": lambda: wrap(os, "rename", after=lambda src, dst, *a: "/new-" in str(src)),
    "metadata-temp-written": lambda: wrap(os, "rename", before=lambda src, dst, *a: str(src).endswith(".tmp")),
    "metadata-written": lambda: wrap(os, "rename", after=lambda src, dst, *a: str(src).endswith(".tmp")),
    "usage-measured": lambda: wrap(base, "disk_usage", after=lambda *a: True),
    "mid-delete": lambda: wrap(os, "unlink", after=nth(2)),
}
arm[point]()
if operation == "prepare":
    snapshotter.prepare("container", "base")
elif operation == "commit":
    snapshotter.commit("committed", "work")
else:
    snapshotter.remove("doomed")
sys.exit(3)  # the kill point was never reached
"""


def run_killed(kind: str, root: str, operation: str, point: str) -> None:
    child = subprocess.run([sys.executable, "-c", CHILD, kind, root, operation, point], capture_output=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()


def files_on_disk(root: str) -> set[str]:
    return set(os.listdir(os.path.join(root, "snapshots"))) | set(os.listdir(root)) - {"snapshots"}


def setup_crash_scene(snapshotter, mounter) -> None:
    def files(p):
        for i in range(5):
            write(f"{p}/file-{i}", f"content {i}")

    make_layer(snapshotter, mounter, "base", None, files)
    make_layer(snapshotter, mounter, "doomed", "base", files)
    target = mounter.mount(snapshotter.prepare("work", "base"))
    write(f"{target}/work-file", "uncommitted")
    mounter.unmount(target)


PREPARE_POINTS = ["dir-being-built", "mid-copy", "dir-in-place", "metadata-temp-written"]


@pytest.mark.parametrize("point", PREPARE_POINTS)
def test_a_prepare_killed_midway_leaves_nothing_and_can_be_retried(kind, root, mounter, point):
    if point == "mid-copy" and kind == "overlay":
        pytest.skip("overlay copies nothing")
    first = IMPLEMENTATIONS[kind](root)
    setup_crash_scene(first, mounter)
    clean = files_on_disk(root)
    first.close()

    run_killed(kind, root, "prepare", point)

    assert files_on_disk(root) != clean  # the kill left something behind...
    snapshotter = IMPLEMENTATIONS[kind](root)  # ...which opening repairs
    try:
        assert files_on_disk(root) == clean
        assert {info.key for info in snapshotter.walk()} == {"base", "doomed", "work"}
        target = mounter.mount(snapshotter.prepare("container", "base"))
        assert read(f"{target}/file-4") == "content 4"
    finally:
        snapshotter.close()


def test_a_prepare_killed_after_its_metadata_write_is_whole(kind, root, mounter):
    first = IMPLEMENTATIONS[kind](root)
    setup_crash_scene(first, mounter)
    first.close()

    run_killed(kind, root, "prepare", "metadata-written")

    snapshotter = IMPLEMENTATIONS[kind](root)
    try:
        assert snapshotter.stat("container")[:3] == ("container", "base", Kind.ACTIVE)
        assert read(f"{mounter.mount(snapshotter.mounts('container'))}/file-0") == "content 0"
        with pytest.raises(Conflict):
            snapshotter.prepare("container", "base")
    finally:
        snapshotter.close()


@pytest.mark.parametrize("point", ["usage-measured", "metadata-temp-written"])
def test_a_commit_killed_midway_leaves_the_active_snapshot_to_commit_again(kind, root, mounter, point):
    first = IMPLEMENTATIONS[kind](root)
    setup_crash_scene(first, mounter)
    first.close()

    run_killed(kind, root, "commit", point)

    snapshotter = IMPLEMENTATIONS[kind](root)
    try:
        assert snapshotter.stat("work").kind == Kind.ACTIVE
        with pytest.raises(NotFound):
            snapshotter.stat("committed")
        snapshotter.commit("committed", "work")
        assert read(f"{mounter.mount(snapshotter.view('check', 'committed'))}/work-file") == "uncommitted"
    finally:
        snapshotter.close()


@pytest.mark.parametrize("point", ["metadata-written", "mid-delete"])
def test_a_remove_killed_after_its_metadata_write_leaves_only_debris_that_repair_deletes(kind, root, mounter, point):
    first = IMPLEMENTATIONS[kind](root)
    setup_crash_scene(first, mounter)
    first.close()
    before = files_on_disk(root)

    run_killed(kind, root, "remove", point)

    snapshotter = IMPLEMENTATIONS[kind](root)
    try:
        assert {info.key for info in snapshotter.walk()} == {"base", "work"}
        assert len(files_on_disk(root)) == len(before) - 1  # the removed snapshot's directory is gone
        snapshotter.prepare("doomed", "base")
    finally:
        snapshotter.close()
