"""linux.resources written to cgroup v2 control files, translating v1 semantics as runc does.

The OCI resources object speaks cgroup v1 (shares, memory+swap, blkio weights);
the conversions are pure functions below so they can be tested on their own:

    cpu.shares 2..262144       -> cpu.weight 1..10000 (1024 -> 100, the defaults match)
    quota/period               -> cpu.max "quota period" ("max" when quota is -1)
    memory.swap (memory+swap)  -> memory.swap.max = swap - limit
    memory.reservation         -> memory.low
    blkio weight 10..1000      -> io.bfq.weight as is, or io.weight 1..10000
    throttle*Device            -> io.max "maj:min rbps=|wbps=|riops=|wiops="
    pids.limit                 -> pids.max; hugepageLimits -> hugetlb.<size>.max
"""

from __future__ import annotations

import math

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.cgroups import common, v1
from dockyard.kernel.cgroups.common import integer, put

DEFAULT_CPU_PERIOD = 100000  # microseconds, the kernel's default CFS period


def cpu_weight(shares: int) -> int:
    """Map cpu.shares onto cpu.weight so both ends and the defaults line up.

    Linear mapping sends the default 1024 shares to weight 39, which starves
    docker's default containers against systemd services at weight 100. A
    quadratic curve in log2 space through (2, 1), (1024, 100) and (262144, 10000)
    keeps all three fixed points; recent crun and runc releases use the same curve.
    """
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    x = math.log2(shares)
    exponent = (x * x + 125 * x) / 612 - 7 / 34
    return min(10000, max(1, math.ceil(round(10**exponent, 6))))


def io_weight(blkio_weight: int) -> int:
    """blkio weight (10..1000) onto io.weight's 1..10000, linearly."""
    return 1 + (blkio_weight - 10) * 9999 // 990


def swap_max(swap: int | None, limit: int | None, field: str) -> str | None:
    """memory.swap.max from the OCI memory+swap value; None when nothing is to be written."""
    if not swap:
        # Unlimited memory without a swap setting means unlimited swap too.
        return "max" if limit == -1 else None
    if swap == -1:
        return "max"
    if not limit or limit == -1:
        raise InvalidParameter(f"{field}.swap: a memory+swap limit needs a memory limit")
    if swap < limit:
        raise InvalidParameter(f"{field}.swap: {swap} is memory+swap and must be at least memory.limit {limit}")
    return str(swap - limit)


def cpu_max(quota: int | None, period: int | None, current: str | None) -> str:
    """cpu.max "quota period"; the missing half is kept from current ("max 100000")."""
    old_quota, _, old_period = (current or f"max {DEFAULT_CPU_PERIOD}").partition(" ")
    quota_text = old_quota if not quota else "max" if quota < 0 else str(quota)
    return f"{quota_text} {period or old_period or DEFAULT_CPU_PERIOD}"


def _opt(section: dict, key: str, field: str) -> int | None:
    value = section.get(key)
    return None if value is None else integer(value, f"{field}.{key}", -1)


def _limit(value: int) -> str:
    return "max" if value == -1 else str(value)


def memory(d: str, memory: dict, field: str, warnings: list) -> None:
    limit = _opt(memory, "limit", field)
    swap = swap_max(_opt(memory, "swap", field), limit, field)
    if limit and memory.get("checkBeforeUpdate") is True and limit != -1:
        # v1 refuses a limit below usage; v2 would OOM-kill instead. The spec lets us refuse.
        usage = common.read_int(f"{d}/memory.current")
        if usage is not None and limit < usage:
            raise InvalidParameter(f"{field}.limit: {limit} is below the current usage {usage}")
    if swap is not None:
        try:
            common.write(f"{d}/memory.swap.max", swap)
        except FileNotFoundError:
            # No swap accounting: "max" and "0" ask for nothing that needs it.
            if swap not in ("max", "0"):
                raise Unsupported(f"{field}.swap: swap accounting is off on this host (no memory.swap.max)") from None
        except OSError as exc:
            raise common.failure(exc, f"{field}.swap", "write memory.swap.max") from None
    if limit:
        put(d, "memory.max", _limit(limit), f"{field}.limit")
    reservation = _opt(memory, "reservation", field)
    if reservation:
        put(d, "memory.low", _limit(reservation), f"{field}.reservation")
    for key, why in (
        ("swappiness", "cgroup v2 has no per-cgroup swappiness"),
        ("disableOOMKiller", "cgroup v2 cannot disable the OOM killer"),
        ("kernel", "kernel memory limits are not supported"),
        ("kernelTCP", "cgroup v2 has no separate TCP memory limit"),
    ):
        if memory.get(key) not in (None, False, 0, -1):
            warnings.append(f"{field}.{key}: {why}, ignored")


