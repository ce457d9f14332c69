"""HostConfig's namespace modes: PidMode, IpcMode, UTSMode and UsernsMode, as dockerd reads them.

- PidMode: "" (a pid namespace of its own), "host" (none: `ps` shows the host's processes),
  "container:<name|id>" (that running container's).
- IpcMode: "private" (dockerd's default since API 1.40; "shareable" before), "shareable" (others may
  join it), "host" (the host's namespace and /dev/shm), "none" (a namespace of its own, no /dev/shm),
  "container:<name|id>" (a shareable running container's namespace and /dev/shm). ShmSize sizes the
  container's own /dev/shm only. A shareable container's /dev/shm is a tmpfs the daemon mounts on the
  host (as dockerd's ShmPath) and binds in: the kernel refuses a bind from another mount namespace, so
  a joiner could not take the donor's from inside it.
- UTSMode: "" or "host" (the host's hostname; a container hostname with it is refused).
- UsernsMode: "" or "host": Dockyard remaps no users, so every container is in the host's user namespace.

check() refuses at create what dockerd's verifyPlatformContainerSettings and validateNetMode refuse, with
their messages; the containers named by container: modes are looked up at start, as dockerd does
(daemon/container_operations_unix.go), where namespaces() and shm_mounts() give the spec its part.
"""

from __future__ import annotations

from dockyard.errors import Conflict, InvalidParameter

HOST, PRIVATE, SHAREABLE, NONE, CONTAINER = "host", "private", "shareable", "none", "container:"
DEFAULT_IPC_MODE = PRIVATE
LEGACY_IPC_MODE = SHAREABLE  # what API versions before 1.40 mean by an empty IpcMode
HOST_SHM = "/dev/shm"


def container_of(mode: str | None) -> str:
    """The name or id a container:<name|id> mode names, "" for any other mode."""
    mode = mode or ""
    return mode.removeprefix(CONTAINER) if mode.startswith(CONTAINER) else ""


def _valid(mode: str, plain: tuple[str, ...]) -> bool:
    return mode in plain or bool(container_of(mode))


def check(host_config: dict, hostname: str = "") -> None:
    """Refuse modes dockerd refuses (InvalidParameter, dockerd's messages); the container: targets are
    checked at start."""
    ipc, pid = host_config.get("IpcMode") or "", host_config.get("PidMode") or ""
    uts, userns = host_config.get("UTSMode") or "", host_config.get("UsernsMode") or ""
    if not _valid(ipc, ("", PRIVATE, SHAREABLE, HOST, NONE)):
        raise InvalidParameter(f"invalid IPC mode: {ipc}")
    if not _valid(pid, ("", HOST)):
        raise InvalidParameter(f"invalid PID mode: {pid}")
    if uts not in ("", HOST):
        raise InvalidParameter(f"invalid UTS mode: {uts}")
    if uts == HOST and hostname:
        raise InvalidParameter("conflicting options: hostname and the UTS mode")
    if userns not in ("", HOST):
        raise InvalidParameter(
            f"invalid USER NS mode: {userns}: this daemon runs no user namespaces (only host is supported)"
        )


def donor_paths(kind: str, donor_id: str, running: bool, pid: int, donor_ipc: str, donor_shm: str) -> tuple[str, str]:
    """(the namespace to join, the /dev/shm to bind or "") of a donor container that a container: mode names
    for kind ("pid" or "ipc"), as dockerd refuses them at start: a stopped donor (Conflict), an IPC donor that
    is neither shareable nor the host's. donor_shm: the host directory of a shareable donor's /dev/shm."""
    if not running:
        raise Conflict(f"Container {donor_id} is not running")
    shm = ""
    if kind == "ipc":
        if donor_ipc not in (SHAREABLE, HOST):
            raise InvalidParameter(
                f"container {donor_id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
            )
        shm = HOST_SHM if donor_ipc == HOST else donor_shm
    return f"/proc/{pid}/ns/{kind}", shm


def namespaces(host_config: dict, joined: dict[str, str]) -> list[dict]:
    """The spec's pid, ipc and uts namespaces; joined: the namespace paths (by type) of the containers that
    container: modes name, running."""
    result = []
    for kind, mode in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode")):
        if kind in joined:
            result.append({"type": kind, "path": joined[kind]})
        elif host_config.get(mode) != HOST:
            result.append({"type": kind})
    return result


def shm_mounts(mounts: list[dict], host_config: dict, shm_source: str = "") -> list[dict]:
    """The mounts with /dev/shm as IpcMode wants it: the host's bound for host, none for none, shm_source
    bound for shareable and container: (a tmpfs on the host: the container's own or its donor's)."""
    ipc = host_config.get("IpcMode") or ""
    source = HOST_SHM if ipc == HOST else shm_source
    result = []
    for mount in mounts:
        if mount["destination"] == "/dev/shm":
            if ipc == NONE:
                continue
            if source:
                mount = {"destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rprivate"]}
        result.append(mount)
    return result
