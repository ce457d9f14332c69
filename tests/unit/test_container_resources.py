"""HostConfig resources to OCI linux.resources, and dockerd's checks, without a daemon."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.runtime import container_devices, container_resources, container_settings

MIB = 1024 * 1024


def test_resources_map_to_the_oci_fields():
    host_config = {
        "Memory": 64 * MIB, "MemoryReservation": 32 * MIB, "MemorySwap": -1, "MemorySwappiness": 10,
        "OomKillDisable": True, "NanoCpus": 1_500_000_000, "CpuShares": 512, "CpusetCpus": "0",
        "PidsLimit": -1, "BlkioWeight": 300, "KernelMemory": 8 * MIB,
    }  # fmt: skip
    assert container_resources.resources(host_config) == {
        "memory": {"limit": 64 * MIB, "reservation": 32 * MIB, "swap": -1, "swappiness": 10,
                   "disableOOMKiller": True},
        "cpu": {"shares": 512, "period": 100_000, "quota": 150_000, "cpus": "0"},
        "blockIO": {"weight": 300},
    }  # fmt: skip
    assert container_resources.check(host_config)[0].startswith("Specifying a kernel memory limit is deprecated")


def test_swappiness_minus_one_means_unset_and_pids_zero_unlimited():
    assert container_resources.resources({"MemorySwappiness": -1, "PidsLimit": 0}) == {}


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20)), min_size=1, max_size=6))
def test_cpu_lists_read_back_what_they_name(ranges):
    text = ",".join(f"{low}-{low + width}" if width else str(low) for low, width in ranges)
    expected = {cpu for low, width in ranges for cpu in range(low, low + width + 1)}
    assert container_resources.cpu_list(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1-", "-1", "3-1", "1,,2", "0x1"])
def test_malformed_cpu_lists_are_none(text):
    assert container_resources.cpu_list(text) is None


def test_device_cgroup_rules_parse_like_docker():
    rules = container_resources.device_rules({"DeviceCgroupRules": ["c 1:3 mr", "a *:* rwm", "b 8:* w"]})
    assert rules == [
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "mr"},
        {"allow": True, "type": "a", "major": -1, "minor": -1, "access": "rwm"},
        {"allow": True, "type": "b", "major": 8, "minor": -1, "access": "w"},
    ]
    for bad in ("c 1:3", "x 1:3 r", "c 1:3 rwx", "c one:3 r"):
        with pytest.raises(InvalidParameter, match="invalid device cgroup format"):
            container_resources.device_rules({"DeviceCgroupRules": [bad]})


def test_a_device_keeps_the_host_s_numbers_and_gets_its_permissions():
    nodes, rules = container_devices.devices(
        {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/dy-null", "CgroupPermissions": "rw"}]}
    )
    assert nodes == [{"path": "/dev/dy-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
                      "uid": 0, "gid": 0}]  # fmt: skip
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    with pytest.raises(InvalidParameter, match="invalid device mode: rwx"):
        container_devices.devices({"Devices": [{"PathOnHost": "/dev/null", "CgroupPermissions": "rwx"}]})


def test_only_namespaced_sysctls_pass():
    allowed = {"net.ipv4.ip_forward": 1, "kernel.shmmax": "1", "fs.mqueue.msg_max": "10", "kernel.domainname": "x"}
    assert container_settings.sysctls({"Sysctls": allowed}) == {key: str(value) for key, value in allowed.items()}
    for key in ("kernel.hostname", "vm.swappiness", "fs.file-max"):
        with pytest.raises(InvalidParameter, match="is not in a separate kernel namespace"):
            container_settings.sysctls({"Sysctls": {key: "1"}})
    with pytest.raises(InvalidParameter, match="not allowed in host IPC namespace"):
        container_settings.sysctls({"Sysctls": {"kernel.sem": "1"}, "IpcMode": "host"})


def test_ulimits_and_shm_size():
    ulimits = [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": 0, "Hard": 0}]
    assert container_settings.rlimits({"Ulimits": ulimits}) == [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]
    mounts = [{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "size=65536k"]}]
    assert container_settings.shm_mount(mounts, {"ShmSize": 16 * MIB})[0]["options"] == ["nosuid", "size=16384k"]
    assert container_settings.shm_size({}) == 64 * MIB