def cpu(d: str, cpu: dict, field: str) -> None:
    shares = _opt(cpu, "shares", field)
    if shares:
        put(d, "cpu.weight", cpu_weight(shares), f"{field}.shares")
    quota = _opt(cpu, "quota", field)
    period = _opt(cpu, "period", field)
    if quota or period:
        current = None
        if not quota or not period:
            try:
                current = common.read(f"{d}/cpu.max").strip()
            except OSError:
                pass
        put(d, "cpu.max", cpu_max(quota, period, current), f"{field}.{'quota' if quota else 'period'}")
    burst = _opt(cpu, "burst", field)
    if burst is not None:
        put(d, "cpu.max.burst", burst, f"{field}.burst")
    idle = _opt(cpu, "idle", field)
    if idle is not None:
        put(d, "cpu.idle", idle, f"{field}.idle")
    for key in ("realtimeRuntime", "realtimePeriod"):
        if cpu.get(key):
            raise Unsupported(f"{field}.{key}: realtime CPU limits do not exist in cgroup v2")


def io(d: str, block_io: dict, field: str, warnings: list) -> None:
    weight = block_io.get("weight")
    if weight is not None:
        _weight(d, None, integer(weight, f"{field}.weight", 0), f"{field}.weight")
    if block_io.get("leafWeight") is not None:
        warnings.append(f"{field}.leafWeight: cgroup v2 has no leaf weights, ignored")
    for i, entry in enumerate(block_io.get("weightDevice") or ()):
        where = f"{field}.weightDevice[{i}]"
        device = common.device_numbers(entry, where)
        if entry.get("weight") is not None:
            _weight(d, device, integer(entry["weight"], where + ".weight", 0), where)
        if entry.get("leafWeight") is not None:
            warnings.append(f"{where}.leafWeight: cgroup v2 has no leaf weights, ignored")
    for (key, _), name in zip(v1.THROTTLES, ("rbps", "wbps", "riops", "wiops"), strict=True):
        for i, entry in enumerate(block_io.get(key) or ()):
            where = f"{field}.{key}[{i}]"
            rate = integer(entry.get("rate") if isinstance(entry, dict) else None, where + ".rate", 0)
            put(d, "io.max", f"{common.device_numbers(entry, where)} {name}={rate}", where)


def _weight(d: str, device: str | None, weight: int, field: str) -> None:
    # BFQ's io.bfq.weight keeps blkio's 1..1000 scale; io.weight (for io.cost) is 1..10000.
    prefix = f"{device} " if device else ""
    try:
        common.write(f"{d}/io.bfq.weight", f"{prefix}{weight}")
        return
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise common.failure(exc, field, "write io.bfq.weight") from None
    if not 10 <= weight <= 1000:
        raise InvalidParameter(f"{field}: must be between 10 and 1000, not {weight}")
    try:
        common.write(f"{d}/io.weight", f"{prefix or 'default '}{io_weight(weight)}")
    except FileNotFoundError:
        raise Unsupported(f"{field}: no io.bfq.weight or io.weight: the io controller has no weights here") from None
    except OSError as exc:
        raise common.failure(exc, field, "write io.weight") from None


def hugetlb(d: str, limits: list, field: str) -> None:
    v1.hugetlb(d, limits, field, "max", "rsvd.max")


def unified(d: str, values: dict, field: str) -> None:
    """linux.resources.unified: each key is a file of the cgroup, written verbatim."""
    for key, value in values.items():
        where = f"{field}.{key}"
        if not key or "/" in key or key.startswith("."):
            raise InvalidParameter(f"{where}: not a cgroup file name")
        if not isinstance(value, str):
            raise InvalidParameter(f"{where}: must be a string")
        try:
            common.write(f"{d}/{key}", value)
        except FileNotFoundError:
            controller = key.partition(".")[0]
            raise Unsupported(
                f"{where}: no such file in the cgroup v2 hierarchy (is the {controller} controller available?)"
            ) from None
        except OSError as exc:
            raise common.failure(exc, where, f"write {key}") from None
