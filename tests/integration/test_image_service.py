"""The image service on a real data root: load, save, inspect, list, tag, rm, prune, import, commit, export.

Images are made in memory (tests/support/images.py) in every shape docker and
OCI tools write; containers' filesystems are real overlay snapshots, and the
commit test runs a real container on one.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile

import pytest

from dockyard.errors import Conflict, InvalidParameter, NotFound, Unavailable, Unsupported
from dockyard.kernel.mounts import mount_all, unmount_all
from dockyard.runtime.defaults import default_spec
from dockyard.services.images import ImageService
from support.bundles import Bundle
from support.images import (
    TestImage,
    digest,
    directory,
    docker20_archive,
    docker25_archive,
    file,
    layer,
    oci_layout_archive,
    symlink,
)
from support.swagger import validate

BASE = layer(
    directory("etc"),
    file("etc/os-release", b"ID=test\n"),
    file("etc/shadow", b"root:*:1::::::\n", mode=0o600),
    directory("opt"),
    file("opt/old-1", b"one"),
    file("opt/old-2", b"two"),
    directory("bin"),
    file("bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755),
    symlink("bin/alias", "tool"),
)
# Deletes /etc/shadow, makes /opt opaque with new content, adds a file owned by 1000.
TOP = layer(
    directory("etc"),
    file("etc/.wh.shadow"),
    directory("opt"),
    file("opt/.wh..wh..opq"),
    file("opt/new", b"new"),
    directory("home"),
    file("home/user.txt", b"mine", uid=1000, gid=1000),
)


@pytest.fixture(params=["overlay", "native"])
def images(request, tmp_path):
    service = ImageService.open(str(tmp_path / "dy-root"), snapshotter=request.param)
    yield service
    service.close()


@pytest.fixture
def overlay_images(tmp_path):
    service = ImageService.open(str(tmp_path / "dy-root"))
    yield service
    service.close()


def app_image(**kwargs) -> TestImage:
    return TestImage([BASE, TOP], tags=["app:1"], config={"Cmd": ["/bin/tool"], "Labels": {"tier": "web"}}, **kwargs)


def load(service: ImageService, data: bytes) -> list[str]:
    return service.load(io.BytesIO(data))


@pytest.fixture
def mounted(tmp_path):
    """mounted(mounts) -> a directory showing them; unmounted at the end of the test."""
    targets = []

    def mount(mounts):
        target = str(tmp_path / f"dy-mnt-{len(targets)}")
        os.mkdir(target)
        mount_all(mounts, target)
        targets.append(target)
        return target

    yield mount
    for target in targets:
        unmount_all(target)


def listing(root: str) -> set[str]:
    found = set()
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(base, name), root))
    return found


# -- load and what a container sees ----------------------------------------------------


@pytest.mark.parametrize("shape", [docker20_archive, docker25_archive, oci_layout_archive])
def test_a_loaded_image_keeps_docker_s_id_and_shows_its_layers_to_a_container(images, mounted, shape):
    image = app_image(gzip_layers=shape is not docker20_archive)
    assert load(images, shape([image])) == ["Loaded image: app:1"]
    assert images.get("app:1").id == image.id
    assert images.get(image.id.removeprefix("sha256:")[:10]).id == image.id
    _, mounts = images.create_rootfs("c1", "app:1")
    try:
        root = mounted(mounts)
        assert not os.path.exists(f"{root}/etc/shadow")  # the whiteout hides the lower file
        assert sorted(os.listdir(f"{root}/opt")) == ["new"]  # the opaque directory hides all lower content
        assert os.readlink(f"{root}/bin/alias") == "tool"
        assert os.stat(f"{root}/home/user.txt").st_uid == 1000
        with open(f"{root}/etc/os-release") as f:
            assert f.read() == "ID=test\n"
    finally:
        unmount_all(root)
        images.remove_rootfs("c1")


def test_inspect_and_list_have_the_engine_api_shape(images):
    load(images, docker20_archive([app_image()]))
    inspected = images.inspect("app:1")
    assert inspected["RepoTags"] == ["app:1"]
    assert inspected["RootFS"]["Layers"] == [digest(BASE), digest(TOP)]
    assert inspected["Config"]["Cmd"] == ["/bin/tool"]
    # docker's size: file contents and symlink targets ("tool"), directories not counted.
    assert inspected["Size"] == len("ID=test\nroot:*:1::::::\nonetwo#!/bin/sh\necho tool\nnewmine" + "tool")
    # The API layer drops what a version does not have: Parent/DockerVersion after 1.44, Descriptor before 1.48.
    validate({k: v for k, v in inspected.items() if k not in ("Parent", "DockerVersion")}, "ImageInspect")
    validate({k: v for k, v in inspected.items() if k != "Descriptor"}, "ImageInspect", version="1.44")
    (summary,) = images.list()
    validate(summary, "ImageSummary")
    assert (summary["Id"], summary["Labels"], summary["Containers"]) == (inspected["Id"], {"tier": "web"}, 0)


def test_history_is_newest_first_with_layer_sizes(images):
    load(images, docker20_archive([app_image()]))
    history = images.history("app:1")
    assert [entry["CreatedBy"] for entry in history] == ["layer 1", "layer 0"]
    assert history[0]["Id"] == app_image().id and history[0]["Tags"] == ["app:1"]
    assert history[1]["Id"] == "<missing>"
    assert history[0]["Size"] == len("newmine")


def test_save_load_save_gives_the_same_archive(tmp_path, images):
    load(images, docker25_archive([app_image(gzip_layers=True), TestImage([BASE], tags=["base:1"])]))
    first = io.BytesIO()
    images.save(["app:1", "base:1"], first)
    other = ImageService.open(str(tmp_path / "dy-other"))
    try:
        assert sorted(load(other, first.getvalue())) == ["Loaded image: app:1", "Loaded image: base:1"]
        second = io.BytesIO()
        other.save(["app:1", "base:1"], second)
    finally:
        other.close()
    assert first.getvalue() == second.getvalue()


def test_loading_a_tag_that_exists_moves_it_and_leaves_the_old_image_dangling(images):
    load(images, docker20_archive([TestImage([BASE], tags=["app:1"])]))
    old = images.get("app:1").id
    messages = load(images, docker20_archive([app_image()]))
    assert messages[0] == f"The image app:1 already exists, renaming the old one with ID {old} to empty string"
    assert [s["Id"] for s in images.list({"dangling": ["true"]})] == [old]


# -- names and filters ---------------------------------------------------------------------


def test_list_filters(images):
    load(images, docker20_archive([app_image(), TestImage([BASE], tags=["base:1"], created="2020-01-01T00:00:00Z")]))
    ids = lambda **filters: [s["RepoTags"] for s in images.list(filters)]  # noqa: E731
    assert ids(reference=["app"]) == [["app:1"]]
    assert ids(reference=["ba*:1"]) == [["base:1"]]
    assert ids(label=["tier=web"]) == [["app:1"]]
    assert ids(label=["tier=db"]) == []
    assert ids(since=["base:1"]) == [["app:1"]]
    assert ids(before=["app:1"]) == [["base:1"]]
    assert ids(dangling=["false"]) == [["app:1"], ["base:1"]]
    with pytest.raises(InvalidParameter, match="invalid filter 'colour'"):
        images.list({"colour": ["red"]})


def test_an_unknown_image_is_no_such_image(images):
    for name in ("nothing:here", "sha256:" + "0" * 64, "0123abc"):
        with pytest.raises(NotFound, match=f"No such image: {name}"):
            images.get(name)
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        images.get("Bad Name!")


def test_tag_and_untag(images):
    load(images, docker20_archive([app_image()]))
    images.tag("app:1", "localhost:5000/team/app:v2")
    assert images.inspect("app:1")["RepoTags"] == ["app:1", "localhost:5000/team/app:v2"]
    assert images.remove("localhost:5000/team/app:v2") == [{"Untagged": "localhost:5000/team/app:v2"}]
    assert images.get("app:1")
    with pytest.raises(InvalidParameter):
        images.tag("app:1", "app@sha256:" + "a" * 64)


# -- rm and prune ------------------------------------------------------------------------


def test_rm_by_id_of_an_image_with_two_names_must_be_forced(images):
    load(images, docker20_archive([app_image()]))
    images.tag("app:1", "app:2")
    image_id = images.get("app:1").id
    with pytest.raises(Conflict, match=r"unable to delete \w{12} \(must be forced\) - image is referenced in multiple"):
        images.remove(image_id)
    records = images.remove(image_id, force=True)
    assert records == [{"Untagged": "app:1"}, {"Untagged": "app:2"}, {"Deleted": image_id}]


def test_rm_of_an_image_a_container_uses(images):
    load(images, docker20_archive([app_image()]))
    images.create_rootfs("stopped1", "app:1")
    with pytest.raises(Conflict, match='unable to remove repository reference "app:1" \\(must force\\) - container'):
        images.remove("app:1")
    # Forced, docker deletes it anyway: a stopped container is a soft conflict. The
    # container's layers stay, since its own snapshot stands on them.
    image_id = app_image().id
    chain = images.get("app:1").chain_ids
    assert images.remove("app:1", force=True) == [{"Untagged": "app:1"}, {"Deleted": image_id}]
    assert {info.key for info in images.snapshotter.walk()} == {*chain, "init-stopped1", "container-stopped1"}
    images.remove_rootfs("stopped1")
    images.collect()
    assert list(images.snapshotter.walk()) == []


def test_an_image_a_running_container_uses_cannot_be_forced_out(tmp_path):
    service = ImageService.open(str(tmp_path / "dy-root"), running=lambda container_id: True)
    try:
        load(service, docker20_archive([TestImage([BASE])]))
        image_id = TestImage([BASE]).id
        service.create_rootfs("busy", image_id)
        with pytest.raises(Conflict, match="cannot be forced\\) - image is being used by running container busy"):
            service.remove(image_id, force=True)
        service.remove_rootfs("busy")
    finally:
        service.close()


def test_rm_deletes_the_layers_and_blobs_no_other_image_needs(images):
    load(images, docker20_archive([app_image(), TestImage([BASE], tags=["base:1"])]))
    images.remove("app:1")
    assert [info.key for info in images.snapshotter.walk()] == [digest(BASE)]
    image = images.get("base:1")
    kept = {image.record.target, image.manifest.config.digest, digest(BASE)}
    assert {blob.digest for blob in images.content.walk()} == kept
    images.remove("base:1")
    assert list(images.snapshotter.walk()) == [] and list(images.content.walk()) == []


def du(path: str) -> int:
    return int(subprocess.run(["du", "-s", "-B1", path], capture_output=True, text=True, check=True).stdout.split()[0])


def test_prune_frees_what_it_says_it_frees(images):
    load(images, docker20_archive([TestImage([BASE], tags=["app:1"])]))
    load(images, docker20_archive([app_image()]))  # app:1 moves: the first image is dangling
    load(images, docker20_archive([TestImage([TOP], tags=["kept:1"])]))
    before = du(images.root)
    report = images.prune()
    freed = before - du(images.root)
    assert report["ImagesDeleted"] == [{"Deleted": TestImage([BASE], tags=["app:1"]).id}]
    # Only the dangling image's config and manifest go: its layer is app:1's bottom layer too.
    assert report["SpaceReclaimed"] > 0
    assert abs(freed - report["SpaceReclaimed"]) <= 16384  # du counts directories and the db, not only blobs
    everything = images.prune({"dangling": ["false"]})
    assert {"Untagged": "kept:1"} in everything["ImagesDeleted"]
    assert images.list() == []


# -- import, commit, export ------------------------------------------------------------


def test_import_makes_a_one_layer_image_with_changes_and_message(images, mounted):
    rootfs = gzip.compress(layer(directory("srv"), file("srv/index.html", b"<h1>hi</h1>")))
    image = images.import_image(
        io.BytesIO(rootfs),
        name="imported:1",
        changes=["CMD /srv/start", "ENV MODE=prod", "EXPOSE 8080"],
        message="from a test",
    )
    inspected = images.inspect("imported:1")
    assert inspected["Id"] == image.id
    assert inspected["Comment"] == "from a test"
    assert inspected["Config"]["Cmd"] == ["/bin/sh", "-c", "/srv/start"]
    assert inspected["Config"]["Env"] == ["MODE=prod"] and inspected["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert inspected["RootFS"]["Layers"] == [digest(gzip.decompress(rootfs))]
    assert images.history("imported:1")[0]["Comment"] == "from a test"
    _, mounts = images.create_rootfs("c-import", "imported:1")
    with open(f"{mounted(mounts)}/srv/index.html") as f:
        assert f.read() == "<h1>hi</h1>"


def test_bad_input_leaves_nothing_in_the_store(images):
    for garbage in (b"\x1f\x8b" + b"not really gzip" * 100, b"plain garbage, no tar" * 100):
        with pytest.raises(InvalidParameter):
            images.import_image(io.BytesIO(garbage))
        assert list(images.content.walk()) == [] and list(images.snapshotter.walk()) == []
    # A config whose diffID does not match its layer: the load fails after unpacking the first layer.
    lying = TestImage([BASE, TOP], tags=["liar:1"])
    data = docker25_archive([lying]).replace(digest(TOP).encode()[7:], b"0" * 64)
    with pytest.raises(InvalidParameter):
        load(images, data)
    truncated = docker20_archive([app_image()])
    with pytest.raises(InvalidParameter):
        load(images, truncated[: len(truncated) // 2])
    assert images.list() == [] and list(images.content.walk()) == [] and list(images.snapshotter.walk()) == []


def test_a_layer_whose_content_lies_about_its_diff_id_is_refused(images):
    image = app_image()
    image.config = image.config.replace(digest(TOP).encode(), digest(BASE).encode())  # the config lies
    with pytest.raises(InvalidParameter, match="its content has diffID"):
        load(images, docker20_archive([image]))
    assert list(images.content.walk()) == [] and list(images.snapshotter.walk()) == []


def test_export_is_the_container_s_whole_filesystem(images):
    load(images, docker20_archive([app_image()]))
    images.create_rootfs("c-export", "app:1")
    out = io.BytesIO()
    images.export("c-export", out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = set(tar.getnames())
    assert {"etc/os-release", "opt/new", "home/user.txt", "bin/alias"} <= names
    assert "etc/shadow" not in names and "opt/old-1" not in names
    assert not any(".wh." in name for name in names)
    images.remove_rootfs("c-export")


def test_commit_of_a_real_container_makes_a_layer_of_exactly_its_changes(overlay_images, busybox_rootfs, tmp_path, run):
    images = overlay_images
    images.import_image(io.BytesIO(_tar_of_tree(busybox_rootfs)), name="busybox:test")
    _, mounts = images.create_rootfs("c-commit", "busybox:test")
    config = default_spec(["sh", "-c", "echo hello > /etc/greeting && rm /bin/ls && mkdir -p /var/new"])
    config["process"]["terminal"] = False
    config["root"]["readonly"] = False
    bundle = Bundle(str(tmp_path / "dy-bundle"), config)
    config["linux"]["cgroupsPath"] = f"/dy-test/{bundle.id}"
    os.makedirs(bundle.rootfs)
    try:
        mount_all(mounts, bundle.rootfs)
        try:
            assert run(bundle)[0] == 0
        finally:
            unmount_all(bundle.rootfs)
        assert sorted(images.container_changes("c-commit")) == [
            ("A", "/etc/greeting"),
            ("A", "/var/new"),
            ("C", "/bin"),
            ("C", "/etc"),
            ("C", "/var"),
            ("D", "/bin/ls"),
        ]
        committed = images.commit(
            "c-commit", container_config={"Cmd": ["sh"]}, name="committed:1", changes=["USER nobody"], comment="c"
        )
    finally:
        images.remove_rootfs("c-commit")
    inspected = images.inspect("committed:1")
    assert inspected["Parent"] == images.get("busybox:test").id
    assert inspected["Config"]["User"] == "nobody" and inspected["Comment"] == "c"
    assert len(inspected["RootFS"]["Layers"]) == 2
    top = committed.manifest.layers[-1]
    with images.content.open(top.digest) as blob, tarfile.open(fileobj=blob, mode="r|gz") as tar:
        names = sorted(member.name for member in tar)
    assert names == ["bin", "bin/.wh.ls", "etc", "etc/greeting", "var", "var/new"]
    # The parent cannot go while its child exists.
    with pytest.raises(Conflict, match="image has dependent child images"):
        images.remove(images.get("busybox:test").id, force=True)


def _tar_of_tree(root: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name)
    return out.getvalue()


@pytest.fixture
def http_server(tmp_path):
    """A file server on 127.0.0.1 for import URLs; yields (base URL, served directory)."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


