"""docker stats: one sample of a container's cgroup, with the previous one kept to compute rates.

docker's `stats --no-stream` waits a second for a second sample; here the
previous sample of each container stays in memory, so a one-shot answer is one
cgroup read (DESIGN.md, "Defaults that fix what Docker users complain about").
The first sample of a container has zeros as its previous one, as docker sends.
"""

from __future__ import annotations

import os
import threading

from dockyard import timestamps
from dockyard.errors import Conflict
from dockyard.services.containers import ContainerService

_EMPTY_CPU = {
    "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
    "system_cpu_usage": 0,
    "online_cpus": 0,
    "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
}
# docker's blkio keys: those Dockyard does not collect are null, as docker sends them on cgroup v2 hosts.
_BLKIO_KEYS = (
    "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
    "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive",
)  # fmt: skip


def _system_cpu_ns() -> int:
    """The host's CPU time since boot, all CPUs, as docker's system_cpu_usage."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(v) for v in fields) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))


def mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


class StatsService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self._previous: dict[str, tuple[str, dict]] = {}
        self._lock = threading.Lock()

    def sample(self, name_or_id: str) -> dict:
        record = self.containers.get(name_or_id)
        if not record.state["Running"]:
            # docker answers a stopped container with an empty sample.
            return self._document(record, timestamps.ZERO, {}, (timestamps.ZERO, {}))
        try:
            figures = self.containers.runtime(record).stats(record.id)
        except Exception as exc:
            raise Conflict(f"container {record.id} is not running: {exc}") from None
        read = timestamps.now()
        cpu = self._cpu(figures.get("cpu") or {})
        with self._lock:
            previous = self._previous.get(record.id, (timestamps.ZERO, {}))
            self._previous[record.id] = (read, cpu)
        return self._document(record, read, {**figures, "cpu_doc": cpu}, previous)

    @staticmethod
    def _cpu(cpu: dict) -> dict:
        return {
            "cpu_usage": {
                "total_usage": cpu.get("usage_ns", 0),
                "usage_in_kernelmode": cpu.get("system_ns", 0),
                "usage_in_usermode": cpu.get("user_ns", 0),
            },
            "system_cpu_usage": _system_cpu_ns(),
            "online_cpus": os.cpu_count() or 1,
            "throttling_data": {
                "periods": cpu.get("periods", 0),
                "throttled_periods": cpu.get("throttled_periods", 0),
                "throttled_time": cpu.get("throttled_ns", 0),
            },
        }

    def _document(self, record, read: str, figures: dict, previous: tuple[str, dict]) -> dict:
        memory = figures.get("memory") or {}
        pids = figures.get("pids") or {}
        memory_doc = {}
        if memory:
            memory_doc = {"usage": memory["usage"], "limit": memory["limit"] or mem_total(),
                          "stats": memory.get("stats") or {}}  # fmt: skip
            if memory.get("max_usage") is not None:
                memory_doc["max_usage"] = memory["max_usage"]
        return {
            "name": f"/{record.name}",
            "id": record.id,
            "read": read,
            "preread": previous[0],
            "pids_stats": {"current": pids["current"], **({"limit": pids["limit"]} if pids.get("limit") else {})}
            if pids
            else {},
            "blkio_stats": {**dict.fromkeys(_BLKIO_KEYS), **(figures.get("blkio") or {})},
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": figures.get("cpu_doc") or dict(_EMPTY_CPU),
            "precpu_stats": previous[1] or dict(_EMPTY_CPU),
            "memory_stats": memory_doc,
            "networks": {},
        }

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._previous.pop(container_id, None)
