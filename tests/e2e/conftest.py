"""End-to-end fixtures: a dockyard daemon per test module, driven by the real docker CLI and docker-py."""

from __future__ import annotations

import shutil

import pytest

from support.daemon import DockyardDaemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    base = tmp_path_factory.mktemp("dy-daemon")
    with DockyardDaemon(str(base)) as running:
        yield running
