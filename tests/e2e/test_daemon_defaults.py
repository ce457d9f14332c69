"""A daemon started with dockerd's container defaults in its daemon.json: each default applied to a container
that sets nothing, the container's own setting winning, docker info reporting them, bad values refused at
the daemon's start."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess

import pytest

from conftest import busybox_daemon_in
from dockyard.kernel.cgroups import layout
from dockyard.runtime import container_spec
from support.daemon import DockyardDaemon
from support.dns import FakeUpstream, LoopThread

UPSTREAM = "127.0.0.87"  # the daemon's dns: a fake nameserver on a loopback address of its own
PARENT = f"dy-defaults-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("dy-seccomp") / "no-mkdir.json"
    path.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }))  # fmt: skip
    return str(path)


@pytest.fixture(scope="module")
def init_path(tmp_path_factory):
    """A copy of the host's init under a name of its own, to tell it from the one on the PATH."""
    path = tmp_path_factory.mktemp("dy-init") / "dy-own-init"
    shutil.copy2(container_spec.init_binary(), path)
    return str(path)


@pytest.fixture(scope="module")
def d(tmp_path_factory, profile, init_path):
    base = tmp_path_factory.mktemp("dy-defaults")
    (base / "daemon.json").write_text(json.dumps({
        "dns": [UPSTREAM], "dns-search": ["corp.example"], "dns-opts": ["ndots:3"],
        "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}},
        "default-shm-size": "32M", "init": True, "init-path": init_path, "no-new-privileges": True,
        "seccomp-profile": profile,
        "cgroup-parent": PARENT, "labels": ["zone=a", "tier=test"], "experimental": True, "ip": "127.0.0.1",
        "icc": False, "default-cgroupns-mode": "private",
    }))  # fmt: skip
    try:
        with busybox_daemon_in(base) as running:
            yield running
    finally:
        for controller in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", controller, PARENT)
            if os.path.isdir(path):
                os.rmdir(path)


