"""The rows of docker stats: figures computed from the Engine API's stats JSON as docker computes them."""

from __future__ import annotations

from dockyard.cli.formatting.context import Context
from dockyard.cli.formatting.display import truncate_id
from dockyard.cli.formatting.formatter import TABLE
from dockyard.units import bytes_size, human_size

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import ClassVar

STATS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
NO_VALUE = "--"


def stats_format(source: str) -> str:
    return STATS_TABLE if source == TABLE else source


class StatsEntry:
    """One container's figures for docker stats, computed from the Engine API's stats JSON as docker does."""

    __slots__ = ("block_read", "block_write", "container", "cpu_percentage", "id", "invalid", "memory",
                 "memory_limit", "memory_percentage", "name", "network_rx", "network_tx", "pids")  # fmt: skip

    def __init__(self, container: str, stats: dict | None = None) -> None:
        self.container = container
        self.name = self.id = ""
        self.cpu_percentage = self.memory = self.memory_limit = self.memory_percentage = 0.0
        self.network_rx = self.network_tx = self.block_read = self.block_write = 0.0
        self.pids = 0
        self.invalid = stats is None
        if stats is not None:
            self.update(stats)

    def update(self, stats: dict) -> None:
        self.name = stats.get("name", "")
        self.id = stats.get("id", "")
        cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
        cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get(
            "total_usage", 0
        )
        system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
        self.cpu_percentage = cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
        memory = stats.get("memory_stats") or {}
        usage = memory.get("usage", 0)
        # Page cache is not the container's own memory: cgroup v1 total_inactive_file, v2 inactive_file.
        counters = memory.get("stats") or {}
        self.memory = float(usage)
        for key in ("total_inactive_file", "inactive_file"):
            if key in counters and counters[key] < usage:
                self.memory = float(usage - counters[key])
                break
        self.memory_limit = float(memory.get("limit", 0))
        self.memory_percentage = self.memory / self.memory_limit * 100.0 if self.memory_limit else 0.0
        self.block_read = self.block_write = 0.0
        for entry in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
            op = (entry.get("op") or " ")[0].lower()
            if op == "r":
                self.block_read += entry.get("value", 0)
            elif op == "w":
                self.block_write += entry.get("value", 0)
        networks = (stats.get("networks") or {}).values()
        self.network_rx = float(sum(n.get("rx_bytes", 0) for n in networks))
        self.network_tx = float(sum(n.get("tx_bytes", 0) for n in networks))
        self.pids = (stats.get("pids_stats") or {}).get("current", 0)
        self.invalid = False


class StatsContext(Context):
    go_type = "*container.statsContext"
    HEADERS: ClassVar[dict[str, str]] = {
        "Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    }  # fmt: skip

    def __init__(self, entry: StatsEntry, trunc: bool = True) -> None:
        self.s = entry
        self.trunc = trunc

    def Container(self) -> str:
        return self.s.container

    def Name(self) -> str:
        return self.s.name[1:] if len(self.s.name) > 1 else NO_VALUE

    def ID(self) -> str:
        return truncate_id(self.s.id) if self.trunc else self.s.id

    def CPUPerc(self) -> str:
        return NO_VALUE if self.s.invalid else f"{self.s.cpu_percentage:.2f}%"

    def MemUsage(self) -> str:
        if self.s.invalid:
            return "-- / --"
        return f"{bytes_size(self.s.memory)} / {bytes_size(self.s.memory_limit)}"

    def MemPerc(self) -> str:
        return NO_VALUE if self.s.invalid else f"{self.s.memory_percentage:.2f}%"

    def NetIO(self) -> str:
        if self.s.invalid:
            return NO_VALUE
        return f"{human_size(self.s.network_rx, 3)} / {human_size(self.s.network_tx, 3)}"

    def BlockIO(self) -> str:
        if self.s.invalid:
            return NO_VALUE
        return f"{human_size(self.s.block_read, 3)} / {human_size(self.s.block_write, 3)}"

    def PIDs(self) -> str:
        return NO_VALUE if self.s.invalid else str(self.s.pids)
