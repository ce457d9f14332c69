"""End-to-end fixtures: a dockyard daemon per test module, driven by the real docker CLI and docker-py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from support.cli import CLI
from support.daemon import DockyardDaemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    base = tmp_path_factory.mktemp("dy-daemon")
    with DockyardDaemon(str(base)) as running:
        yield running


CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")


def bootstrap_busybox(data_root: str) -> None:
    """busybox:latest in a data root, before the daemon owns it (as `dockyard bootstrap busybox` does)."""
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=CACHE)
    command = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    subprocess.run([*command, "bootstrap", "busybox", "--data-root", data_root], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def busybox_daemon(tmp_path_factory):
    """A daemon whose store holds busybox:latest; every container is force-removed at the end."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    base = tmp_path_factory.mktemp("dy-daemon")
    running = DockyardDaemon(str(base))
    bootstrap_busybox(running.data_root)
    with running:
        try:
            yield running
        finally:
            ids = running.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                running.docker("rm", "-f", *ids, check=False)
            running.docker("network", "prune", "-f", check=False)


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, busybox_daemon) -> CLI:
    """The scenario once with the docker CLI, once with dockyard's, on the same daemon."""
    return CLI(request.param, busybox_daemon)
