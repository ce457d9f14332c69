"""HostConfig's resources, checked with dockerd's messages and made into OCI linux.resources.

check() runs at create and update, so a container that would not start is never made; resources()
runs at every start and update. What dockerd does and Dockyard does the same way:

- memory: Memory, MemoryReservation, MemorySwap (-1: unlimited swap), MemorySwappiness,
  OomKillDisable; KernelMemory is accepted and ignored, as docker 20+ does
- cpu: CpuShares, CpuQuota/CpuPeriod or NanoCpus (spread over a 100 ms period, never with the
  other two), CpusetCpus/CpusetMems, checked against what this host has
- PidsLimit (0 or less: unlimited), BlkioWeight, BlkioWeightDevice, BlkioDeviceRead/WriteBps,
  BlkioDeviceRead/WriteIOps (device paths resolved to major:minor here, as dockerd does)
- devices: the allow rules of --device and --device-cgroup-rule (see container_devices.py for the
  nodes themselves)
"""

from __future__ import annotations

import os
import re
import stat

from dockyard.errors import InvalidParameter

CPU_PERIOD = 100_000  # what NanoCpus is spread over, as docker does
MIN_MEMORY = 6 * 1024 * 1024  # dockerd's linuxMinMemory
_THROTTLES = (
    ("BlkioDeviceReadBps", "throttleReadBpsDevice"),
    ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
    ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
    ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice"),
)
_RULE = re.compile(r"([abc]) (\d+|\*):(\d+|\*) ([rwm]{1,3})")


def check(host_config: dict) -> list[str]:
    """InvalidParameter with dockerd's message for a bad value; the warnings dockerd would give."""
    warnings: list[str] = []
    _check_memory(host_config, warnings)
    _check_cpu(host_config)
    weight = host_config.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    for entry in host_config.get("BlkioWeightDevice") or []:
        if not 10 <= (entry.get("Weight") or 0) <= 1000:
            raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    adj = host_config.get("OomScoreAdj") or 0
    if not -1000 <= adj <= 1000:
        raise InvalidParameter(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    device_rules(host_config)
    block_io(host_config)
    return warnings


def _check_memory(host_config: dict, warnings: list[str]) -> None:
    memory = host_config.get("Memory") or 0
    reservation = host_config.get("MemoryReservation") or 0
    swap = host_config.get("MemorySwap") or 0
    if 0 < memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if 0 < reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    swappiness = host_config.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if host_config.get("KernelMemory"):
        warnings.append("Specifying a kernel memory limit is deprecated and will be removed in a future release.")
    if host_config.get("OomKillDisable") and not memory:
        warnings.append(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system "
            "running out of resources."
        )


def _check_cpu(host_config: dict) -> None:
    nano = host_config.get("NanoCpus") or 0
    if nano and host_config.get("CpuPeriod"):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and host_config.get("CpuQuota"):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    count = os.cpu_count() or 1
    if nano and not 10**7 <= nano <= count * 10**9:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs available")
    period = host_config.get("CpuPeriod") or 0
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    quota = host_config.get("CpuQuota") or 0
    if 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    for key, what, available in (
        ("CpusetCpus", "CPUs", _online("cpu")),
        ("CpusetMems", "memory nodes", _online("node")),
    ):
        wanted = host_config.get(key)
        if not wanted:
            continue
        ids = cpu_list(wanted)
        if ids is None:
            raise InvalidParameter(f"Invalid value {wanted} for cpuset {'cpus' if key == 'CpusetCpus' else 'mems'}")
        if available is not None and not ids <= available[0]:
            raise InvalidParameter(
                f"Requested {what} are not available - requested {wanted}, available: {available[1]}"
            )


def cpu_list(text: str) -> set[int] | None:
    """The ids of a cpuset list such as "0-2,4", None when it is not one."""
    ids: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return None
        if dash and int(high) < int(low):
            return None
        ids.update(range(int(low), int(high if dash else low) + 1))
    return ids


def _online(kind: str) -> tuple[set[int], str] | None:
    try:
        with open(f"/sys/devices/system/{kind}/online") as f:
            text = f.read().strip()
    except OSError:
        return None
    ids = cpu_list(text)
    return (ids, text) if ids is not None else None


def resources(host_config: dict) -> dict:
    """linux.resources for the container, without the device rules (see device_rules)."""
    result: dict = {}
    memory: dict = {}
    for key, field in (("Memory", "limit"), ("MemoryReservation", "reservation"), ("MemorySwap", "swap")):
        if host_config.get(key):
            memory[field] = host_config[key]
    swappiness = host_config.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1:
        memory["swappiness"] = swappiness
    if host_config.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        result["memory"] = memory
    cpu: dict = {}
    if host_config.get("CpuShares"):
        cpu["shares"] = host_config["CpuShares"]
    if host_config.get("NanoCpus"):
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = host_config["NanoCpus"] * CPU_PERIOD // 10**9
    else:
        for key, field in (("CpuQuota", "quota"), ("CpuPeriod", "period")):
            if host_config.get(key):
                cpu[field] = host_config[key]
    for key, field in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if host_config.get(key):
            cpu[field] = host_config[key]
    if cpu:
        result["cpu"] = cpu
    if (host_config.get("PidsLimit") or 0) > 0:
        result["pids"] = {"limit": host_config["PidsLimit"]}
    io = block_io(host_config)
    if io:
        result["blockIO"] = io
    return result


def block_io(host_config: dict) -> dict:
    io: dict = {}
    if host_config.get("BlkioWeight"):
        io["weight"] = host_config["BlkioWeight"]
    weights = [{**_device_numbers(entry["Path"]), "weight": entry["Weight"]}
               for entry in host_config.get("BlkioWeightDevice") or []]  # fmt: skip
    if weights:
        io["weightDevice"] = weights
    for key, field in _THROTTLES:
        rates = [{**_device_numbers(entry["Path"]), "rate": entry["Rate"]} for entry in host_config.get(key) or []]
        if rates:
            io[field] = rates
    return io


def _device_numbers(path: str) -> dict:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InvalidParameter(f"error getting device {path}: {exc.strerror}") from None
    if not stat.S_ISBLK(info.st_mode):
        raise InvalidParameter(f"{path} is not a block device")
    return {"major": os.major(info.st_rdev), "minor": os.minor(info.st_rdev)}


def device_rules(host_config: dict) -> list[dict]:
    """The devices cgroup's allow rules for --device-cgroup-rule ("c 1:3 mr", "a *:* rwm")."""
    rules = []
    for text in host_config.get("DeviceCgroupRules") or []:
        match = _RULE.fullmatch(text.strip())
        if match is None:
            raise InvalidParameter(f"invalid device cgroup format '{text}'")
        kind, major, minor, access = match.groups()
        rules.append({"allow": True, "type": kind, "major": -1 if major == "*" else int(major),
                      "minor": -1 if minor == "*" else int(minor), "access": access})  # fmt: skip
    return rules
