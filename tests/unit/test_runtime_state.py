"""The runtime's per-container state files."""

from __future__ import annotations

import shutil

import pytest

from dockyard.errors import NotFound
from dockyard.runtime import state


def test_saving_the_state_of_a_container_whose_directory_went_is_not_found(tmp_path):
    container = state.new(str(tmp_path), "dy-gone", {"pid": 0})
    container.save()
    loaded = state.load(str(tmp_path), "dy-gone")
    shutil.rmtree(container.dir)  # as the shim does when the init exits
    loaded.record["paused"] = False
    with pytest.raises(NotFound, match="container dy-gone does not exist"):
        loaded.save()


def test_the_kept_seccomp_filter_is_read_back_whole_or_not_at_all(tmp_path):
    container = state.new(str(tmp_path), "dy-filter", {"pid": 0})
    assert container.saved_seccomp() is None  # none kept: the caller compiles it
    program = bytes(range(16))  # two struct sock_filter
    container.save_seccomp(program)
    assert container.saved_seccomp() == program
    container.save_seccomp(program[:12])  # not whole filters: never installed
    assert container.saved_seccomp() is None
