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
- resources (container_resources), --device (container_devices), Ulimits, Sysctls, ShmSize
  (container_settings), GroupAdd, OomScoreAdj, CgroupParent, Init (docker-init as PID 1)
- seccomp: our default allowlist (dockyard.runtime.default_seccomp) or the user's profile,
  none for Privileged or seccomp=unconfined; the other --security-opt entries (security_opts)

Not yet: AppArmor (absent on these hosts), user namespace remapping.
"""

from __future__ import annotations

import os
import shutil

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.runtime import (
    container_devices,
    container_resources,
    container_settings,
    namespace_modes,
    seccomp_profile,
    security_opts,
)
from dockyard.runtime.defaults import MASKED_PATHS, READONLY_PATHS, default_mounts
from dockyard.runtime.spec import OCI_VERSION

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# moby's oci/caps/defaults.go
DOCKER_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)  # fmt: skip


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


def config_env(image_config: dict, config: dict) -> list[str]:
    """Config.Env as dockerd records it: the container's entries as given (a bare "NAME" too),
    then the image's entries whose names the container does not set."""
    own = list(config.get("Env") or [])
    names = {entry.partition("=")[0] for entry in own}
    return own + [entry for entry in image_config.get("Env") or [] if entry.partition("=")[0] not in names]


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


def resolve_user(rootfs: str, user: str, group_add: list | None = None) -> dict:
    """docker's --user: a name or uid, optionally with :group or :gid, resolved inside the container;
    the supplementary groups are those the container's /etc/group lists the user in, then --group-add's."""
    name, _, group = (user or "0").partition(":")
    uid = _numeric_id(rootfs, "passwd", name, "user")
    if group:
        gid = _numeric_id(rootfs, "group", group, "group")
    else:
        entry = _passwd_entry(rootfs, uid)
        gid = entry[0] if entry else 0
    resolved: dict = {"uid": uid, "gid": gid}
    extra = _member_of(rootfs, name) if not group else []
    for added in group_add or []:
        added_gid = _numeric_id(rootfs, "group", str(added), "group")
        if added_gid not in extra:
            extra.append(added_gid)
    if extra:
        resolved["additionalGids"] = extra
    return resolved


def _member_of(rootfs: str, user: str) -> list[int]:
    """The gids of the groups whose member list in the container's /etc/group names user."""
    found = []
    try:
        with open(os.path.join(rootfs, "etc/group"), errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) > 3 and parts[2].isdigit() and user in parts[3].split(","):
                    found.append(int(parts[2]))
    except OSError:
        return []
    return found


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
    mounts: list[dict] | None = None,
    init_path: str = "",
    joined_namespaces: dict[str, str] | None = None,
    shm_source: str = "",
) -> dict:
    """The OCI config for a container; rootfs must already be mounted (users are looked up in it).

    netns_path: the network namespace to join (made by the network sandbox), None for the host's.
    mounts are the container's binds and volumes as OCI mounts (dockyard.volume.mountspec.oci_mounts),
    their volumes already mounted on the host. init_path: the daemon's --init-path, "" to look one up.
    joined_namespaces and shm_source: what PidMode and IpcMode join, the host's tmpfs to bind on /dev/shm
    (namespace_modes).
    """
    privileged = bool(host_config.get("Privileged"))
    caps = capabilities(host_config)
    namespaces = [*namespace_modes.namespaces(host_config, joined_namespaces or {}), {"type": "mount"}]
    if netns_path is not None:
        namespaces.append({"type": "network", "path": netns_path})
    if host_config.get("CgroupnsMode") == "private":
        namespaces.append({"type": "cgroup"})
    shm = namespace_modes.shm_mounts(container_settings.shm_mount(default_mounts(), host_config), host_config,
                                     shm_source)  # fmt: skip
    all_mounts = [m for m in shm if not (privileged and m["destination"] == "/sys")]
    if privileged:
        all_mounts.append(
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"]}
        )
    all_mounts += container_files(container_dir)
    all_mounts += mounts or []
    all_mounts += _tmpfs_mounts(host_config)
    all_mounts += init_mounts(host_config, init_path)
    process_extra = {}
    rows, columns = (host_config.get("ConsoleSize") or [0, 0])[:2]
    if config.get("Tty") and rows and columns:  # the CLI's terminal size, so that the first screen fits
        process_extra["consoleSize"] = {"height": rows, "width": columns}
    security = security_opts.parse(host_config.get("SecurityOpt"))
    seccomp = seccomp_config(security, host_config, caps)
    device_nodes, device_rules = container_devices.devices(host_config)
    device_rules += container_resources.device_rules(host_config)
    linux_extra = {"seccomp": seccomp} if seccomp else {}
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": bool(config.get("Tty")),
            "user": resolve_user(
                rootfs, config.get("User") or image_config.get("User") or "", host_config.get("GroupAdd")
            ),
            "args": [*init_args(host_config), *command(image_config, config)],
            "env": environment(image_config, config, hostname),
            "cwd": config.get("WorkingDir") or image_config.get("WorkingDir") or "/",
            "capabilities": {kind: list(caps) for kind in ("bounding", "effective", "permitted")},
            "noNewPrivileges": security.no_new_privileges,
            "oomScoreAdj": host_config.get("OomScoreAdj") or 0,
            **process_extra,
            "rlimits": container_settings.rlimits(host_config),
        },
        "root": {"path": rootfs, "readonly": bool(host_config.get("ReadonlyRootfs"))},
        # The host's UTS namespace keeps the host's name (runtimes refuse a hostname without a namespace).
        **({} if host_config.get("UTSMode") == namespace_modes.HOST else {"hostname": hostname}),
        "mounts": all_mounts,
        "linux": {
            "cgroupsPath": cgroups_path(host_config, container_id),
            "resources": {
                "devices": [{"allow": privileged, "access": "rwm"}, *device_rules],
                **container_resources.resources(host_config),
            },
            "devices": device_nodes,
            "sysctl": container_settings.sysctls(host_config),
            "namespaces": namespaces,
            **system_paths(host_config, privileged or security.unconfined_system_paths),
            **linux_extra,
        },
    }


