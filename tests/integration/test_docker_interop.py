"""Images move between Dockyard and a real docker (dockerd 20.10 from Debian) with their IDs intact.

tests/data/docker holds a `docker save` made by real docker (see its README):
it loads here with docker's image IDs, config and filesystem. The live tests
use the session's private dockerd (tests/support/dockerd.py): what Dockyard
saves, docker loads with the same IDs, and the other way round.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.services.images import ImageService
from support.images import TestImage, directory, docker20_archive, file, layer

DATA = Path(__file__).resolve().parents[1] / "data" / "docker"
FIXTURES = json.loads((DATA / "fixtures.json").read_text())


@pytest.fixture
def images(tmp_path):
    service = ImageService.open(str(tmp_path / "dy-root"))
    yield service
    service.close()


def load_fixture(images: ImageService) -> list[str]:
    with open(DATA / "images.tar.gz", "rb") as f:
        return images.load(f)


def test_a_docker_save_loads_with_docker_s_image_ids(images):
    assert sorted(load_fixture(images)) == ["Loaded image: dy-fixture/app:1", "Loaded image: dy-fixture/base:1"]
    for name, expected in FIXTURES["images"].items():
        inspected = images.inspect(name)
        assert inspected["Id"] == expected["id"]
        assert inspected["RootFS"]["Layers"] == expected["diff_ids"]


@pytest.mark.parametrize("name", ["base", "app"])
def test_inspect_agrees_with_docker_s_own(images, name):
    load_fixture(images)
    theirs = json.loads((DATA / f"inspect-{name}.json").read_text())[0]
    ours = images.inspect(f"dy-fixture/{name}:1")
    for key in ("Id", "RepoTags", "Comment", "Created", "Author", "Architecture", "Os", "RootFS", "Size"):
        assert ours[key] == theirs[key], key
    for key, value in theirs["Config"].items():
        if key in ours["Config"]:
            assert ours["Config"][key] == value, key
    assert images.history(f"dy-fixture/{name}:1")[0]["Id"] == theirs["Id"]


def test_the_filesystem_is_the_one_docker_exports(images):
    load_fixture(images)
    images.create_rootfs("c-fixture", "dy-fixture/app:1")
    try:
        out = io.BytesIO()
        images.export("c-fixture", out)
    finally:
        images.remove_rootfs("c-fixture")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        ours = {member.name.rstrip("/"): member for member in tar.getmembers()}
    # docker's export adds the init layer it mounts into every container (.dockerenv, /etc/hosts...).
    theirs = {entry["path"]: entry for entry in FIXTURES["images"]["dy-fixture/app:1"]["export"]}
    image_paths = {path for path, entry in theirs.items() if not entry["init_layer"]}
    ours_paths = {path for path in ours if path not in theirs or not theirs[path]["init_layer"]}
    assert ours_paths == image_paths
    for path in image_paths:
        entry, member = theirs[path], ours[path]
        kind = {"file": member.isreg(), "dir": member.isdir(), "symlink": member.issym(), "hardlink": member.islnk()}
        assert kind.get(entry["type"], True), path
        assert (member.mode & 0o7777, member.uid, member.gid) == (int(entry["mode"], 8), entry["uid"], entry["gid"]), (
            path
        )
        if entry["type"] == "symlink":
            assert member.linkname == entry["link"], path


def test_what_dockyard_saves_loads_into_docker_with_the_same_ids(images, dockerd, tmp_path):
    made = TestImage(
        [
            layer(directory("etc"), file("etc/motd", b"made by dockyard\n")),
            layer(directory("etc"), file("etc/.wh.motd")),
        ],
        tags=["dy-interop/ours:1"],
        gzip_layers=True,
    )
    images.load(io.BytesIO(docker20_archive([made])))
    load_fixture(images)
    archive = tmp_path / "dy-saved.tar"
    with open(archive, "wb") as out:
        images.save(["dy-interop/ours:1", "dy-fixture/app:1"], out)
    try:
        loaded = dockerd.docker("load", "-i", str(archive)).stdout
        assert "Loaded image: dy-interop/ours:1" in loaded and "Loaded image: dy-fixture/app:1" in loaded
        for name in ("dy-interop/ours:1", "dy-fixture/app:1"):
            theirs = json.loads(dockerd.docker("image", "inspect", name).stdout)[0]
            ours = images.inspect(name)
            assert (theirs["Id"], theirs["RootFS"]["Layers"]) == (ours["Id"], ours["RootFS"]["Layers"])
    finally:
        dockerd.docker("rmi", "-f", "dy-interop/ours:1", "dy-fixture/app:1", check=False)


def test_what_docker_saves_now_loads_into_dockyard_with_the_same_ids(images, dockerd, tmp_path):
    with open(DATA / "images.tar.gz", "rb") as f:
        dockerd.docker("load", input=f.read(), text=False)
    try:
        dockerd.docker("tag", "dy-fixture/base:1", "dy-interop/retagged:2")
        archive = tmp_path / "dy-docker-saved.tar"
        dockerd.docker("save", "-o", str(archive), "dy-interop/retagged:2", "dy-fixture/app:1")
        with open(archive, "rb") as f:
            messages = images.load(f)
        assert sorted(messages) == ["Loaded image: dy-fixture/app:1", "Loaded image: dy-interop/retagged:2"]
        for name in ("dy-interop/retagged:2", "dy-fixture/app:1"):
            theirs = json.loads(dockerd.docker("image", "inspect", name).stdout)[0]
            assert images.get(name).id == theirs["Id"]
        # Back again: Dockyard's save of docker's images loads into docker unchanged.
        again = tmp_path / "dy-again.tar"
        with open(again, "wb") as out:
            images.save(["dy-fixture/app:1"], out)
        dockerd.docker("rmi", "-f", "dy-fixture/app:1")
        assert "Loaded image: dy-fixture/app:1" in dockerd.docker("load", "-i", str(again)).stdout
        assert (
            json.loads(dockerd.docker("image", "inspect", "dy-fixture/app:1").stdout)[0]["Id"]
            == images.get("dy-fixture/app:1").id
        )
    finally:
        dockerd.docker("rmi", "-f", "dy-interop/retagged:2", "dy-fixture/base:1", "dy-fixture/app:1", check=False)
    assert os.path.exists(archive)
