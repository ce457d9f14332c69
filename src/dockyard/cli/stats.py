"""docker stats: one sample per container from /containers/{id}/stats?stream=0, computed as docker does.

--no-stream prints the table once; otherwise it is redrawn every second until ^C.
"""

from __future__ import annotations

import sys
import time

from dockyard import units
from dockyard.cli import output
from dockyard.cli.client import APIError, Client

HEADERS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


def show(client: Client, names: list[str], *, all_containers: bool, stream: bool, trunc: bool) -> int:
    while True:
        listed = names or client.get_json("/containers/json", {"all": "1" if all_containers else None})
        targets = names or [c["Id"] for c in listed]
        rows = [HEADERS]
        failed = False
        for name in targets:
            try:
                sample = client.get_json(f"/containers/{name}/stats", {"stream": "0"})
            except APIError as exc:
                if names:
                    sys.stderr.write(f"{exc}\n")
                    failed = True
                continue
            rows.append(row(sample, name, trunc))
        if not stream:
            output.write(output.table(rows))
            return 1 if failed else 0
        output.write("\x1b[2J\x1b[H" + output.table(rows))
        sys.stdout.flush()
        time.sleep(1)


def row(sample: dict, asked: str, trunc: bool) -> list[str]:
    container_id = sample.get("id") or asked
    memory = sample.get("memory_stats") or {}
    usage, limit = memory_usage(memory), memory.get("limit") or 0
    net_rx = sum(n.get("rx_bytes", 0) for n in (sample.get("networks") or {}).values())
    net_tx = sum(n.get("tx_bytes", 0) for n in (sample.get("networks") or {}).values())
    read, write = block_io(sample.get("blkio_stats") or {})
    return [
        output.short_id(container_id) if trunc else container_id,
        (sample.get("name") or "").lstrip("/") or "--",
        f"{cpu_percent(sample):.2f}%",
        f"{units.bytes_size(usage)} / {units.bytes_size(limit)}",
        f"{usage / limit * 100 if limit else 0:.2f}%",
        f"{output.human_size(net_rx)} / {output.human_size(net_tx)}",
        f"{output.human_size(read)} / {output.human_size(write)}",
        str((sample.get("pids_stats") or {}).get("current", 0)),
    ]


def cpu_percent(sample: dict) -> float:
    cpu, previous = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0)
    cpu_delta = used - (previous.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - previous.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    if cpu_delta > 0 and system_delta > 0:
        return cpu_delta / system_delta * cpus * 100
    return 0.0


def memory_usage(memory: dict) -> int:
    """Usage without the page cache: cgroup v1's total_inactive_file, v2's inactive_file."""
    usage = memory.get("usage") or 0
    details = memory.get("stats") or {}
    cache = details.get("total_inactive_file", details.get("inactive_file", 0))
    return usage - cache if cache < usage else usage


def block_io(blkio: dict) -> tuple[int, int]:
    read = write = 0
    for entry in blkio.get("io_service_bytes_recursive") or ():
        op = entry.get("op", "").lower()
        if op == "read":
            read += entry.get("value", 0)
        elif op == "write":
            write += entry.get("value", 0)
    return read, write
