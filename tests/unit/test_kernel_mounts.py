"""The mount helper's option handling: flags apart from data, lowerdir compaction, mountinfo paths."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from dockyard.kernel import constants as k
from dockyard.kernel.mountopts import parse as parse_options
from dockyard.kernel.mounts import PAGE_SIZE, compact_lowerdir, unescape_mountinfo


def test_flags_propagation_and_overlay_data_are_separated():
    flags, propagation, data = parse_options(["rbind", "ro", "rprivate", "index=off", "lowerdir=/a:/b"])
    assert flags == k.MS_BIND | k.MS_REC | k.MS_RDONLY
    assert propagation == [k.MS_PRIVATE | k.MS_REC]
    assert data == ["index=off", "lowerdir=/a:/b"]
    assert parse_options(["ro", "rw"])[0] == 0


def test_130_snapshot_lowerdirs_compact_to_relative_paths_within_a_page():
    snapshots = "/var/lib/dockyard/overlay/snapshots"
    lowers = [f"{snapshots}/{i}/fs" for i in range(130, 0, -1)]
    data = [
        "index=off",
        f"workdir={snapshots}/131/work",
        f"upperdir={snapshots}/131/fs",
        "lowerdir=" + ":".join(lowers),
    ]
    assert len(",".join(data)) > PAGE_SIZE

    chdir, compacted = compact_lowerdir(data)

    assert chdir == snapshots
    assert compacted[:3] == data[:3]  # upperdir and workdir stay absolute
    assert compacted[3].startswith("lowerdir=130/fs:129/fs:") and compacted[3].endswith(":1/fs")
    assert len(",".join(compacted)) < PAGE_SIZE - 512


def test_nothing_to_compact_leaves_the_options_alone():
    for data in (["index=off"], ["lowerdir=/a/b"], ["lowerdir=/a:/b"], ["lowerdir=rel/1:rel/2"]):
        assert compact_lowerdir(data) == (None, data)


_name = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=12)


@given(st.lists(_name, min_size=1, max_size=4), st.lists(st.lists(_name, min_size=1, max_size=3), min_size=2))
def test_compacted_lowerdirs_resolve_to_the_same_directories(prefix, tails):
    lowers = ["/" + "/".join(prefix + tail) for tail in tails]
    chdir, compacted = compact_lowerdir(["lowerdir=" + ":".join(lowers)])
    relative = compacted[0].removeprefix("lowerdir=").split(":")
    if chdir is None:
        assert relative == lowers
    else:
        assert [os.path.normpath(os.path.join(chdir, r)) for r in relative] == [os.path.normpath(d) for d in lowers]
        assert all(not r.startswith("/") for r in relative)


def test_mountinfo_paths_are_unescaped():
    assert unescape_mountinfo("/plain/path") == "/plain/path"
    assert unescape_mountinfo("/with\\040space\\011tab\\012newline") == "/with space\ttab\nnewline"
    assert unescape_mountinfo("/back\\134slash\\134") == "/back\\slash\\"
    assert unescape_mountinfo("/not\\an\\08escape\\12") == "/not\\an\\08escape\\12"


@given(st.text(alphabet="ab /\t\n\\", max_size=30))
def test_mountinfo_unescape_inverts_the_kernels_escape(path):
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert unescape_mountinfo(escaped) == path
