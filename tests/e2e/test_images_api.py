"""docker's image verbs against the daemon: the real docker CLI 28 and docker-py, and the swagger's shapes."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import docker.errors
import pytest

from support.cli import CLI, Driven
from support.images import TestImage, digest, directory, docker20_archive, file, layer
from support.swagger import validate

DATA = Path(__file__).resolve().parents[1] / "data" / "docker"
FIXTURES = json.loads((DATA / "fixtures.json").read_text())
APP_ID = FIXTURES["images"]["dy-fixture/app:1"]["id"]


@pytest.fixture(scope="module")
def loaded(daemon):
    out = daemon.docker("load", "-i", str(DATA / "images.tar.gz")).stdout
    assert out.splitlines() == ["Loaded image: dy-fixture/base:1", "Loaded image: dy-fixture/app:1"]
    return daemon


@pytest.fixture(params=["docker", "dockyard"])
def images(request, loaded):
    """The loaded daemon driven by the docker CLI or dockyard's."""
    return Driven(loaded, CLI(request.param, loaded))


def test_images_lists_like_docker(images):
    table = images.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.split("\n")
    assert f"dy-fixture/app:1 {APP_ID[7:19]}" in table
    quiet = images.docker("images", "-q", "--no-trunc", "dy-fixture/app").stdout.split()
    assert quiet == [APP_ID]
    filtered = images.docker("images", "--filter", "label=dy.fixture.stage=app", "--format", "{{.Tag}}").stdout
    assert filtered.split() == ["1"]


def test_inspect_history_and_list_match_the_swagger(images):
    for path, definition, many in (
        ("/v1.50/images/json", "ImageSummary", True),
        ("/v1.50/images/dy-fixture/app:1/json", "ImageInspect", False),
        ("/v1.50/images/dy-fixture/app:1/history", "ImageHistoryResponseItem", True),
    ):
        status, _, body = images.request("GET", path)
        assert status == 200, body
        for document in json.loads(body) if many else [json.loads(body)]:
            validate(document, definition, version="1.50")


def test_older_api_versions_get_their_own_fields(images):
    old = json.loads(images.request("GET", "/v1.41/images/dy-fixture/app:1/json")[2])
    assert "Descriptor" not in old and old["VirtualSize"] == old["Size"]
    new = json.loads(images.request("GET", "/v1.50/images/dy-fixture/app:1/json")[2])
    assert "VirtualSize" not in new and new["Descriptor"]["mediaType"].startswith("application/vnd.oci")


def test_inspect_through_the_cli_agrees_with_docker_s_own(images):
    ours = json.loads(images.docker("image", "inspect", "dy-fixture/app:1").stdout)[0]
    theirs = json.loads((DATA / "inspect-app.json").read_text())[0]
    for key in ("Id", "RepoTags", "Created", "Architecture", "Os", "RootFS", "Size"):
        assert ours[key] == theirs[key], key
    assert (
        images.docker("inspect", "--format", "{{.Config.WorkingDir}}", "dy-fixture/app:1").stdout.strip()
        == (theirs["Config"]["WorkingDir"])
    )
    history = images.docker("history", "-q", "dy-fixture/app:1").stdout.split()
    assert history[0] == APP_ID[7:19] and set(history[1:]) == {"<missing>"}


def test_tag_and_rmi(images):
    images.docker("tag", "dy-fixture/base:1", "localhost:5000/team/base:v2")
    assert images.docker("rmi", "localhost:5000/team/base:v2").stdout.strip() == "Untagged: localhost:5000/team/base:v2"
    missing = images.docker("rmi", "nosuch:1", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error response from daemon: No such image: nosuch:1"
    bad = images.docker("tag", "dy-fixture/base:1", "Bad:Name", check=False)
    assert bad.returncode == 1 and "invalid reference format" in bad.stderr


def test_rmi_by_id_of_a_twice_named_image_must_be_forced(images):
    images.docker("tag", "dy-fixture/base:1", "dy-fixture/base:other")
    base_id = FIXTURES["images"]["dy-fixture/base:1"]["id"]
    refused = images.docker("rmi", base_id[7:19], check=False)
    assert refused.returncode == 1
    assert "(must be forced) - image is referenced in multiple repositories" in refused.stderr
    images.docker("rmi", "dy-fixture/base:other")


def test_save_gives_an_archive_docker_and_oci_tools_read(images, tmp_path):
    out = tmp_path / "saved.tar"
    images.docker("save", "-o", str(out), "dy-fixture/app:1")
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"index.json", "oci-layout", "manifest.json", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["dy-fixture/app:1"]
    missing = images.docker("save", "-o", str(tmp_path / "none.tar"), "nosuch:1", check=False)
    assert missing.returncode == 1 and "No such image: nosuch:1" in missing.stderr


def test_import_from_stdin_with_changes_and_a_message(images):
    rootfs = gzip.compress(layer(directory("srv"), file("srv/hello.txt", b"hello")))
    result = images.docker(
        "import", "--change", "ENV MODE=test", "--change", 'CMD ["/srv/run"]', "-m", "imported in a test", "-",
        "dy-imported:1", input=rootfs, text=False,
    )  # fmt: skip
    image_id = result.stdout.decode().strip()
    inspected = json.loads(images.docker("image", "inspect", "dy-imported:1").stdout)[0]
    assert inspected["Id"] == image_id and inspected["Comment"] == "imported in a test"
    assert inspected["Config"]["Env"] == ["MODE=test"] and inspected["Config"]["Cmd"] == ["/srv/run"]
    assert inspected["RootFS"]["Layers"] == [digest(gzip.decompress(rootfs))]
    bad = images.docker("import", "-", "dy-broken:1", input=b"not a tarball" * 100, text=False, check=False)
    assert bad.returncode == 1 and b"Error response from daemon" in bad.stderr
    assert images.docker("images", "-q", "dy-broken").stdout == ""
    images.docker("rmi", "dy-imported:1")


def test_docker_py_high_level_images(images):
    client = images.client()
    try:
        made = TestImage([layer(directory("etc"), file("etc/motd", b"from docker-py"))], tags=["dy-py/made:1"])
        (image,) = client.images.load(docker20_archive([made]))
        assert image.id == made.id and image.tags == ["dy-py/made:1"]
        assert client.images.get("dy-py/made:1").attrs["RootFS"]["Layers"] == made.diff_ids
        assert "dy-py/made:1" in [tag for i in client.images.list() for tag in i.tags]
        image.tag("dy-py/made", "2")
        saved = b"".join(client.images.get("dy-py/made:2").save(named="dy-py/made:2"))
        with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
            assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == ["dy-py/made:2"]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("dy-py/nothing:1")
        client.images.remove("dy-py/made:1")
        client.images.remove("dy-py/made:2")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(made.id)
    finally:
        client.close()


def test_prune_all_unused(loaded):  # the API alone: once
    report = json.loads(
        loaded.request("POST", "/v1.50/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D")[2]
    )
    assert {"Untagged": "dy-fixture/app:1"} in report["ImagesDeleted"]
    assert report["SpaceReclaimed"] > 0
    assert loaded.docker("images", "-q").stdout == ""
