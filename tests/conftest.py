"""Shared fixtures: a busybox rootfs from Debian's busybox-static, a Debian rootfs from debootstrap,
bundles, runtime roots, and a session-end check that no kernel object named dockyard/dy- was left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hypothesis import settings

from dockyard.image.bootstrap import build_busybox_rootfs
from dockyard.runtime.defaults import default_spec
from support.bundles import Bundle
from support.dockerd import dockerd  # noqa: F401  (the session's private dockerd; skips without docker.io)

# Hypothesis's per-example deadline is a timed assertion: on a loaded 2-core CI machine it fails
# correct code. Property tests check behaviour; speed is measured in bench/.
settings.register_profile("dockyard", deadline=None)
settings.load_profile("dockyard")

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="integration tests need root (namespaces, mounts, cgroups)")
    for item in items:
        if {"integration", "e2e"} & set(item.path.parts) and os.geteuid() != 0:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_rootfs() -> str:
    """A pristine busybox root filesystem, built once and cached between runs."""
    path = os.path.join(CACHE, "busybox-rootfs")
    if not os.path.isdir(path):
        build_busybox_rootfs(path, os.path.join(CACHE, "debs"))
    return path


@pytest.fixture(scope="session")
def debian_rootfs() -> str:
    """A pristine minbase Debian bookworm rootfs from debootstrap, built once and cached between runs.

    The mirror is the host's own (or $DOCKYARD_DEBIAN_MIRROR); the packages stay in
    the cache too, so tests that bootstrap again download only the indexes.
    """
    path = os.path.join(CACHE, "debian-bookworm-minbase-rootfs")
    if not os.path.isdir(path):
        from dockyard.image.debian import build_debian_rootfs

        if shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
        build_debian_rootfs(path, "bookworm", variant="minbase", cache_dir=CACHE)
    return path


@pytest.fixture
def runtime_root(tmp_path):
    """A state directory of our own; containers left in it are force-deleted afterwards."""
    root = str(tmp_path / "dy-state")
    yield root
    from dockyard.runtime.runtime import Runtime

    runtime = Runtime(root)
    for state in runtime.list():
        runtime.delete(state["id"], force=True)


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs):
    """make_bundle(args) -> a bundle with a writable copy of busybox and a non-tty spec."""
    counter = iter(range(1000))

    def make(args: list[str] | None = None) -> Bundle:
        path = str(tmp_path / f"bundle{next(counter)}")
        shutil.copytree(busybox_rootfs, os.path.join(path, "rootfs"), symlinks=True)
        config = default_spec(args or ["true"])
        config["process"]["terminal"] = False
        config["root"]["readonly"] = False
        bundle = Bundle(path, config)
        config["linux"]["cgroupsPath"] = f"/dy-test/{bundle.id}"
        return bundle.write()

    return make


@pytest.fixture
def bundle(make_bundle) -> Bundle:
    return make_bundle()


@pytest.fixture
def cli(runtime_root):
    """cli(*args) runs dockyard-runtime with our --root and returns the CompletedProcess."""

    def run(*args: str, timeout: float = 60, **kwargs):
        # Files, not pipes: a detached container keeps the runtime's stdio open,
        # so reading a pipe to its end would wait for the container to exit.
        command = [sys.executable, "-m", "dockyard.runtime.cli", "--root", runtime_root, *args]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            result = subprocess.run(command, stdout=out, stderr=err, timeout=timeout, **kwargs)
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        return result

    return run


@pytest.fixture
def run(cli):
    """run(bundle, *flags): write the config, `run` it in the foreground; (exit code, stdout, stderr)."""

    def run_bundle(bundle: Bundle, *extra: str) -> tuple[int, str, str]:
        bundle.write()
        result = cli("run", "--bundle", bundle.path, *extra, bundle.id)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    return run_bundle


def leftovers() -> list[str]:
    """Kernel objects named like ours: mounts, cgroups, links, network namespaces, nftables tables."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4]
            if "dockyard" in mount_point or "/dy-" in mount_point:
                found.append(f"mount {mount_point}")
    for base, dirs, _files in os.walk("/sys/fs/cgroup"):
        for name in dirs:
            if name.startswith("dy-") or "dockyard" in name:
                found.append(f"cgroup {os.path.join(base, name)}")
        if base.count("/") > 5:
            dirs[:] = []
    for name in os.listdir("/sys/class/net"):
        if name.startswith(("dy", "dockyard")):
            found.append(f"link {name}")
    if os.path.isdir("/run/netns"):
        found += [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith("dy-") or "dockyard" in n]
    if shutil.which("nft"):
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
        found += [f"nftables {line}" for line in tables.splitlines() if "dockyard" in line or " dy-" in line]
    return found


def pytest_sessionfinish(session, exitstatus):
    if os.geteuid() != 0:
        return
    left = leftovers()
    if left:
        sys.stderr.write("\nkernel objects left behind by the tests:\n  " + "\n  ".join(left) + "\n")
        session.exitstatus = 1
