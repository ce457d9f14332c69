"""The daemon's defaults for containers: read from flags or daemon.json as dockerd reads them, refused by
name when bad, and always behind a container's own setting."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dockyard.daemon import config
from dockyard.errors import InvalidParameter
from dockyard.services.container_defaults import ContainerDefaults


def _load(tmp_path, *flags: str, file: dict | None = None) -> config.DaemonConfig:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "daemon.json"
    if file is not None:
        path.write_text(json.dumps(file))
    return config.load(["--config-file", str(path), *flags])


def test_flags_and_daemon_json_give_the_same_defaults(tmp_path):
    from_flags = _load(
        tmp_path, "--dns", "10.9.0.1", "--dns", "10.9.0.2", "--dns-opt", "ndots:2", "--dns-search", "corp.example",
        "--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=512", "--default-shm-size", "128M",
        "--init", "--no-new-privileges", "--cgroup-parent", "dy-parent", "--label", "zone=a", "--debug",
        "--experimental", "--default-cgroupns-mode", "private",
    )  # fmt: skip
    from_file = _load(
        tmp_path / "file",
        file={
            "dns": ["10.9.0.1", "10.9.0.2"], "dns-opts": ["ndots:2"], "dns-search": ["corp.example"],
            "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048},
                                "nproc": {"Soft": 512, "Hard": 512}},
            "default-shm-size": "128M", "init": True, "no-new-privileges": True, "cgroup-parent": "dy-parent",
            "labels": ["zone=a"], "debug": True, "experimental": True, "default-cgroupns-mode": "private",
        },
    )  # fmt: skip
    expected = ContainerDefaults(
        dns=("10.9.0.1", "10.9.0.2"), dns_options=("ndots:2",), dns_search=("corp.example",),
        ulimits=({"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "nproc", "Soft": 512, "Hard": 512}),
        shm_size=128 << 20, init=True, no_new_privileges=True, cgroup_parent="dy-parent", cgroupns_mode="private",
    )  # fmt: skip
    for loaded in (from_flags, from_file):
        assert loaded.container_defaults == replace(expected, cgroup_v2=loaded.container_defaults.cgroup_v2)
        assert (loaded.labels, loaded.debug, loaded.experimental, loaded.log_level) == (["zone=a"], True, True, "debug")


def test_without_directives_containers_get_docker_s_defaults(tmp_path):
    loaded = _load(tmp_path).container_defaults
    v2 = loaded.cgroup_v2  # dockerd's default cgroup namespace: private on cgroup v2, else the host's
    assert loaded == ContainerDefaults(cgroupns_mode="private" if v2 else "host", cgroup_v2=v2)


@pytest.mark.parametrize(
    ("flags", "file", "message"),
    [
        (["--dns", "resolver.local"], None, "invalid dns: IP address is not correctly formatted: resolver.local"),
        ([], {"dns": "10.0.0.1"}, "invalid dns: expected a list of strings"),
        (["--dns-search", "bad_name.example"], None, "invalid dns-search: bad_name.example is not a valid domain"),
        (["--dns-search", "1234"], None, "invalid dns-search: 1234 is not a valid domain"),
        (["--default-ulimit", "nofile"], None, "invalid default-ulimits: invalid ulimit argument: nofile"),
        (["--default-ulimit", "nofile=1:2:3"], None, "invalid default-ulimits: too many limit value arguments"),
        (["--default-ulimit", "nofiles=1"], None, "invalid default-ulimits: invalid ulimit type: nofiles"),
        (["--default-ulimit", "nofile=4:2"], None, "invalid default-ulimits: ulimit soft limit must be less than"),
        ([], {"default-ulimits": {"nofile": 4}}, "invalid default-ulimits: expected"),
        (["--default-shm-size", "lots"], None, "invalid default-shm-size: 'lots'"),
        ([], {"default-shm-size": -1}, "invalid default-shm-size: -1"),
        ([], {"init": "yes"}, "invalid init: expected true or false"),
        (["--init-path", "/nonexistent/tini"], None, "invalid init-path: /nonexistent/tini is not an executable"),
        (["--seccomp-profile", "/nonexistent/dy.json"], None, r"opening seccomp profile \(/nonexistent/dy.json\)"),
        (["--cgroup-parent", "a/../b"], None, "invalid cgroup-parent: invalid cgroup parent"),
        (["--label", "zone"], None, "invalid labels: bad attribute format: zone"),
        (["--label", "com.docker.x=1"], None, "invalid labels: label com.docker.x=1 is not allowed"),
        (["--label", "a=1", "--label", "a=2"], None, "conflict labels for a=2 and a=1"),
        ([], {"debug": "on"}, "invalid debug: expected true or false"),
        (["--default-cgroupns-mode", "shared"], None, r"invalid default-cgroupns-mode: .*\(shared\): use \"host\""),
        (["--ip", "localhost"], None, "invalid ip: IP address is not correctly formatted: localhost"),
        ([], {"ip": 127}, "invalid ip: IP address is not correctly formatted: 127"),
    ],
)
def test_bad_values_are_refused_naming_the_directive(tmp_path, flags, file, message):
    with pytest.raises(InvalidParameter, match=message):
        _load(tmp_path, *flags, file=file)


def test_the_default_bridge_s_ip_is_normalised_and_defaults_to_every_address(tmp_path):
    assert _load(tmp_path).ip == "0.0.0.0"
    assert _load(tmp_path, "--ip", "[::1]").ip == "::1"
    assert _load(tmp_path, file={"ip": "127.0.0.1"}).ip == "127.0.0.1"


def test_init_path_is_an_executable_found_at_start(tmp_path):
    assert _load(tmp_path, "--init-path", "/usr/bin/env").container_defaults.init_path == "/usr/bin/env"
    assert _load(tmp_path, file={"init-path": "env"}).container_defaults.init_path.endswith("/env")


def test_a_directive_given_both_ways_is_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file: dns"):
        _load(tmp_path, "--dns", "10.0.0.1", file={"dns": ["10.0.0.2"]})


def test_a_seccomp_profile_file_is_read_at_start_and_unconfined_is_kept(tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    assert _load(tmp_path, "--seccomp-profile", str(profile)).container_defaults.seccomp == profile.read_text()
    assert _load(tmp_path, "--seccomp-profile", "unconfined").container_defaults.seccomp == "unconfined"
    assert _load(tmp_path, "--seccomp-profile", "builtin").container_defaults.seccomp == ""


DEFAULTS = ContainerDefaults(
    ulimits=({"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "nproc", "Soft": 512, "Hard": 512}),
    shm_size=128 << 20, init=True, no_new_privileges=True, seccomp="unconfined", cgroup_parent="dy-parent",
)  # fmt: skip


def test_at_create_the_defaults_fill_what_the_container_leaves_unset():
    filled = DEFAULTS.at_create({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}]})
    assert filled["ShmSize"] == 128 << 20
    assert filled["Ulimits"] == [
        {"Name": "nofile", "Soft": 10, "Hard": 20},
        {"Name": "nproc", "Soft": 512, "Hard": 512},
    ]
    assert DEFAULTS.at_create({"ShmSize": 1 << 20})["ShmSize"] == 1 << 20
    assert ContainerDefaults().at_create({}) == {"CgroupnsMode": "host"}


def test_at_create_the_cgroup_namespace_mode_is_the_daemon_s_but_privileged_on_cgroup_v1_keeps_the_host_s():
    private = ContainerDefaults(cgroupns_mode="private")
    assert private.at_create({})["CgroupnsMode"] == "private"
    assert private.at_create({"CgroupnsMode": "host"})["CgroupnsMode"] == "host"
    assert private.at_create({"Privileged": True})["CgroupnsMode"] == "host"
    assert replace(private, cgroup_v2=True).at_create({"Privileged": True})["CgroupnsMode"] == "private"


def test_at_start_the_container_s_own_settings_win():
    started = DEFAULTS.at_start({})
    assert started["Init"] is True and started["CgroupParent"] == "dy-parent"
    assert started["SecurityOpt"] == ["no-new-privileges=true", "seccomp=unconfined"]
    own = DEFAULTS.at_start({"Init": False, "CgroupParent": "mine", "SecurityOpt": ["no-new-privileges=false"]})
    assert own["Init"] is False and own["CgroupParent"] == "mine"
    # security_opts.parse: the last entry wins, so the container's own follows the daemon's.
    assert own["SecurityOpt"] == ["no-new-privileges=true", "seccomp=unconfined", "no-new-privileges=false"]
    assert ContainerDefaults().at_start({"Init": None}) == {"Init": None}
