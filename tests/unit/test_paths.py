"""resolve_in_root never leaves the root, whatever the symlinks in the tree say."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.kernel.paths import resolve_in_root, resolve_name_in_root


def test_plain_path_joins(tmp_path):
    assert resolve_in_root(str(tmp_path), "/etc/hosts") == str(tmp_path / "etc/hosts")


def test_dotdot_is_clamped_at_the_root(tmp_path):
    assert resolve_in_root(str(tmp_path), "/../../etc/../../x") == str(tmp_path / "x")


def test_absolute_symlink_is_resolved_inside_the_root(tmp_path):
    (tmp_path / "etc").mkdir()
    os.symlink("/etc", tmp_path / "link")
    assert resolve_in_root(str(tmp_path), "/link/passwd") == str(tmp_path / "etc/passwd")


def test_escaping_relative_symlink_stays_inside(tmp_path):
    (tmp_path / "a").mkdir()
    os.symlink("../../../../../host", tmp_path / "a/escape")
    assert resolve_in_root(str(tmp_path), "/a/escape/file") == str(tmp_path / "host/file")


def test_symlink_loop_is_an_error(tmp_path):
    os.symlink("/loop", tmp_path / "loop")
    try:
        resolve_in_root(str(tmp_path), "/loop/x")
    except OSError as exc:
        assert exc.errno == 40
    else:
        raise AssertionError("a loop must not resolve")


names = st.sampled_from(["a", "b", "..", ".", "link", "up", "abs"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(names, max_size=8))
def test_result_is_always_under_the_root(tmp_path_factory, parts):
    root = tmp_path_factory.mktemp("root")
    (root / "a").mkdir()
    (root / "a/b").mkdir()
    os.symlink("../..", root / "a/up")
    os.symlink("/a", root / "a/b/link")
    os.symlink("/", root / "abs")
    resolved = resolve_in_root(str(root), "/" + "/".join(parts))
    assert resolved == str(root) or resolved.startswith(str(root) + "/")


def test_name_resolution_keeps_the_last_symlink(tmp_path):
    (tmp_path / "dev").mkdir()
    os.symlink("/proc/self/fd", tmp_path / "dev/fd")
    os.symlink("/dev", tmp_path / "devlink")
    assert resolve_name_in_root(str(tmp_path), "/dev/fd") == str(tmp_path / "dev/fd")
    assert resolve_name_in_root(str(tmp_path), "/devlink/fd") == str(tmp_path / "dev/fd")
