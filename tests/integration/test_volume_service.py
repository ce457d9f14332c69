"""The volume service over the local driver and a real metadata store: docker's volume semantics,
and a container's mounts set up and torn down (copy-up, tmpfs volumes, anonymous volumes)."""

from __future__ import annotations

import os

import pytest

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.kernel.mounts import mount_points_under
from dockyard.metadata.db import Database
from dockyard.services.events import EventBus
from dockyard.services.volumes import VolumeService
from dockyard.volume.mountspec import container_mount_points

TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}


@pytest.fixture
def users() -> dict[str, list[str]]:
    """Which containers refer to which volume: what the container service would say."""
    return {}


@pytest.fixture
def service(tmp_path, users):
    db = Database(str(tmp_path / "metadata.db"))
    volumes = VolumeService(data_root=str(tmp_path / "dy-root"), db=db)
    volumes.events = EventBus()
    volumes.references = lambda: users
    yield volumes
    for record in volumes.records.all():
        for container_id in ("c1", "c2"):
            volumes.driver(record.driver).unmount(record.name, container_id)
    db.close()


def _actions(service: VolumeService) -> list[tuple[str, str]]:
    return [(e["Action"], e["Actor"]["ID"]) for e in service.events.history() if e["Type"] == "volume"]


def test_create_is_idempotent_for_a_name_and_shows_docker_s_fields(service):
    first = service.create("data", "local", {}, {"tier": "db"})
    again = service.create("data", "local", {"ignored": "x"}, {})
    assert again == first
    shown = service.inspect(service.get("data"))
    assert shown["Mountpoint"].endswith("/volumes/data/_data") and os.path.isdir(shown["Mountpoint"])
    assert (shown["Driver"], shown["Scope"], shown["Labels"], shown["Options"]) == ("local", "local", {"tier": "db"},
                                                                                    {})  # fmt: skip
    assert shown["CreatedAt"].endswith("Z")
    assert _actions(service) == [("create", "data")]


def test_a_nameless_create_is_anonymous_with_64_hex(service):
    record = service.create(labels={"a": "b"})
    assert len(record.name) == 64 and not record.name.strip("0123456789abcdef")
    assert record.labels == {"a": "b", "com.docker.volume.anonymous": ""}
    assert service.prune()["VolumesDeleted"] == [record.name]


@pytest.mark.parametrize(
    ("arguments", "kind", "message"),
    [
        (("data", "nosuch"), NotFound, 'create data: error looking up volume plugin nosuch: plugin "nosuch" not found'),
        (("bad/name",), InvalidParameter, "create bad/name: .* includes invalid characters for a local volume name"),
        (("data", "local", {"bogus": "1"}), InvalidParameter, 'create data: invalid option: "bogus"'),
    ],
)
def test_bad_creates_leave_nothing(service, arguments, kind, message):
    with pytest.raises(kind, match=message):
        service.create(*arguments)
    assert service.list() == [] and service.drivers["local"].names() == []


def test_list_filters(service, users):
    service.create("web-data", labels={"tier": "web"})
    service.create("db-data", labels={"tier": "db", "keep": ""})
    users["db-data"] = ["c1"]

    def names(**filters):
        return sorted(v["Name"] for v in service.list(filters))

    assert names() == ["db-data", "web-data"]
    assert names(dangling=["true"]) == ["web-data"]
    assert names(dangling=["0"]) == ["db-data"]
    assert names(name=["web"]) == ["web-data"]
    assert names(label=["tier=db"]) == names(label=["keep"]) == ["db-data"]
    assert names(driver=["local"]) == ["db-data", "web-data"]
    with pytest.raises(InvalidParameter, match="invalid filter 'colour'"):
        service.list({"colour": ["red"]})


def test_a_volume_in_use_is_not_removed_even_with_force(service, users):
    service.create("data")
    users["data"] = ["c1", "c2"]
    with pytest.raises(Conflict, match=r"remove data: volume is in use - \[c1, c2\]"):
        service.remove("data", force=True)
    users.clear()
    service.remove("data")
    assert not os.path.exists(service.drivers["local"].path("data"))
    with pytest.raises(NotFound, match="get data: no such volume"):
        service.remove("data")
    service.remove("data", force=True)  # force forgives a missing volume
    assert _actions(service)[-1] == ("destroy", "data")


def test_prune_takes_unused_anonymous_volumes_unless_asked_for_all(service, users):
    service.create("named")
    anonymous = service.attach("c1", container_mount_points({}, {"Binds": ["/a", "/b"]}, {}))
    service.settle("c1", keep=True)
    a, b = (point.name for point in anonymous)
    with open(os.path.join(service.drivers["local"].path(a), "blob"), "wb") as f:
        f.write(b"x" * 200_000)
    expected = service.drivers["local"].usage(a) + service.drivers["local"].usage(b)
    users[b] = ["c1"]
    pruned = service.prune({})
    assert pruned == {"VolumesDeleted": [a], "SpaceReclaimed": expected - service.drivers["local"].usage(b)}
    assert pruned["SpaceReclaimed"] >= 200_000
    assert service.prune({"all": ["true"], "label!": ["keep"]})["VolumesDeleted"] == ["named"]
    users.clear()
    assert service.prune({}, anonymous_only=False)["VolumesDeleted"] == [b]


def test_a_bad_spec_among_good_ones_creates_no_volume(service):
    points = container_mount_points(
        {}, {"Binds": ["first:/a"], "Mounts": [{"Type": "volume", "Source": "second", "Target": "/b",
                                                "VolumeOptions": {"DriverConfig": {"Options": {"bogus": "1"}}}}]},
        {},
    )  # fmt: skip
    with pytest.raises(InvalidParameter, match='invalid option: "bogus"'):
        service.attach("c1", points)
    assert service.list() == [] and service.drivers["local"].names() == []


