"""The OCI config.json for a docker container: the image's config, the create request's Config and HostConfig.

What docker (moby's daemon/oci_linux.go) puts in every container's spec, and
what Dockyard does the same way:

- args: Entrypoint + Cmd, where a create request's Entrypoint drops the image's Cmd
- env: the image's, overridden key by key by the request's, HOSTNAME first, PATH if none
- user: "name", "uid", "uid:gid" or "name:group", resolved in the container's /etc/passwd and /etc/group
- docker's 14 default capabilities, CapAdd/CapDrop ("ALL" included), Privileged for all
- /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys (ro), /sys/fs/cgroup (ro), and
  /etc/hostname, /etc/hosts, /etc/resolv.conf bound from the container's directory
- masked and read-only /proc and /sys paths (unless Privileged)
- resources: Memory, MemoryReservation, MemorySwap, CpuShares, CpuQuota/CpuPeriod, NanoCpus,
  CpusetCpus/Mems, PidsLimit, BlkioWeight, OomKillDisable

Not yet: docker's default seccomp profile (containers run unfiltered until it is
written), AppArmor (absent on these hosts), user namespace remapping.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidParameter
from dockyard.runtime.defaults import MASKED_PATHS, READONLY_PATHS, default_mounts
from dockyard.runtime.spec import OCI_VERSION

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# moby's oci/caps/defaults.go
DOCKER_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)  # fmt: skip
CPU_PERIOD = 100_000  # what NanoCpus is spread over, as docker does


def command(image_config: dict, config: dict) -> list[str]:
    entrypoint = config.get("Entrypoint")
    cmd = config.get("Cmd")
    if entrypoint is None:
        entrypoint = image_config.get("Entrypoint") or []
        if cmd is None:
            cmd = image_config.get("Cmd") or []
    args = [*(entrypoint or []), *(cmd or [])]
    if not args:
        raise InvalidParameter("no command specified")
    return args


def environment(image_config: dict, config: dict, hostname: str) -> list[str]:
    merged: dict[str, str] = {}
    for entry in [f"HOSTNAME={hostname}", *(image_config.get("Env") or []), *(config.get("Env") or [])]:
        key, sep, value = entry.partition("=")
        if not key:
            raise InvalidParameter(f"invalid environment variable: {entry}")
        if not sep:
            continue  # "NAME" alone means "take it from the client's environment": the CLI already did
        merged[key] = value
    if "PATH" not in merged:
        merged["PATH"] = DEFAULT_PATH.partition("=")[2]
    if config.get("Tty") and "TERM" not in merged:
        merged["TERM"] = "xterm"
    return [f"{key}={value}" for key, value in merged.items()]


def _lookup(path: str, name: str, field: int) -> int | None:
    """The numeric id of name in a passwd or group file of the container, by field index."""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) > 3 and parts[0] == name:
                    return int(parts[field])
    except (OSError, ValueError):
        return None
    return None


def _passwd_entry(rootfs: str, uid: int) -> tuple[int, str] | None:
    """(primary gid, home) of uid in the container's /etc/passwd."""
    try:
        with open(os.path.join(rootfs, "etc/passwd"), errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) > 5 and parts[2].isdigit() and int(parts[2]) == uid and parts[3].isdigit():
                    return int(parts[3]), parts[5]
    except OSError:
        return None
    return None


def resolve_user(rootfs: str, user: str) -> dict:
    """docker's --user: a name or uid, optionally with :group or :gid, resolved inside the container."""
    name, _, group = (user or "0").partition(":")
    uid = _numeric_id(rootfs, "passwd", name, "user")
    if group:
        gid = _numeric_id(rootfs, "group", group, "group")
    else:
        entry = _passwd_entry(rootfs, uid)
        gid = entry[0] if entry else 0
    return {"uid": uid, "gid": gid}


def _numeric_id(rootfs: str, database: str, name: str, what: str) -> int:
    """A number as given, else the id of name in the container's /etc/passwd or /etc/group."""
    if name.isdigit():
        return int(name)
    found = _lookup(os.path.join(rootfs, "etc", database), name, 2)
    if found is None:
        raise InvalidParameter(f"unable to find {what} {name}: no matching entries in {database} file")
    return found


def capabilities(host_config: dict) -> list[str]:
    from dockyard.kernel.caps import NAMES, own_bounding

    if host_config.get("Privileged"):
        return own_bounding()  # all the daemon has, as docker gives: a host may withhold some from root
    caps = list(DOCKER_CAPS)

    def normalised(name: str) -> str:
        upper = name.upper()
        full = upper if upper.startswith("CAP_") or upper == "ALL" else f"CAP_{upper}"
        if full != "ALL" and full not in NAMES:
            raise InvalidParameter(f"unknown capability: {name!r}")
        return full

    for name in host_config.get("CapAdd") or []:
        cap = normalised(name)
        caps = own_bounding() if cap == "ALL" else [*caps, cap] if cap not in caps else caps
    for name in host_config.get("CapDrop") or []:
        cap = normalised(name)
        caps = [] if cap == "ALL" else [c for c in caps if c != cap]
    return caps


