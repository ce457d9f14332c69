"""linux.resources written to cgroup v1 control files, one function per controller.

Each function gets the cgroup's directory in the hierarchy that holds the
controller, the OCI object and its field name, and writes only the fields that
are present. Zero means "not set" for memory and cpu values, as in runc and
docker (the kernel would refuse or misread 0 there); pids.limit 0 is a real
limit (runtime spec, "PIDs").
"""

from __future__ import annotations

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.cgroups import common
from dockyard.kernel.cgroups.common import integer, put

# The kernel's "unlimited" for v1 memory files is PAGE_COUNTER_MAX pages; -1 is accepted as input.
UNLIMITED = -1


def memory(d: str, memory: dict, field: str, warnings: list) -> None:
    limit = _opt(memory, "limit", field)
    swap = _opt(memory, "swap", field)
    if limit == UNLIMITED and not swap:
        swap = UNLIMITED  # else a finite memsw left from before would refuse the unlimited limit
    if limit and swap and limit != UNLIMITED and swap != UNLIMITED and swap < limit:
        raise InvalidParameter(f"{field}.swap: {swap} is memory+swap and must be at least memory.limit {limit}")
    # The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
    # write, so raise the memsw bound first when the new pair goes above the old limit.
    swap_first = False
    if limit and swap:
        current = common.read_int(f"{d}/memory.limit_in_bytes")
        swap_first = swap == UNLIMITED or current is None or swap >= current
    if swap and swap_first:
        _swap(d, swap, field)
    if limit:
        put(d, "memory.limit_in_bytes", limit, f"{field}.limit")
    if swap and not swap_first:
        _swap(d, swap, field)
    reservation = _opt(memory, "reservation", field)
    if reservation:
        put(d, "memory.soft_limit_in_bytes", reservation, f"{field}.reservation")
    kernel_tcp = _opt(memory, "kernelTCP", field)
    if kernel_tcp:
        put(d, "memory.kmem.tcp.limit_in_bytes", kernel_tcp, f"{field}.kernelTCP")
    if memory.get("kernel") not in (None, 0, UNLIMITED):
        # Kernel memory limits were deprecated in 5.4 and refused since 6.1; runc ignores them too.
        warnings.append(f"{field}.kernel: kernel memory limits are not supported, ignored")
    swappiness = memory.get("swappiness")
    if swappiness is not None and swappiness != -1:
        if integer(swappiness, f"{field}.swappiness", 0) > 100:
            raise InvalidParameter(f"{field}.swappiness: must be between 0 and 100, not {swappiness}")
        put(d, "memory.swappiness", swappiness, f"{field}.swappiness")
    if memory.get("disableOOMKiller") is True:
        put(d, "memory.oom_control", 1, f"{field}.disableOOMKiller")


def _opt(section: dict, key: str, field: str) -> int | None:
    value = section.get(key)
    return None if value is None else integer(value, f"{field}.{key}", UNLIMITED)


def _swap(d: str, swap: int, field: str) -> None:
    try:
        common.write(f"{d}/memory.memsw.limit_in_bytes", str(swap))
    except FileNotFoundError:
        # No swap accounting (swapaccount=0 or no swap): "unlimited" needs no file.
        if swap != UNLIMITED:
            raise Unsupported(
                f"{field}.swap: swap accounting is off on this host (no memory.memsw.limit_in_bytes)"
            ) from None
    except OSError as exc:
        raise common.failure(exc, f"{field}.swap", "write memory.memsw.limit_in_bytes") from None


# (linux.resources.cpu key, v1 file, whether 0 means "not set"), in write order:
# period before quota, because the kernel checks the pair and docker sets both.
_CPU_FILES = (
    ("shares", "cpu.shares", True),
    ("period", "cpu.cfs_period_us", True),
    ("quota", "cpu.cfs_quota_us", True),
    ("burst", "cpu.cfs_burst_us", False),
    ("realtimePeriod", "cpu.rt_period_us", True),
    ("realtimeRuntime", "cpu.rt_runtime_us", True),
    ("idle", "cpu.idle", False),
)


def cpu(d: str, cpu: dict, field: str) -> None:
    for key, name, zero_is_unset in _CPU_FILES:
        value = _opt(cpu, key, field)
        if value is None or (zero_is_unset and not value):
            continue
        put(d, name, value, f"{field}.{key}")


def cpuset(d: str, cpu: dict, field: str) -> None:
    """cpus and mems; the same file names serve v1 and v2."""
    for key in ("cpus", "mems"):
        value = cpu.get(key)
        if value:
            put(d, f"cpuset.{key}", common.text(value, f"{field}.{key}"), f"{field}.{key}")


def pids(d: str, pids: dict, field: str) -> None:
    """pids.max; the same file serves v1 and v2."""
    limit = pids.get("limit")
    if limit is not None:
        limit = integer(limit, f"{field}.limit")
        put(d, "pids.max", "max" if limit < 0 else limit, f"{field}.limit")