def run(d: DockyardDaemon, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return d.docker("run", "--rm", *args, check=check)


def test_dns_defaults_fill_resolv_conf_unless_the_container_gives_its_own(d):
    lines = run(d, "busybox", "cat", "/etc/resolv.conf").stdout.splitlines()
    assert {"nameserver 127.0.0.87", "search corp.example", "options ndots:3"} <= set(lines)
    own = run(d, "--dns", "192.0.2.1", "--dns-search", "own.example", "busybox", "cat", "/etc/resolv.conf")
    assert {"nameserver 192.0.2.1", "search own.example", "options ndots:3"} <= set(own.stdout.splitlines())
    assert "nameserver 127.0.0.87" not in own.stdout


def test_the_embedded_dns_server_forwards_to_the_daemon_s_dns(d):
    loop = LoopThread()
    upstream = loop.run(FakeUpstream(UPSTREAM, {"outside.test": ["192.0.2.7"]}).start(53))
    try:
        d.docker("network", "create", "dy-defaults-net")
        resolv = run(d, "--network", "dy-defaults-net", "busybox", "cat", "/etc/resolv.conf").stdout
        assert "nameserver 127.0.0.11" in resolv and f"# ExtServers: [{UPSTREAM}]" in resolv
        answer = run(d, "--network", "dy-defaults-net", "busybox", "nslookup", "outside.test.").stdout
        assert "192.0.2.7" in answer
        assert ("udp", "outside.test") in upstream.queries
    finally:
        loop.run(upstream.close())
        loop.close()
        d.docker("network", "rm", "dy-defaults-net", check=False)


def test_default_ulimits_and_shm_size_unless_the_container_sets_them(d):
    script = "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1"
    lines = run(d, "busybox", "sh", "-c", script).stdout.splitlines()
    assert lines[:2] == ["1024", "2048"] and lines[2].split()[1] == str(32 * 1024)
    own = run(d, "--ulimit", "nofile=100:200", "--shm-size", "16m", "busybox", "sh", "-c", script)
    lines = own.stdout.splitlines()
    assert lines[:2] == ["100", "200"] and lines[2].split()[1] == str(16 * 1024)
    container_id = d.docker("create", "busybox", "true").stdout.strip()
    host_config = json.loads(d.docker("inspect", "--format", "{{json .HostConfig}}", container_id).stdout)
    assert host_config["ShmSize"] == 32 << 20
    assert host_config["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    d.docker("rm", container_id)


def test_init_by_default_unless_the_container_says_init_false(d):
    assert run(d, "busybox", "cat", "/proc/1/cmdline").stdout.split("\0")[:2] == ["/sbin/docker-init", "--"]
    # the daemon's init-path is what is bound there
    assert "/dy-own-init " in run(d, "busybox", "grep", " /sbin/docker-init ", "/proc/self/mountinfo").stdout
    assert run(d, "--init=false", "busybox", "cat", "/proc/1/cmdline").stdout.split("\0")[0] == "cat"
    client = d.client()
    try:
        own = client.containers.run("busybox", ["cat", "/proc/1/cmdline"], init=False, remove=True)
        assert own.split(b"\0")[0] == b"cat"
        default = client.containers.run("busybox", ["cat", "/proc/1/cmdline"], remove=True)
        assert default.startswith(b"/sbin/docker-init\0")
    finally:
        client.close()


def test_no_new_privileges_by_default_unless_the_container_turns_it_off(d):
    assert run(d, "busybox", "grep", "NoNewPrivs", "/proc/self/status").stdout.split() == ["NoNewPrivs:", "1"]
    own = run(d, "--security-opt", "no-new-privileges=false", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert own.stdout.split() == ["NoNewPrivs:", "0"]


def test_the_daemon_s_seccomp_profile_unless_the_container_names_one(d):
    refused = run(d, "busybox", "mkdir", "/x", check=False)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    assert run(d, "--security-opt", "seccomp=unconfined", "busybox", "mkdir", "/x").returncode == 0
    assert run(d, "--privileged", "busybox", "mkdir", "/x").returncode == 0


def test_a_cgroup_namespace_of_its_own_unless_the_container_asks_for_the_host_s(d):
    assert set(run(d, "busybox", "cut", "-d:", "-f3", "/proc/self/cgroup").stdout.split()) == {"/"}
    container_id = d.docker("create", "busybox", "true").stdout.strip()
    assert d.docker("inspect", "--format", "{{.HostConfig.CgroupnsMode}}", container_id).stdout.strip() == "private"
    d.docker("rm", container_id)
    # privileged: the host's namespace where the cgroups are not unified (dockerd's rule)
    for own in (["--cgroupns", "host"], *([["--privileged"]] if layout.detect_layout() != layout.V2 else [])):
        assert f":/{PARENT}/dy-" in run(d, *own, "busybox", "cat", "/proc/self/cgroup").stdout


def test_the_daemon_s_cgroup_parent_unless_the_container_names_one(d):
    host_ns = ("--cgroupns", "host")  # the path is seen from the host's cgroup namespace
    cgroups = run(d, *host_ns, "busybox", "cat", "/proc/self/cgroup").stdout
    assert f":/{PARENT}/dy-" in cgroups
    own_parent = f"{PARENT}-own"
    try:
        own = run(d, *host_ns, "--cgroup-parent", own_parent, "busybox", "cat", "/proc/self/cgroup").stdout
        assert f":/{own_parent}/dy-" in own and f":/{PARENT}/" not in own
    finally:
        for controller in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", controller, own_parent)
            if os.path.isdir(path):
                os.rmdir(path)


def test_the_default_bridge_publishes_on_the_daemon_s_ip_unless_the_container_names_an_address(d):
    def published(*args: str) -> list[str]:
        container_id = d.docker("run", "-d", *args, "busybox", "sleep", "60").stdout.strip()
        try:
            return d.docker("port", container_id, "80").stdout.split()
        finally:
            d.docker("rm", "-f", container_id)

    assert [address.rpartition(":")[0] for address in published("-p", "80")] == ["127.0.0.1"]
    assert [address.rpartition(":")[0] for address in published("-p", "0.0.0.0::80")] == ["0.0.0.0"]
    d.docker("network", "create", "-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1", "dy-defaults-bind")
    d.docker("network", "create", "dy-defaults-any")
    try:
        on_option = published("--network", "dy-defaults-bind", "-p", "80")
        assert [address.rpartition(":")[0] for address in on_option] == ["127.0.0.1"]
        # dockerd's --ip is the default bridge's only: a user network publishes on every address.
        assert "0.0.0.0" in [a.rpartition(":")[0] for a in published("--network", "dy-defaults-any", "-p", "80")]
    finally:
        d.docker("network", "rm", "dy-defaults-bind", "dy-defaults-any", check=False)
    refused = d.docker("network", "create", "-o", "com.docker.network.bridge.host_binding_ipv4=nowhere", "dy-x",
                       check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "failed to parse com.docker.network.bridge.host_binding_ipv4 value: nowhere (nil ip)" in refused.stderr


def test_icc_false_drops_traffic_between_the_default_bridge_s_containers_only(d):
    def ping_between(*network: str) -> tuple[int, int]:
        """(exit code of a ping to another container, of a ping to the network's gateway)"""
        target = d.docker("run", "-d", *network, "busybox", "sleep", "60").stdout.strip()
        try:
            networks = json.loads(d.docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", target).stdout)
            (settings,) = networks.values()
            to_container = run(d, *network, "busybox", "ping", "-c1", "-W2", settings["IPAddress"], check=False)
            to_gateway = run(d, *network, "busybox", "ping", "-c1", "-W2", settings["Gateway"], check=False)
            return to_container.returncode, to_gateway.returncode
        finally:
            d.docker("rm", "-f", target)

    assert ping_between() == (1, 0)  # the daemon's icc: false; the host stays reachable
    d.docker("network", "create", "dy-defaults-icc")
    d.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "dy-defaults-noicc")
    try:
        assert ping_between("--network", "dy-defaults-icc") == (0, 0)  # a user network's own default: true
        assert ping_between("--network", "dy-defaults-noicc") == (1, 0)
    finally:
        d.docker("network", "rm", "dy-defaults-icc", "dy-defaults-noicc", check=False)
    refused = d.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=maybe", "dy-x", check=False)
    assert refused.returncode != 0
    assert 'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe"' in (
        refused.stderr
    )


def test_info_and_version_report_labels_experimental_and_security_defaults(d, profile):
    info = json.loads(d.docker("info", "--format", "{{json .}}").stdout)
    assert info["Labels"] == ["zone=a", "tier=test"]
    assert info["ExperimentalBuild"] is True and info["Debug"] is False
    assert f"name=seccomp,profile={profile}" in info["SecurityOptions"]
    assert "name=no-new-privileges" in info["SecurityOptions"]
    assert "WARNING: daemon is not using the default seccomp profile" in info["Warnings"]
    assert d.docker("version", "--format", "{{.Server.Experimental}}").stdout.strip() == "true"
    client = d.client()
    try:
        assert client.info()["Labels"] == ["zone=a", "tier=test"]
        assert client.version()["Experimental"] is True
    finally:
        client.close()


@pytest.mark.parametrize(
    ("flags", "file", "message"),
    [
        (["--default-ulimit", "nofile=4:2"], None, "invalid default-ulimits: ulimit soft limit must be less than or "
                                                   "equal to hard limit: 4 > 2"),
        ([], {"dns": ["resolver.local"]}, "invalid dns: IP address is not correctly formatted: resolver.local"),
        ([], {"default-shm-size": "lots"}, "invalid default-shm-size: 'lots' is not a size greater than 0"),
        (["--seccomp-profile", "/nonexistent/dy.json"], None, "opening seccomp profile (/nonexistent/dy.json) failed"),
        (["--label", "com.docker.x=1"], None, "invalid labels: label com.docker.x=1 is not allowed"),
        (["--ip", "localhost"], None, "invalid ip: IP address is not correctly formatted: localhost"),
    ],
)  # fmt: skip
def test_bad_defaults_stop_the_daemon_s_start_with_one_line_naming_the_directive(tmp_path, flags, file, message):
    daemon = DockyardDaemon(str(tmp_path), *flags)
    (line,) = daemon.refused_start(file)
    assert line.startswith(f"dockyard daemon: {message}")
