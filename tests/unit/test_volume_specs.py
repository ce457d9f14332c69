"""Volume names and a container's mount requests (-v, --mount, VOLUME) parsed as docker parses them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.volume import names
from dockyard.volume.mountspec import (
    MountPoint,
    container_mount_points,
    inherit,
    oci_mounts,
    parse_bind,
    parse_mount,
    parse_volumes_from,
)


@pytest.mark.parametrize("name", ["data", "my-vol.1", "a_b", "0x", "A1"])
def test_valid_volume_names(name):
    assert names.is_valid(name)
    names.check(name)


@pytest.mark.parametrize("name", ["a", "", "-lead", ".hidden", "has/slash", "sp ace", "col:on", "é"])
def test_invalid_volume_names_get_docker_s_message(name):
    assert not names.is_valid(name)
    with pytest.raises(InvalidParameter, match=r'includes invalid characters for a local volume name, only '
                       r'"\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed'):  # fmt: skip
        names.check(name)


def test_anonymous_names_are_64_hex_digits_and_fresh():
    first, second = names.anonymous(), names.anonymous()
    assert len(first) == 64 and not first.strip("0123456789abcdef") and first != second
    assert names.is_valid(first)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("data:/srv", MountPoint("volume", "/srv", name="data", driver="local", mode="z")),
        ("data:/srv:ro", MountPoint("volume", "/srv", name="data", driver="local", mode="ro", rw=False)),
        ("data:/srv:nocopy", MountPoint("volume", "/srv", name="data", driver="local", mode="nocopy",
                                        copy_data=False)),
        ("/srv", MountPoint("volume", "/srv", driver="local", mode="z", anonymous=True)),
        ("/host/dir/:/srv/./x", MountPoint("bind", "/srv/x", source="/host/dir", propagation="rprivate",
                                           create_source=True)),
        ("/h:/c:ro,rshared", MountPoint("bind", "/c", source="/h", mode="ro,rshared", rw=False,
                                        propagation="rshared", create_source=True)),
        ("/h:/c:z,rw", MountPoint("bind", "/c", source="/h", mode="z,rw", propagation="rprivate",
                                  create_source=True)),
    ],
)  # fmt: skip
def test_binds(spec, expected):
    assert parse_bind(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        ("data::/x", "invalid volume specification: 'data::/x'"),
        ("/srv:ro", "invalid volume specification: '/srv:ro'$"),
        ("data:/x:rshared", "'data:/x:rshared': invalid mount config for type \"volume\": field BindOptions must not"),
        ("data:/x:rw,ro", "invalid mode: rw,ro"),
        ("data:/x:bogus", "invalid mode: bogus"),
        ("/h:/x:nocopy", "invalid mode: nocopy"),
        (
            "data:relative",
            "'data:relative': invalid mount config for type \"volume\": invalid mount path: 'relative' "
            "mount path must be absolute",
        ),
        ("data:/", "destination can't be '/'"),
        ("bad/name:/x", "includes invalid characters for a local volume name"),
    ],
)
def test_bad_binds_are_refused_with_docker_s_words(spec, message):
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(")):
        parse_bind(spec)


_part = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=8)
_names = st.builds(lambda head, tail: head + tail, st.sampled_from("abcXYZ019"), _part)
_paths = st.lists(_part.filter(lambda p: p not in (".", "..")), min_size=1, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
_modes = st.lists(st.sampled_from(["ro", "rw", "nocopy", "z", "Z"]), unique=True, max_size=3)


@given(_names, _paths, _modes)
def test_a_named_volume_spec_round_trips(name, destination, modes):
    access = [m for m in modes if m in ("ro", "rw")][:1]
    label = [m for m in modes if m in ("z", "Z")][:1]
    mode = ",".join([*access, *label, *(m for m in modes if m == "nocopy")])
    point = parse_bind(f"{name}:{destination}" + (f":{mode}" if mode else ""))
    assert (point.type, point.name, point.destination, point.mode) == ("volume", name, destination, mode or "z")
    assert point.rw == ("ro" not in access)
    assert point.copy_data == ("nocopy" not in modes)
    assert MountPoint.from_json(point.to_json()) == point


@given(st.text(max_size=30))
def test_any_bind_spec_parses_or_is_refused_as_a_bad_parameter(spec):
    try:
        point = parse_bind(spec)
    except InvalidParameter:
        return
    assert point.destination.startswith("/") and point.destination != "/"
    assert point.type in ("bind", "volume")


def test_mounts_of_each_type(tmp_path):
    options = {"NoCopy": True, "Labels": {"a": "b"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}
    volume = parse_mount({"Type": "volume", "Source": "vol", "Target": "/data", "ReadOnly": True,
                          "VolumeOptions": options})  # fmt: skip
    assert volume == MountPoint("volume", "/data", name="vol", driver="local", mode="z", rw=False, copy_data=False,
                                driver_options={"type": "tmpfs"}, labels={"a": "b"})  # fmt: skip
    bind = parse_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/h",
                        "BindOptions": {"Propagation": "rslave"}})  # fmt: skip
    assert bind == MountPoint("bind", "/h", source=str(tmp_path), propagation="rslave")
    tmpfs = parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}})
    assert tmpfs.tmpfs_options == ("size=1048576", "mode=1777")
    assert parse_mount({"Type": "volume", "Target": "/anon"}).anonymous


@pytest.mark.parametrize(
    ("mount", "message"),
    [
        ({"Type": "bind", "Target": "/x"}, 'type "bind": field Source must not be empty'),
        ({"Type": "bind", "Source": "/no/such/dir/dy", "Target": "/x"}, "bind source path does not exist"),
        ({"Type": "bind", "Source": "rel", "Target": "/x"}, "invalid mount path: 'rel'"),
        ({"Type": "volume", "Source": "v"}, "field Target must not be empty"),
        ({"Type": "volume", "Target": "/x", "BindOptions": {"Propagation": "shared"}},
         "field BindOptions must not be specified"),
        ({"Type": "tmpfs", "Source": "x", "Target": "/x"}, "field Source must not be specified"),
        ({"Type": "floppy", "Target": "/x"}, "mount type unknown"),
    ],
)  # fmt: skip
def test_bad_mounts_are_refused(mount, message):
    with pytest.raises(InvalidParameter, match=message):
        parse_mount(mount)


def test_a_volume_subpath_stays_inside_the_volume_and_copies_nothing():
    point = parse_mount({"Type": "volume", "Source": "vol", "Target": "/x", "VolumeOptions": {"Subpath": "a/./b/"}})
    assert (point.subpath, point.copy_data) == ("a/b", False)
    for escaping in ("/abs", "../up", "a/../../up"):
        with pytest.raises(InvalidParameter, match="subpath must be a relative path within the volume"):
            parse_mount({"Type": "volume", "Source": "vol", "Target": "/x", "VolumeOptions": {"Subpath": escaping}})


def test_image_and_cluster_mounts_are_not_supported():
    with pytest.raises(Unsupported):
        parse_mount({"Type": "image", "Source": "busybox", "Target": "/x"})


def test_image_volumes_become_anonymous_volumes_where_nothing_else_is_mounted():
    points = container_mount_points(
        {"Volumes": {"/req": {}}},
        {"Binds": ["named:/data"], "VolumeDriver": ""},
        {"Volumes": {"/data": {}, "/cache/": {}, "/req": {}}},
    )
    assert [(p.destination, p.name, p.anonymous) for p in points] == [
        ("/data", "named", False),
        ("/req", "", True),
        ("/cache", "", True),
    ]


def test_two_mounts_on_one_destination_are_refused():
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /data"):
        container_mount_points({}, {"Binds": ["va:/data"], "Mounts": [{"Type": "volume", "Target": "/data/"}]}, {})


def test_oci_mounts_put_parents_first_and_keep_modes():
    points = [
        MountPoint("volume", "/a/b", source="/v/b/_data", name="b", rw=False),
        MountPoint("bind", "/a", source="/host", propagation="rslave"),
        MountPoint("tmpfs", "/t", tmpfs_options=("size=10",)),
    ]
    assert oci_mounts(points) == [
        {"destination": "/a", "type": "bind", "source": "/host", "options": ["rbind", "rw", "rslave"]},
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "rw",
                                                                              "size=10"]},
        {"destination": "/a/b", "type": "bind", "source": "/v/b/_data", "options": ["rbind", "ro", "rprivate"]},
    ]  # fmt: skip


def test_inspect_shape_of_a_volume_and_a_bind():
    volume = MountPoint("volume", "/d", source="/v/n/_data", name="n", driver="local", mode="ro", rw=False)
    assert volume.inspect() == {"Type": "volume", "Name": "n", "Source": "/v/n/_data", "Destination": "/d",
                                "Driver": "local", "Mode": "ro", "RW": False, "Propagation": ""}  # fmt: skip
    bind = MountPoint("bind", "/d", source="/h", propagation="rprivate")
    assert bind.inspect() == {"Type": "bind", "Source": "/h", "Destination": "/d", "Mode": "", "RW": True,
                              "Propagation": "rprivate"}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"), [("web", ("web", None)), ("web:ro", ("web", False)), ("web:rw", ("web", True))]
)
def test_volumes_from_specs(spec, expected):
    assert parse_volumes_from(spec) == expected


@pytest.mark.parametrize("spec", ["web:rx", ":ro", ""])
def test_bad_volumes_from_specs(spec):
    with pytest.raises(InvalidParameter):
        parse_volumes_from(spec)


def test_volumes_from_gives_way_to_the_request_s_own_mounts():
    theirs = [
        MountPoint("volume", "/data", source="/v/d/_data", name="d", driver="local", anonymous=True),
        MountPoint("bind", "/conf", source="/etc/app"),
        MountPoint("tmpfs", "/run/x"),
    ]
    inherited = inherit(theirs, False)
    assert [(p.destination, p.rw) for p in inherited] == [("/data", False), ("/conf", False)]
    points = container_mount_points({}, {"Binds": ["mine:/conf"]}, {"Volumes": {"/data": {}}}, inherited)
    assert [(p.destination, p.name) for p in points] == [("/conf", "mine"), ("/data", "d")]
