"""The per-container kernel settings of HostConfig: Ulimits, Sysctls and ShmSize.

- Ulimits [{Name, Soft, Hard}] become process.rlimits; the runtime clamps a limit above what this
  host allows and warns (root lacks CAP_SYS_RESOURCE on these machines, see DESIGN.md).
- Sysctls: only those a container's own namespaces isolate, as runc checks them: IPC
  (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), network (net.*, not with the host's
  network) and UTS (kernel.domainname; kernel.hostname belongs to --hostname).
- ShmSize: the size of /dev/shm (docker's default 64 MiB when 0).
"""

from __future__ import annotations

import resource

from dockyard.errors import InvalidParameter

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
_IPC_SYSCTLS = frozenset(
    ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
     "kernel.shmmni", "kernel.shm_rmid_forced")
)  # fmt: skip


def rlimits(host_config: dict) -> list[dict]:
    result = []
    for ulimit in host_config.get("Ulimits") or []:
        name = str(ulimit.get("Name") or "")
        kind = f"RLIMIT_{name.upper()}"
        if not hasattr(resource, kind) or name != name.lower():
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft, hard = ulimit.get("Soft"), ulimit.get("Hard")
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise InvalidParameter(f"invalid ulimit {name}: Soft and Hard must be integers")
        if soft > hard:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        result.append({"type": kind, "soft": soft, "hard": hard})
    return result


def sysctls(host_config: dict) -> dict[str, str]:
    values = host_config.get("Sysctls") or {}
    host_network = host_config.get("NetworkMode") == "host"
    for key in values:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if host_config.get("IpcMode") == "host":
                raise InvalidParameter(f'sysctl "{key}" not allowed in host IPC namespace')
        elif key.startswith("net."):
            if host_network:
                raise InvalidParameter(f'sysctl "{key}" not allowed in host network namespace')
        elif key == "kernel.domainname":
            if host_config.get("UTSMode") == "host":
                raise InvalidParameter(f'sysctl "{key}" not allowed in host UTS namespace')
        else:
            raise InvalidParameter(f'sysctl "{key}" is not in a separate kernel namespace')
    return {key: str(value) for key, value in values.items()}


def shm_size(host_config: dict) -> int:
    size = host_config.get("ShmSize") or 0
    if size < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    return size or DEFAULT_SHM_SIZE


def shm_mount(mounts: list[dict], host_config: dict) -> list[dict]:
    """The mounts with /dev/shm sized as HostConfig.ShmSize asks."""
    size = f"size={shm_size(host_config) // 1024}k"
    return [
        {**m, "options": [o for o in m["options"] if not o.startswith("size=")] + [size]}
        if m["destination"] == "/dev/shm" and m["type"] == "tmpfs"
        else m
        for m in mounts
    ]