def blkio(d: str, block_io: dict, field: str, warnings: list) -> None:
    weight = block_io.get("weight")
    if weight is not None:
        _weight(d, "weight", integer(weight, f"{field}.weight"), f"{field}.weight")
    if block_io.get("leafWeight") is not None:
        _leaf(d, "blkio.leaf_weight", str(integer(block_io["leafWeight"], f"{field}.leafWeight")), field, warnings)
    for i, entry in enumerate(block_io.get("weightDevice") or ()):
        where = f"{field}.weightDevice[{i}]"
        device = common.device_numbers(entry, where)
        if entry.get("weight") is not None:
            _weight(d, "weight_device", f"{device} {integer(entry['weight'], where + '.weight')}", where)
        if entry.get("leafWeight") is not None:
            leaf = integer(entry["leafWeight"], where + ".leafWeight")
            _leaf(d, "blkio.leaf_weight_device", f"{device} {leaf}", where, warnings)
    for key, name in THROTTLES:
        for i, entry in enumerate(block_io.get(key) or ()):
            where = f"{field}.{key}[{i}]"
            rate = integer(entry.get("rate") if isinstance(entry, dict) else None, where + ".rate", 0)
            put(d, f"blkio.throttle.{name}", f"{common.device_numbers(entry, where)} {rate}", where)


THROTTLES = (
    ("throttleReadBpsDevice", "read_bps_device"),
    ("throttleWriteBpsDevice", "write_bps_device"),
    ("throttleReadIOPSDevice", "read_iops_device"),
    ("throttleWriteIOPSDevice", "write_iops_device"),
)


def _weight(d: str, name: str, value: object, field: str) -> None:
    # CFQ's blkio.weight left with 5.0; BFQ offers blkio.bfq.weight on the same 1-1000 scale.
    for candidate in (f"blkio.bfq.{name}", f"blkio.{name}"):
        try:
            common.write(f"{d}/{candidate}", str(value))
            return
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise common.failure(exc, field, f"write {candidate}") from None
    raise Unsupported(f"{field}: no blkio.bfq.{name} or blkio.{name}: the host's I/O scheduler has no weights")


def _leaf(d: str, name: str, value: str, field: str, warnings: list) -> None:
    try:
        common.write(f"{d}/{name}", value)
    except FileNotFoundError:
        warnings.append(f"{field}: leaf weights need the CFQ I/O scheduler, which this kernel lacks; ignored")
    except OSError as exc:
        raise common.failure(exc, field, f"write {name}") from None


def hugetlb(d: str, limits: list, field: str, limit_file: str, reserved_file: str) -> None:
    """hugetlb.<size>.<limit_file>, then the reservation limit where the kernel has it (5.7+).

    Shared with v2, which only names the files differently ("max", "rsvd.max").
    """
    for i, entry in enumerate(limits):
        where = f"{field}[{i}]"
        size = entry.get("pageSize") if isinstance(entry, dict) else None
        if not isinstance(size, str) or not size[:-2].isdigit() or size[-2:] not in ("KB", "MB", "GB", "TB"):
            raise InvalidParameter(f"{where}.pageSize: must look like 2MB or 1GB, not {size!r}")
        limit = str(integer(entry.get("limit"), f"{where}.limit", 0))
        name = f"hugetlb.{size}.{limit_file}"
        try:
            common.write(f"{d}/{name}", limit)
        except FileNotFoundError:
            raise InvalidParameter(f"{where}.pageSize: this host has no {size} huge pages (no {name})") from None
        except OSError as exc:
            raise common.failure(exc, f"{where}.limit", f"write {name}") from None
        try:
            common.write(f"{d}/hugetlb.{size}.{reserved_file}", limit)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise common.failure(exc, f"{where}.limit", f"write hugetlb.{size}.{reserved_file}") from None


def devices(d: str, rules: list[tuple[bool, str, int, int, int]], field: str) -> None:
    """Start from deny-all, then apply the rules in order, as runc does.

    The kernel's "a" in devices.deny empties the allow list and flips the default
    to deny; every later rule adds or removes exceptions in the listed order.
    """
    put(d, "devices.deny", "a", field)
    leading = True
    for i, (allow, kind, major, minor, bits) in enumerate(rules):
        if leading and not allow and kind == "a" and bits == 7:
            continue  # another deny-all: already in place
        leading = False
        name = "devices.allow" if allow else "devices.deny"
        put(d, name, device_rule(kind, major, minor, bits), f"{field}[{i}]")


def device_rule(kind: str, major: int, minor: int, bits: int) -> str:
    access = "".join(letter for letter, bit in (("r", 2), ("w", 4), ("m", 1)) if bits & bit)
    return f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access}"


def net_cls(d: str, class_id: object, field: str) -> None:
    put(d, "net_cls.classid", integer(class_id, field, 0), field)


def net_prio(d: str, priorities: object, field: str) -> None:
    for i, entry in enumerate(priorities if isinstance(priorities, list) else ()):
        where = f"{field}[{i}]"
        name = common.text(entry.get("name") if isinstance(entry, dict) else None, where + ".name")
        put(d, "net_prio.ifpriomap", f"{name} {integer(entry.get('priority'), where + '.priority', 0)}", where)


def rdma(d: str, rdma: dict, field: str) -> None:
    """rdma.max lines; v1 and v2 share the format."""
    for device, limits in rdma.items():
        where = f"{field}.{device}"
        if not isinstance(limits, dict):
            raise InvalidParameter(f"{where}: must be an object")
        parts = [device]
        for key, name in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")):
            if limits.get(key) is not None:
                parts.append(f"{name}={integer(limits[key], f'{where}.{key}', 0)}")
        if len(parts) > 1:
            put(d, "rdma.max", " ".join(parts), where)
