"""Cheap resource figures for `docker stats`: a handful of reads, no directory walks."""

from __future__ import annotations

import os

from dockyard.kernel.cgroups.common import read_int, read_keyed

_V1_UNLIMITED = 1 << 62  # v1 reports "no limit" as PAGE_COUNTER_MAX pages, just under 2**63


def collect(cgroup) -> dict:
    result = {}
    memory = cgroup.locate("memory")
    if memory is not None:
        result["memory"] = _memory(*memory)
    cpu = _cpu(cgroup)
    if cpu:
        result["cpu"] = cpu
    pids = cgroup.locate("pids")
    if pids is not None:
        d = pids[1]
        result["pids"] = {"current": read_int(f"{d}/pids.current") or 0, "limit": read_int(f"{d}/pids.max")}
    return result


def _memory(version: int, d: str) -> dict:
    if version == 1:
        limit = read_int(f"{d}/memory.limit_in_bytes")
        return {
            "usage": read_int(f"{d}/memory.usage_in_bytes") or 0,
            "limit": None if limit is None or limit >= _V1_UNLIMITED else limit,
            "max_usage": read_int(f"{d}/memory.max_usage_in_bytes"),
            "stats": read_keyed(f"{d}/memory.stat"),
        }
    return {
        "usage": read_int(f"{d}/memory.current") or 0,
        "limit": read_int(f"{d}/memory.max"),
        "max_usage": read_int(f"{d}/memory.peak"),
        "stats": read_keyed(f"{d}/memory.stat"),
    }


def _cpu(cgroup) -> dict:
    acct = cgroup.locate("cpuacct")
    if acct is not None:
        # v1: cpuacct.usage is in ns, cpuacct.stat in clock ticks.
        d = acct[1]
        ticks = read_keyed(f"{d}/cpuacct.stat")
        ns_per_tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        cpu = {
            "usage_ns": read_int(f"{d}/cpuacct.usage") or 0,
            "user_ns": ticks.get("user", 0) * ns_per_tick,
            "system_ns": ticks.get("system", 0) * ns_per_tick,
        }
        found = cgroup.locate("cpu")
        throttling = read_keyed(f"{found[1]}/cpu.stat") if found is not None else {}
        throttled_ns = throttling.get("throttled_time", 0)
    else:
        # v2: cpu.stat is in every cgroup (usage without the cpu controller), in microseconds.
        d = cgroup.unified_dir
        if d is None:
            return {}
        throttling = read_keyed(f"{d}/cpu.stat")
        if not throttling:
            return {}
        cpu = {
            "usage_ns": throttling.get("usage_usec", 0) * 1000,
            "user_ns": throttling.get("user_usec", 0) * 1000,
            "system_ns": throttling.get("system_usec", 0) * 1000,
        }
        throttled_ns = throttling.get("throttled_usec", 0) * 1000
    cpu["periods"] = throttling.get("nr_periods", 0)
    cpu["throttled_periods"] = throttling.get("nr_throttled", 0)
    cpu["throttled_ns"] = throttled_ns
    return cpu
