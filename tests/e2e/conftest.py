"""End-to-end fixtures: a dockyard daemon per test module, driven by the real docker CLI and docker-py."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

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


@contextlib.contextmanager
def busybox_daemon_in(base) -> Iterator[DockyardDaemon]:
    """A daemon in base (a daemon.json there is its configuration) whose store holds busybox:latest; every
    container and network is force-removed at the end."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    running = DockyardDaemon(str(base))
    bootstrap_busybox(running.data_root)
    with running:  # closing it removes its containers and networks
        yield running


@pytest.fixture(scope="module")
def busybox_daemon(tmp_path_factory):
    with busybox_daemon_in(tmp_path_factory.mktemp("dy-daemon")) as running:
        yield running


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, busybox_daemon) -> CLI:
    """The scenario once with the docker CLI, once with dockyard's, on the same daemon."""
    return CLI(request.param, busybox_daemon)