def test_an_abandoned_create_removes_only_the_volumes_it_made(service):
    service.create("existing")
    points = service.attach("c1", container_mount_points({}, {"Binds": ["existing:/a", "fresh:/b", "/c"]}, {}))
    assert [p.name for p in points][:2] == ["existing", "fresh"] and all(p.source for p in points)
    with pytest.raises(Conflict):
        service.remove("fresh")  # held for the container being created
    service.settle("c1", keep=False)
    assert [v["Name"] for v in service.list()] == ["existing"]


def test_populate_copies_the_image_s_files_into_an_empty_volume_keeping_owners(service, tmp_path):
    rootfs = tmp_path / "dy-rootfs"
    (rootfs / "srv" / "sub").mkdir(parents=True)
    (rootfs / "srv" / "sub" / "file").write_text("from the image")
    os.chown(rootfs / "srv" / "sub" / "file", 1234, 5678)
    os.chmod(rootfs / "srv" / "sub", 0o710)
    os.chmod(rootfs / "srv", 0o750)
    points = service.attach("c1", container_mount_points({}, {"Binds": ["data:/srv", "skip:/srv/sub:nocopy"]}, {}))
    service.settle("c1", keep=True)
    service.populate("c1", points, str(rootfs))
    data = service.drivers["local"].path("data")
    copied = os.stat(os.path.join(data, "sub", "file"))
    assert (copied.st_uid, copied.st_gid) == (1234, 5678)
    assert oct(os.stat(data).st_mode & 0o777) == "0o750"
    assert oct(os.stat(os.path.join(data, "sub")).st_mode & 0o777) == "0o710"
    assert os.listdir(service.drivers["local"].path("skip")) == []  # nocopy
    assert not service.drivers["local"].in_use("data")  # mounted for the copy only
    # Not empty any more: the next container's create copies nothing over what is there.
    (rootfs / "srv" / "new").write_text("x")
    service.populate("c2", points, str(rootfs))
    assert "new" not in os.listdir(data)


def test_setup_mounts_volumes_parents_first_and_teardown_gives_them_back(service, tmp_path):
    points = service.attach("c1", container_mount_points({}, {"Binds": ["data:/srv", "inner:/srv/sub:ro"]}, {}))
    service.settle("c1", keep=True)
    (tmp_path / "dy-rootfs").mkdir()
    mounts = service.setup_mounts("c1", points, str(tmp_path / "dy-rootfs"))
    data, inner = (service.drivers["local"].path(name) for name in ("data", "inner"))
    assert mounts == [
        {"destination": "/srv", "type": "bind", "source": data, "options": ["rbind", "rw", "rprivate"]},
        {"destination": "/srv/sub", "type": "bind", "source": inner, "options": ["rbind", "ro", "rprivate"]},
    ]
    assert service.drivers["local"].in_use("data")
    service.teardown_mounts("c1", points)
    assert not service.drivers["local"].in_use("data")
    mount_events = [e["Actor"]["Attributes"] for e in service.events.history() if e["Action"] == "mount"]
    assert mount_events[1] == {"driver": "local", "container": "c1", "destination": "/srv/sub", "read/write": "false",
                               "propagation": ""}  # fmt: skip
    assert [a for a, _ in _actions(service)].count("unmount") == 2


def test_a_tmpfs_volume_is_mounted_while_a_container_uses_it(service, tmp_path):
    service.create("scratch", "local", TMPFS)
    path = service.drivers["local"].path("scratch")
    points = service.attach("c1", container_mount_points({}, {"Binds": ["scratch:/t"]}, {}))
    service.settle("c1", keep=True)
    (tmp_path / "dy-rootfs").mkdir()
    service.setup_mounts("c1", points, str(tmp_path / "dy-rootfs"))
    assert os.path.realpath(path) in mount_points_under(path)
    with pytest.raises(Conflict):
        service.remove("scratch")
    service.teardown_mounts("c1", points)
    assert mount_points_under(path) == []
    service.remove("scratch")


def test_a_bind_from_v_creates_its_missing_source(service, tmp_path):
    source = tmp_path / "dy-host" / "made"
    points = service.attach("c1", container_mount_points({}, {"Binds": [f"{source}:/h:ro"]}, {}))
    (tmp_path / "dy-rootfs").mkdir()
    mounts = service.setup_mounts("c1", points, str(tmp_path / "dy-rootfs"))
    assert source.is_dir()
    assert mounts == [{"destination": "/h", "type": "bind", "source": str(source), "options": ["rbind", "ro",
                                                                                              "rprivate"]}]  # fmt: skip


def test_release_removes_anonymous_volumes_only(service, users):
    points = service.attach("c1", container_mount_points({}, {"Binds": ["named:/a", "/b"]}, {"Volumes": {"/c": {}}}))
    service.settle("c1", keep=True)
    service.release(points, remove_anonymous=False)
    assert len(service.list()) == 3
    shared = points[2].name
    users[shared] = ["c2"]  # another container uses it too (--volumes-from): it stays
    service.release(points, remove_anonymous=True)
    assert sorted(v["Name"] for v in service.list()) == sorted(["named", shared])


def test_repair_removes_directories_without_a_record(service):
    service.create("kept")
    service.drivers["local"].create("orphan", {})
    assert service.repair() == ["orphan"]
    assert service.drivers["local"].names() == ["kept"]
