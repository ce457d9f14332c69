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
