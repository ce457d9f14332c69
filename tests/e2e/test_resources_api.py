"""HostConfig resources through the real docker CLI: cgroup files, values seen inside, inspect, and
dockerd's validation messages."""

from __future__ import annotations

import json
import os

import pytest

MIB = 1024 * 1024


def _cgroup_file(controller: str, container_id: str, name: str, parent: str = "") -> str:
    path = os.path.join("/sys/fs/cgroup", controller, parent, f"dy-{container_id}", name)
    with open(path) as f:
        return f.read().strip()


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/memory"), reason="needs cgroup v1 memory and cpu hierarchies")
def test_limits_reach_the_cgroup_and_the_process(busybox_daemon):
    d = busybox_daemon
    inside = ("ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; id -G; "
              "cat /proc/self/oom_score_adj; df -k /dev/shm | tail -1; ls -l /dev/dy-kmsg; "
              "echo x 2>/dev/null >/dev/dy-kmsg || echo refused; exec sleep 60")  # fmt: skip
    container_id = d.docker(
        "run", "-d", "--name", "dy-limits", "--memory", "32m", "--memory-reservation", "16m",
        "--memory-swap", "64m", "--memory-swappiness", "10", "--cpus", "0.5", "--cpu-shares", "512",
        "--cpuset-cpus", "0", "--pids-limit", "40", "--device", "/dev/kmsg:/dev/dy-kmsg:r",
        "--device-cgroup-rule", "c 1:12 r", "--ulimit", "nofile=1000:2000", "--shm-size", "16m",
        "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000000", "--group-add", "1234",
        "--oom-score-adj", "500", "busybox", "sh", "-c", inside,
    ).stdout.strip()  # fmt: skip
    try:
        assert _cgroup_file("memory", container_id, "memory.limit_in_bytes") == str(32 * MIB)
        assert _cgroup_file("memory", container_id, "memory.soft_limit_in_bytes") == str(16 * MIB)
        assert _cgroup_file("memory", container_id, "memory.swappiness") == "10"
        assert _cgroup_file("cpu", container_id, "cpu.cfs_quota_us") == "50000"
        assert _cgroup_file("cpu", container_id, "cpu.cfs_period_us") == "100000"
        assert _cgroup_file("cpu", container_id, "cpu.shares") == "512"
        assert _cgroup_file("cpuset", container_id, "cpuset.cpus") == "0"
        assert _cgroup_file("pids", container_id, "pids.max") == "40"
        allowed = _cgroup_file("devices", container_id, "devices.list").splitlines()
        assert "c 1:11 r" in allowed and "c 1:12 r" in allowed
        lines = _wait_for_lines(d, "dy-limits", 9)
        assert lines[:5] == ["1000", "2000", "1", "1000000", "0 1234"]
        assert lines[5] == "500"
        assert lines[6].split()[1] == str(16 * 1024)  # /dev/shm's size in KiB
        assert lines[7].startswith("c") and lines[7].split()[4:6] == ["1,", "11"]
        assert lines[8] == "refused"  # the devices cgroup allows reading only
        host_config = json.loads(d.docker("inspect", "dy-limits").stdout)[0]["HostConfig"]
        assert host_config["Memory"] == 32 * MIB and host_config["NanoCpus"] == 5 * 10**8
        assert host_config["Ulimits"] == [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]
        assert host_config["Devices"] == [
            {"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/dy-kmsg", "CgroupPermissions": "r"}
        ]
        assert host_config["ShmSize"] == 16 * MIB and host_config["Sysctls"]["net.ipv4.ip_forward"] == "1"
        assert host_config["GroupAdd"] == ["1234"] and host_config["OomScoreAdj"] == 500
    finally:
        d.docker("rm", "-f", "dy-limits", check=False)


def _wait_for_lines(d, name: str, count: int) -> list[str]:
    import time

    deadline = time.monotonic() + 20
    while True:
        lines = d.docker("logs", name).stdout.splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_a_cgroup_parent_holds_the_container(busybox_daemon):
    d = busybox_daemon
    container_id = d.docker("run", "-d", "--cgroup-parent", "dy-parent", "busybox", "sleep", "60").stdout.strip()
    try:
        assert _cgroup_file("pids", container_id, "cgroup.procs", parent="dy-parent")
    finally:
        d.docker("rm", "-f", container_id, check=False)
        for controller in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", controller, "dy-parent")
            if os.path.isdir(path):
                os.rmdir(path)


