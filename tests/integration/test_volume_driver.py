"""The VolumeDriver contract (dockyard.core.volume), run against the local driver and the tests' fake."""

from __future__ import annotations

import os

import pytest

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.kernel.mounts import mount_points_under
from dockyard.volume.local import LocalDriver
from support.volumes import FakeDriver


@pytest.fixture(params=["local", "fake"])
def driver(request, tmp_path):
    root = str(tmp_path / "dy-volumes")
    # Volumes without options: nothing is mounted, the temporary directory is all there is to clean.
    return LocalDriver(root) if request.param == "local" else FakeDriver(root)


def test_a_new_volume_is_an_empty_directory(driver):
    driver.create("data", {})
    assert os.path.isdir(driver.path("data")) and os.listdir(driver.path("data")) == []
    assert "data" in driver.names()


def test_creating_an_existing_name_is_a_conflict(driver):
    driver.create("data", {})
    with pytest.raises(Conflict):
        driver.create("data", {})


def test_unknown_options_are_refused_before_anything_is_made(driver):
    with pytest.raises(InvalidParameter, match='invalid option: "colour"'):
        driver.create("data", {"colour": "blue"})
    assert driver.names() == []


def test_refs_share_a_volume_and_removal_waits_for_the_last(driver):
    driver.create("data", {})
    path = driver.mount("data", {}, "c1")
    assert driver.mount("data", {}, "c2") == path == driver.path("data")
    driver.mount("data", {}, "c1")  # the same ref twice counts once
    driver.unmount("data", "c1")
    assert driver.in_use("data")
    with pytest.raises(Conflict):
        driver.remove("data")
    driver.unmount("data", "c2")
    driver.unmount("data", "c2")  # a ref that holds nothing: fine
    assert not driver.in_use("data")
    driver.remove("data")
    assert driver.names() == []
    with pytest.raises(NotFound):
        driver.remove("data")


def test_usage_counts_the_data(driver):
    driver.create("data", {})
    empty = driver.usage("data")
    with open(os.path.join(driver.path("data"), "blob"), "wb") as f:
        f.write(b"x" * 100_000)
    assert driver.usage("data") - empty >= 100_000


def _mounted(path: str) -> bool:
    return os.path.realpath(path) in mount_points_under(path)


def test_a_tmpfs_volume_is_mounted_by_its_first_user_and_unmounted_after_its_last(tmp_path):
    driver = LocalDriver(str(tmp_path / "dy-volumes"))
    options = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"}
    driver.create("scratch", options)
    path = driver.path("scratch")
    try:
        assert not _mounted(path)
        driver.mount("scratch", options, "c1")
        driver.mount("scratch", options, "c2")
        assert _mounted(path) and oct(os.stat(path).st_mode & 0o7777) == "0o750"
        assert os.statvfs(path).f_blocks * os.statvfs(path).f_frsize == 1 << 20
        with open(os.path.join(path, "f"), "w") as f:
            f.write("in tmpfs")
        driver.unmount("scratch", "c1")
        assert _mounted(path)
        driver.unmount("scratch", "c2")
        assert not _mounted(path) and os.listdir(path) == []
    finally:
        for ref in ("c1", "c2"):
            driver.unmount("scratch", ref)


def test_a_mount_left_by_an_earlier_daemon_is_adopted_not_stacked(tmp_path):
    root = str(tmp_path / "dy-volumes")
    options = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    earlier = LocalDriver(root)
    earlier.create("scratch", options)
    path = earlier.path("scratch")
    later = LocalDriver(root)
    try:
        earlier.mount("scratch", options, "c1")
        with open(os.path.join(path, "kept"), "w") as f:
            f.write("still here")
        later.mount("scratch", options, "c1")  # a new daemon re-adopting the running container
        assert os.listdir(path) == ["kept"]
        assert mount_points_under(path).count(os.path.realpath(path)) == 1
        later.unmount("scratch", "c1")
        assert not _mounted(path)
    finally:
        for driver in (earlier, later):
            driver.unmount("scratch", "c1")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"type": "tmpfs"}, 'missing required option: "device"'),
        ({"device": "tmpfs"}, 'missing required option: "type"'),
        ({"o": "size=1m"}, 'missing required option: "'),
        ({"size": "1g"}, "quota size requested but no quota support"),
    ],
)
def test_local_options_are_checked_as_docker_checks_them(tmp_path, options, message):
    with pytest.raises(InvalidParameter, match=message):
        LocalDriver(str(tmp_path / "dy-volumes")).create("data", options)


def test_a_bind_typed_volume_shows_the_host_directory(tmp_path):
    host = tmp_path / "dy-host-dir"
    host.mkdir()
    (host / "seen").write_text("from the host")
    driver = LocalDriver(str(tmp_path / "dy-volumes"))
    options = {"type": "none", "device": str(host), "o": "bind"}
    driver.create("hostdir", options)
    try:
        path = driver.mount("hostdir", options, "c1")
        assert os.listdir(path) == ["seen"]
    finally:
        driver.unmount("hostdir", "c1")
    assert not _mounted(driver.path("hostdir")) and os.listdir(driver.path("hostdir")) == []


def test_a_volume_whose_filesystem_cannot_be_mounted_is_not_held(tmp_path):
    driver = LocalDriver(str(tmp_path / "dy-volumes"))
    options = {"type": "none", "device": str(tmp_path / "dy-missing"), "o": "bind"}
    driver.create("broken", options)
    with pytest.raises(OSError):
        driver.mount("broken", options, "c1")
    assert not driver.in_use("broken")
    driver.remove("broken")
