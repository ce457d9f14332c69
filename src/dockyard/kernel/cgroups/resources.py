"""linux.resources to control files: find the hierarchy holding each controller, then
hand the OCI object to the v1 or v2 writer for it.

In hybrid mode one cgroup can need both: here memory lives in v1 and hugetlb in
the unified hierarchy, so the choice is made per controller, never per host.
"""

from __future__ import annotations

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel.cgroups import common, v1

_CPU_KEYS = ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod", "idle")


def apply(cgroup, resources: object) -> list[str]:
    """Write every present field; returns warnings for fields this host ignores."""
    if not isinstance(resources, dict):
        raise InvalidParameter("linux.resources: must be an object")
    warnings: list[str] = []
    for key, value in resources.items():
        handler = _HANDLERS.get(key)
        if handler is not None and value is not None:
            handler(cgroup, value, f"linux.resources.{key}", warnings)
    return warnings


def _need(cgroup, controller: str, field: str) -> tuple[int, str]:
    found = cgroup.locate(controller)
    if found is None:
        raise Unsupported(f"{field}: the {controller} cgroup controller is not available on this host")
    return found


def _present(section: dict, keys=None) -> bool:
    return any(section.get(k) is not None for k in keys or section)


def _memory(cgroup, memory: object, field: str, warnings: list) -> None:
    memory = _object(memory, field)
    if _present(memory):
        version, d = _need(cgroup, "memory", field)
        _writer(version, "memory")(d, memory, field, warnings)


def _cpu(cgroup, cpu: object, field: str, warnings: list) -> None:
    cpu = _object(cpu, field)
    if _present(cpu, _CPU_KEYS):
        version, d = _need(cgroup, "cpu", field)
        _writer(version, "cpu")(d, cpu, field)
    if cpu.get("cpus") or cpu.get("mems"):
        _, d = _need(cgroup, "cpuset", field)
        v1.cpuset(d, cpu, field)  # same files in v2


def _pids(cgroup, pids: object, field: str, warnings: list) -> None:
    pids = _object(pids, field)
    if _present(pids):
        v1.pids(_need(cgroup, "pids", field)[1], pids, field)  # same file in v2


def _block_io(cgroup, block_io: object, field: str, warnings: list) -> None:
    block_io = _object(block_io, field)
    if not _present(block_io):
        return
    found = cgroup.locate("blkio")
    if found is not None and found[0] == 1:
        v1.blkio(found[1], block_io, field, warnings)
    else:
        from dockyard.kernel.cgroups import v2

        v2.io(_need(cgroup, "io", field)[1], block_io, field, warnings)


def _hugetlb(cgroup, limits: object, field: str, warnings: list) -> None:
    if not isinstance(limits, list):
        raise InvalidParameter(f"{field}: must be an array")
    if limits:
        version, d = _need(cgroup, "hugetlb", field)
        if version == 1:
            v1.hugetlb(d, limits, field, "limit_in_bytes", "rsvd.limit_in_bytes")
        else:
            _writer(2, "hugetlb")(d, limits, field)


def _devices(cgroup, rules: object, field: str, warnings: list) -> None:
    """The list as given, on a deny-all start; the runtime appends what every container may use."""
    parsed = common.device_rules(rules, field)
    found = cgroup.locate("devices")
    if found is not None:
        v1.devices(found[1], parsed, field)
        return
    d = cgroup.unified_dir
    if d is None:
        raise Unsupported(f"{field}: neither the devices controller nor cgroup v2 is available")
    from dockyard.kernel.cgroups import devices_bpf

    try:
        devices_bpf.install(d, parsed)
    except OSError as exc:
        raise OSError(exc.errno, f"{field}: {exc.strerror}") from None


def _network(cgroup, network: object, field: str, warnings: list) -> None:
    network = _object(network, field)
    for key, controller, write in (("classID", "net_cls", v1.net_cls), ("priorities", "net_prio", v1.net_prio)):
        if network.get(key) is None:
            continue
        found = cgroup.locate(controller)
        if found is None or found[0] != 1:
            warnings.append(f"{field}.{key}: no {controller} cgroup v1 hierarchy is mounted, ignored")
        else:
            write(found[1], network[key], f"{field}.{key}")


def _rdma(cgroup, rdma: object, field: str, warnings: list) -> None:
    rdma = _object(rdma, field)
    if rdma:
        v1.rdma(_need(cgroup, "rdma", field)[1], rdma, field)  # same format in v2


def _unified(cgroup, values: object, field: str, warnings: list) -> None:
    values = _object(values, field)
    if not values:
        return
    d = cgroup.unified_dir
    if d is None:
        raise Unsupported(f"{field}: needs cgroup v2, but this host mounts only cgroup v1")
    _writer(2, "unified")(d, values, field)


def _object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidParameter(f"{field}: must be an object")
    return value


def _writer(version: int, name: str):
    if version == 1:
        return getattr(v1, name)
    from dockyard.kernel.cgroups import v2  # only hosts with cgroup v2 controllers pay for it

    return getattr(v2, name)


_HANDLERS = {
    "memory": _memory,
    "cpu": _cpu,
    "pids": _pids,
    "blockIO": _block_io,
    "hugepageLimits": _hugetlb,
    "network": _network,
    "rdma": _rdma,
    "devices": _devices,
    "unified": _unified,
}
