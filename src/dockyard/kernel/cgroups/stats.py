"""Cheap resource figures for `docker stats`: a handful of reads, no directory walks."""

from __future__ import annotations

import os

from dockyard.kernel.cgroups.common import read, read_int, read_keyed

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
    blkio = cgroup.locate("blkio") or cgroup.locate("io")
    if blkio is not None:
        result["blkio"] = block_io_v1(blkio[1]) if blkio[0] == 1 else block_io_v2(_read_or_empty(f"{blkio[1]}/io.stat"))
    return result


def block_io_v1(d: str) -> dict:
    """Bytes and operations per device and op, from the scheduler's files (CFQ, BFQ) when they have
    figures, else from the throttle layer's, which sees every bio: the choice docker makes."""
    figures = {}
    for key, name in (("io_service_bytes_recursive", "io_service_bytes_recursive"),
                      ("io_serviced_recursive", "io_serviced_recursive")):  # fmt: skip
        entries: list[dict] = []
        for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
            entries = parse_v1_entries(_read_or_empty(f"{d}/{prefix}{name}"))
            if entries:
                break
        figures[key] = entries
    return figures


def parse_v1_entries(text: str) -> list[dict]:
    """ "8:0 Read 4096" lines (the "Total" line left out) as docker's blkio entries."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and ":" in fields[0]:
            major, _, minor = fields[0].partition(":")
            entries.append({"major": int(major), "minor": int(minor), "op": fields[1], "value": int(fields[2])})
    return entries


def block_io_v2(text: str) -> dict:
    """io.stat's "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." as docker shows it on cgroup v2: lower-case ops."""
    figures: dict[str, list[dict]] = {"io_service_bytes_recursive": [], "io_serviced_recursive": []}
    for line in text.splitlines():
        device, *pairs = line.split()
        major, _, minor = device.partition(":")
        values = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        for key, read_key, write_key in (("io_service_bytes_recursive", "rbytes", "wbytes"),
                                         ("io_serviced_recursive", "rios", "wios")):  # fmt: skip
            for op, field in (("read", read_key), ("write", write_key)):
                if field in values:
                    figures[key].append({"major": int(major), "minor": int(minor), "op": op,
                                         "value": int(values[field])})  # fmt: skip
    return figures


def _read_or_empty(path: str) -> str:
    try:
        return read(path)
    except OSError:
        return ""


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