def test_import_from_a_url(images, http_server):
    base, served = http_server
    (served / "rootfs.tar.gz").write_bytes(gzip.compress(BASE))
    image = images.import_url(f"{base}/rootfs.tar.gz", name="from-url:1")
    assert images.inspect("from-url:1")["RootFS"]["Layers"] == [digest(BASE)]
    assert images.history(image.id)[0]["Comment"] == f"Imported from {base}/rootfs.tar.gz"
    with pytest.raises(Unavailable, match="404"):
        images.import_url(f"{base}/missing.tar")
    with pytest.raises(InvalidParameter, match="only http and https"):
        images.import_url("file:///etc/passwd")
    assert len(images.list()) == 1


def test_a_truncated_layer_inside_a_whole_archive_is_refused(images):
    image = app_image()
    big = layer(file("big", b"x" * 8000))
    cut = TestImage([BASE, big[:3000]], tags=["cut:1"])  # ends inside the file's data; the diffID is of the cut
    with pytest.raises(InvalidParameter, match=r"truncated|unexpected end"):
        load(images, docker20_archive([cut]))
    assert images.list() == [] and list(images.content.walk()) == [] and list(images.snapshotter.walk()) == []
    assert load(images, docker20_archive([image])) == ["Loaded image: app:1"]


def test_diff_and_commit_on_the_native_snapshotter_say_they_need_overlay(tmp_path):
    service = ImageService.open(str(tmp_path / "dy-root"), snapshotter="native")
    try:
        load(service, docker20_archive([app_image()]))
        service.create_rootfs("c-native", "app:1")
        with pytest.raises(Unsupported, match="needs the overlay snapshotter"):
            service.container_changes("c-native")
        with pytest.raises(Unsupported, match="needs the overlay snapshotter"):
            service.commit("c-native", container_config={})
        assert [s["RepoTags"] for s in service.list()] == [["app:1"]]
        service.remove_rootfs("c-native")
    finally:
        service.close()