def system_paths(host_config: dict, unconfined: bool) -> dict:
    """Masked and read-only /proc and /sys paths: none for --privileged or systempaths=unconfined,
    else HostConfig's MaskedPaths and ReadonlyPaths (the docker CLI sends [] for
    systempaths=unconfined) or docker's defaults when they are null."""
    if unconfined:
        return {"maskedPaths": [], "readonlyPaths": []}
    masked, readonly = host_config.get("MaskedPaths"), host_config.get("ReadonlyPaths")
    return {
        "maskedPaths": [*MASKED_PATHS, "/proc/interrupts", "/sys/devices/virtual/powercap"]
        if masked is None
        else list(masked),
        "readonlyPaths": list(READONLY_PATHS) if readonly is None else list(readonly),
    }


INIT_PATH = "/sbin/docker-init"  # where docker puts its init in the container
INIT_NAMES = ("docker-init", "tini-static")  # statically linked: images need no C library for it


def init_binary(init_path: str = "") -> str:
    """The host's init for --init: the daemon's --init-path, else docker's own docker-init, or Debian's
    tini-static (the same tini)."""
    if init_path:
        return init_path
    for name in INIT_NAMES:
        found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/usr/local/bin")
        if found:
            return found
    raise Unsupported(f"--init needs one of {', '.join(INIT_NAMES)} on the daemon's host (apt-get install tini)")


def init_args(host_config: dict) -> list[str]:
    """--init: docker-init runs as PID 1, reaps zombies and forwards signals to the command."""
    return [INIT_PATH, "--"] if host_config.get("Init") else []


def init_mounts(host_config: dict, init_path: str = "") -> list[dict]:
    if not host_config.get("Init"):
        return []
    return [{"destination": INIT_PATH, "type": "bind", "source": init_binary(init_path),
             "options": ["rbind", "ro", "rprivate"]}]  # fmt: skip


def host_config_defaults(host_config: dict) -> dict:
    """What dockerd fills into HostConfig at create, so that inspect shows it: /dev/shm's size and,
    unless privileged, the masked and read-only paths."""
    defaults = {"ShmSize": container_settings.shm_size(host_config)}
    if not host_config.get("Privileged"):
        paths = system_paths(host_config, security_opts.parse(host_config.get("SecurityOpt")).unconfined_system_paths)
        defaults["MaskedPaths"], defaults["ReadonlyPaths"] = paths["maskedPaths"], paths["readonlyPaths"]
    return defaults


def seccomp_config(security: security_opts.SecurityOptions, host_config: dict, caps: list[str]) -> dict | None:
    """linux.seccomp: none for --privileged or seccomp=unconfined, the user's profile, or our default."""
    if host_config.get("Privileged") or security.seccomp == "unconfined":
        return None
    if security.seccomp:
        return seccomp_profile.to_oci(seccomp_profile.load(security.seccomp), caps)
    from dockyard.runtime.default_seccomp import profile

    return profile(caps)


def check(host_config: dict, init_path: str = "", hostname: str = "") -> list[str]:
    """Refuse at create what would fail at start (--security-opt, seccomp profiles, resources, devices,
    ulimits, sysctls, namespace modes); the warnings dockerd gives for what it accepts."""
    namespace_modes.check(host_config, hostname)
    security = security_opts.parse(host_config.get("SecurityOpt"))
    if security.seccomp and security.seccomp != "unconfined" and not host_config.get("Privileged"):
        seccomp_profile.check(security.seccomp, capabilities(host_config))
    container_devices.devices(host_config)
    container_settings.rlimits(host_config)
    container_settings.sysctls(host_config)
    container_settings.shm_size(host_config)
    init_mounts(host_config, init_path)
    cgroups_path(host_config, "")
    return container_resources.check(host_config)


def cgroups_path(host_config: dict, container_id: str) -> str:
    """/dy-<id>, or under --cgroup-parent (a path in every hierarchy, as with dockerd's cgroupfs driver)."""
    parent = (host_config.get("CgroupParent") or "").strip("/")
    if ".." in parent.split("/"):
        raise InvalidParameter(f"invalid cgroup parent {host_config['CgroupParent']!r}: it must not contain '..'")
    return f"/{parent}/dy-{container_id}" if parent else f"/dy-{container_id}"


def _tmpfs_mounts(host_config: dict) -> list[dict]:
    mounts = []
    for destination, options in (host_config.get("Tmpfs") or {}).items():
        if not destination.startswith("/"):
            raise InvalidParameter(f"invalid tmpfs mount point {destination!r}: it must be an absolute path")
        extra = [o for o in options.split(",") if o] if options else []
        mounts.append({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "noexec", *extra]})  # fmt: skip
    return mounts