def resources(host_config: dict) -> dict:
    result: dict = {}
    memory: dict = {}
    for key, field in (("Memory", "limit"), ("MemoryReservation", "reservation"), ("MemorySwap", "swap")):
        if host_config.get(key):
            memory[field] = host_config[key]
    if host_config.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        result["memory"] = memory
    cpu: dict = {}
    if host_config.get("CpuShares"):
        cpu["shares"] = host_config["CpuShares"]
    if host_config.get("NanoCpus"):
        if host_config.get("CpuQuota") or host_config.get("CpuPeriod"):
            raise InvalidParameter("conflicting options: Nano CPUs and CPU Period/Quota cannot both be set")
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = host_config["NanoCpus"] * CPU_PERIOD // 10**9
    else:
        for key, field in (("CpuQuota", "quota"), ("CpuPeriod", "period")):
            if host_config.get(key):
                cpu[field] = host_config[key]
    for key, field in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if host_config.get(key):
            cpu[field] = host_config[key]
    if cpu:
        result["cpu"] = cpu
    if host_config.get("PidsLimit"):
        result["pids"] = {"limit": host_config["PidsLimit"]}
    if host_config.get("BlkioWeight"):
        result["blockIO"] = {"weight": host_config["BlkioWeight"]}
    return result


def container_files(container_dir: str) -> list[dict]:
    """Binds of the /etc files docker writes per container (see write_container_files)."""
    return [
        {"destination": f"/etc/{name}", "type": "bind", "source": os.path.join(container_dir, name),
         "options": ["rbind", "rprivate"]}
        for name in ("hostname", "hosts", "resolv.conf")
    ]  # fmt: skip


def write_container_files(container_dir: str, files: dict[str, str]) -> None:
    """The container's hostname, hosts and resolv.conf (their text comes from its network sandbox)."""
    for name in ("hostname", "hosts", "resolv.conf"):
        with open(os.path.join(container_dir, name), "w") as f:
            f.write(files[name])


def build(
    *,
    container_id: str,
    container_dir: str,
    rootfs: str,
    image_config: dict,
    config: dict,
    host_config: dict,
    hostname: str,
    netns_path: str | None,
) -> dict:
    """The OCI config for a container; rootfs must already be mounted (users are looked up in it).

    netns_path: the network namespace to join (made by the network sandbox), None for the host's.
    """
    privileged = bool(host_config.get("Privileged"))
    caps = capabilities(host_config)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if netns_path is not None:
        namespaces.append({"type": "network", "path": netns_path})
    mounts = [m for m in default_mounts() if not (privileged and m["destination"] == "/sys")]
    if privileged:
        mounts.append(
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"]}
        )
    mounts += container_files(container_dir)
    mounts += _bind_mounts(host_config)
    mounts += _tmpfs_mounts(host_config)
    linux_extra = {}
    seccomp = seccomp_option(host_config)
    if not privileged and seccomp != "unconfined":
        from dockyard.runtime.default_seccomp import profile

        linux_extra["seccomp"] = profile(caps)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": bool(config.get("Tty")),
            "user": resolve_user(rootfs, config.get("User") or image_config.get("User") or ""),
            "args": command(image_config, config),
            "env": environment(image_config, config, hostname),
            "cwd": config.get("WorkingDir") or image_config.get("WorkingDir") or "/",
            "capabilities": {kind: list(caps) for kind in ("bounding", "effective", "permitted")},
            "noNewPrivileges": "no-new-privileges" in (host_config.get("SecurityOpt") or [])
            or "no-new-privileges:true" in (host_config.get("SecurityOpt") or []),
            "oomScoreAdj": host_config.get("OomScoreAdj") or 0,
        },
        "root": {"path": rootfs, "readonly": bool(host_config.get("ReadonlyRootfs"))},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": f"/dy-{container_id}",
            "resources": {"devices": [{"allow": privileged, "access": "rwm"}], **resources(host_config)},
            "namespaces": namespaces,
            "maskedPaths": [] if privileged else [*MASKED_PATHS, "/proc/interrupts", "/sys/devices/virtual/powercap"],
            "readonlyPaths": [] if privileged else list(READONLY_PATHS),
            **linux_extra,
        },
    }


def seccomp_option(host_config: dict) -> str | None:
    """--security-opt seccomp=...: "unconfined", or None for the default; a custom profile is refused."""
    for option in host_config.get("SecurityOpt") or []:
        key, sep, value = option.replace(":", "=", 1).partition("=")
        if key == "seccomp" and sep:
            if value == "unconfined":
                return "unconfined"
            raise InvalidParameter("custom seccomp profiles are not supported yet: use seccomp=unconfined or none")
    return None


def _bind_mounts(host_config: dict) -> list[dict]:
    """HostConfig.Binds of host paths: "/host:/container[:ro|rw][,propagation]" (named volumes come later)."""
    mounts = []
    for bind in host_config.get("Binds") or []:
        parts = bind.split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/"):
            raise InvalidParameter(f"invalid volume specification: '{bind}'")
        source, destination = parts[0], parts[1]
        if not source.startswith("/"):
            raise InvalidParameter(f"named volumes are not supported yet: '{bind}'")
        if not os.path.exists(source):
            raise InvalidParameter(f"invalid mount config: bind source path does not exist: {source}")
        modes = parts[2].split(",") if len(parts) == 3 else []
        access = "ro" if "ro" in modes else "rw"
        propagation = next((m for m in modes if m in ("private", "rprivate", "shared", "rshared", "slave", "rslave")),
                           "rprivate")  # fmt: skip
        mounts.append({"destination": destination, "type": "bind", "source": source,
                       "options": ["rbind", access, propagation]})  # fmt: skip
    return mounts


def _tmpfs_mounts(host_config: dict) -> list[dict]:
    mounts = []
    for destination, options in (host_config.get("Tmpfs") or {}).items():
        if not destination.startswith("/"):
            raise InvalidParameter(f"invalid tmpfs mount point {destination!r}: it must be an absolute path")
        extra = [o for o in options.split(",") if o] if options else []
        mounts.append({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "noexec", *extra]})  # fmt: skip
    return mounts