@pytest.mark.parametrize(
    ("host_config", "message"),
    [
        ({"Memory": 4 * MIB}, "Minimum memory limit allowed is 6MB"),
        ({"MemoryReservation": 4 * MIB}, "Minimum memory reservation allowed is 6MB"),
        ({"Memory": 64 * MIB, "MemorySwap": 32 * MIB}, "Minimum memoryswap limit should be larger than memory limit"),
        ({"MemorySwap": 32 * MIB}, "You should always set the Memory limit when using Memoryswap limit"),
        ({"Memory": 32 * MIB, "MemoryReservation": 64 * MIB}, "Minimum memory limit can not be less than memory "
                                                              "reservation limit"),
        ({"MemorySwappiness": 101}, "Invalid value: 101, valid memory swappiness range is 0-100"),
        ({"NanoCpus": 5 * 10**8, "CpuPeriod": 50000}, "Conflicting options: Nano CPUs and CPU Period cannot both"),
        ({"NanoCpus": 5 * 10**8, "CpuQuota": 50000}, "Conflicting options: Nano CPUs and CPU Quota cannot both"),
        ({"NanoCpus": 1000 * 10**9}, "Range of CPUs is from 0.01 to"),
        ({"CpuPeriod": 100}, "CPU cfs period can not be less than 1ms"),
        ({"CpuQuota": 100}, "CPU cfs quota can not be less than 1ms"),
        ({"CpusetCpus": "0-"}, "Invalid value 0- for cpuset cpus"),
        ({"CpusetCpus": "0-511"}, "Requested CPUs are not available - requested 0-511"),
        ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
        ({"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
        ({"Sysctls": {"kernel.hostname": "x"}}, 'sysctl \\"kernel.hostname\\" is not in a separate kernel namespace'),
        ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}, "not allowed in host network namespace"),
        ({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}, "ulimit soft limit must be less than or equal"),
        ({"Ulimits": [{"Name": "wishes", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: wishes"),
        ({"Devices": [{"PathOnHost": "/etc/hostname", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]},
         "not a device node"),
        ({"DeviceCgroupRules": ["c 1:3 rwx"]}, "invalid device cgroup format 'c 1:3 rwx'"),
        ({"ShmSize": -1}, "SHM size can not be less than 0"),
        ({"GroupAdd": ["no-such-group"]}, ""),  # names are looked up at start, in the image's /etc/group
    ],
)  # fmt: skip
def test_bad_resources_are_refused_at_create_with_dockerd_s_message(busybox_daemon, host_config, message):
    body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config}).encode()
    status, _headers, answer = busybox_daemon.request("POST", "/v1.50/containers/create", body,
                                                      headers={"Content-Type": "application/json"})  # fmt: skip
    if not message:
        assert status == 201
        busybox_daemon.docker("rm", json.loads(answer)["Id"])
        return
    assert status == 400, answer
    assert message in answer.decode(), answer


def test_warnings_and_an_unknown_group_at_start(busybox_daemon):
    d = busybox_daemon
    body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"OomKillDisable": True}}).encode()
    status, _headers, answer = d.request("POST", "/v1.50/containers/create", body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
    created = json.loads(answer)
    assert status == 201 and created["Warnings"][0].startswith("OOM killer is disabled for the container")
    d.docker("rm", created["Id"])
    refused = d.docker("run", "--rm", "--group-add", "no-such-group", "busybox", "true", check=False)
    assert refused.returncode != 0 and "unable to find group no-such-group" in refused.stderr


def test_an_oom_kill_shows_in_the_state(busybox_daemon):
    d = busybox_daemon
    # tail keeps the last "line" of /dev/zero, which never ends: memory grows until the kill.
    result = d.docker("run", "--name", "dy-oom", "-m", "8m", "--memory-swap", "8m", "busybox", "tail", "/dev/zero",
                      check=False)  # fmt: skip
    try:
        assert result.returncode == 137
        state = json.loads(d.docker("inspect", "dy-oom").stdout)[0]["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137
    finally:
        d.docker("rm", "-f", "dy-oom", check=False)


def test_stats_carry_block_io_figures(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-blkio", "busybox", "sleep", "60")
    try:
        sample = json.loads(d.request("GET", "/v1.50/containers/dy-blkio/stats?stream=false")[2])
        blkio = sample["blkio_stats"]
        assert isinstance(blkio["io_service_bytes_recursive"], list)
        assert isinstance(blkio["io_serviced_recursive"], list)
        for entry in blkio["io_service_bytes_recursive"]:
            assert set(entry) == {"major", "minor", "op", "value"}
        shown = d.docker("stats", "--no-stream", "--format", "{{.BlockIO}}", "dy-blkio").stdout.strip()
        assert " / " in shown  # docker's "read / written", from io_service_bytes_recursive
    finally:
        d.docker("rm", "-f", "dy-blkio", check=False)


def test_a_ulimit_above_the_host_s_hard_limit_is_clamped_with_a_warning(busybox_daemon):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here to go beyond")
    result = busybox_daemon.docker("run", "--rm", "--ulimit", f"nofile={hard + 1}:{hard + 1}", "busybox", "sh", "-c",
                                   "ulimit -n; ulimit -Hn")  # fmt: skip
    assert result.stdout.split() == [str(hard), str(hard)]
    assert f"RLIMIT_NOFILE {hard + 1}/{hard + 1} exceeds the allowed maximum; clamped to {hard}/{hard}" in result.stderr


def test_inspect_shows_what_dockerd_fills_in(busybox_daemon):
    d = busybox_daemon
    plain = d.docker("create", "busybox").stdout.strip()
    unconfined = d.docker("create", "--security-opt", "systempaths=unconfined", "busybox").stdout.strip()
    try:
        shown = {c["Id"]: c["HostConfig"] for c in json.loads(d.docker("inspect", plain, unconfined).stdout)}
        assert shown[plain]["ShmSize"] == 64 * MIB
        assert "/proc/timer_list" in shown[plain]["MaskedPaths"] and "/proc/sys" in shown[plain]["ReadonlyPaths"]
        assert (shown[unconfined]["MaskedPaths"], shown[unconfined]["ReadonlyPaths"]) == ([], [])
    finally:
        d.docker("rm", plain, unconfined)


def test_init_runs_as_pid_1_reaps_and_forwards_signals(busybox_daemon):
    d = busybox_daemon
    shown = d.docker("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout
    assert shown.split()[:2] == ["/sbin/docker-init", "--"]
    assert d.docker("run", "--rm", "--init", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    # Without an init, sleep as PID 1 ignores SIGTERM and is killed (137); docker-init passes it on (143).
    for options, code in ((["--init"], 143), ([], 137)):
        name = f"dy-init-{code}"
        d.docker("run", "-d", "--name", name, *options, "busybox", "sleep", "60")
        d.docker("stop", "-t", "2", name)
        state = json.loads(d.docker("inspect", name).stdout)[0]
        assert state["State"]["ExitCode"] == code and state["HostConfig"].get("Init") is (True if options else None)
        d.docker("rm", name)
