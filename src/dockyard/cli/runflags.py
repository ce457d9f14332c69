"""The flags of `run` and `create`, and the /containers/create body they make, as the docker CLI maps them.

The mapping was checked against the bodies docker 28 sends (tests/unit/test_cli_runflags.py
captures them with a fake API server): docker sends every zero value too, which the
daemon treats as unset, so only what a flag sets is written here.
"""

from __future__ import annotations

import os

from dockyard.cli import units
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Flag, Options, UsageError

F = Flag
CREATE_FLAGS = (
    F("add-host", "", LIST, "Add a custom host-to-IP mapping (host:ip)"),
    F("attach", "a", LIST, "Attach to STDIN, STDOUT or STDERR"),
    F("blkio-weight", "", INT, "Block IO (relative weight), between 10 and 1000, or 0 to disable", type_name="uint16"),
    F("cap-add", "", LIST, "Add Linux capabilities"),
    F("cap-drop", "", LIST, "Drop Linux capabilities"),
    F("cgroup-parent", "", STRING, "Optional parent cgroup for the container"),
    F("cgroupns", "", STRING, "Cgroup namespace to use (host|private)"),
    F("cidfile", "", STRING, "Write the container ID to the file"),
    F("cpu-period", "", INT, "Limit CPU CFS (Completely Fair Scheduler) period"),
    F("cpu-quota", "", INT, "Limit CPU CFS (Completely Fair Scheduler) quota"),
    F("cpu-shares", "c", INT, "CPU shares (relative weight)"),
    F("cpus", "", STRING, "Number of CPUs", type_name="decimal"),
    F("cpuset-cpus", "", STRING, "CPUs in which to allow execution (0-3, 0,1)"),
    F("cpuset-mems", "", STRING, "MEMs in which to allow execution (0-3, 0,1)"),
    F("device", "", LIST, "Add a host device to the container"),
    F("dns", "", LIST, "Set custom DNS servers"),
    F("dns-option", "", LIST, "Set DNS options"),
    F("dns-search", "", LIST, "Set custom DNS search domains"),
    F("domainname", "", STRING, "Container NIS domain name"),
    F("entrypoint", "", STRING, "Overwrite the default ENTRYPOINT of the image"),
    F("env", "e", LIST, "Set environment variables"),
    F("env-file", "", LIST, "Read in a file of environment variables"),
    F("expose", "", LIST, "Expose a port or a range of ports"),
    F("group-add", "", LIST, "Add additional groups to join"),
    F("health-cmd", "", STRING, "Command to run to check health"),
    F("health-interval", "", STRING, "Time between running the check (ms|s|m|h)", type_name="duration"),
    F("health-retries", "", INT, "Consecutive failures needed to report unhealthy"),
    F(
        "health-start-interval",
        "",
        STRING,
        "Time between running the check during the start period",
        type_name="duration",
    ),
    F(
        "health-start-period",
        "",
        STRING,
        "Start period for the container to initialize before starting health-retries countdown",
        type_name="duration",
    ),
    F("health-timeout", "", STRING, "Maximum time to allow one check to run (ms|s|m|h)", type_name="duration"),
    F("hostname", "h", STRING, "Container host name"),
    F("init", "", BOOL, "Run an init inside the container that forwards signals and reaps processes"),
    F("interactive", "i", BOOL, "Keep STDIN open even if not attached"),
    F("ip", "", STRING, "IPv4 address (e.g., 172.30.100.104)"),
    F("ip6", "", STRING, "IPv6 address (e.g., 2001:db8::33)"),
    F("ipc", "", STRING, "IPC mode to use"),
    F("label", "l", LIST, "Set meta data on a container"),
    F("label-file", "", LIST, "Read in a line delimited file of labels"),
    F("link", "", LIST, "Add link to another container"),
    F("log-driver", "", STRING, "Logging driver for the container"),
    F("log-opt", "", LIST, "Log driver options"),
    F("mac-address", "", STRING, "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    F("memory", "m", STRING, "Memory limit", type_name="bytes"),
    F("memory-reservation", "", STRING, "Memory soft limit", type_name="bytes"),
    F(
        "memory-swap",
        "",
        STRING,
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
        type_name="bytes",
    ),
    F("memory-swappiness", "", INT, "Tune container memory swappiness (0 to 100)", default=-1),
    F("mount", "", LIST, "Attach a filesystem mount to the container", type_name="mount"),
    F("name", "", STRING, "Assign a name to the container"),
    F("network", "", STRING, "Connect a container to a network", type_name="network"),
    F("network-alias", "", LIST, "Add network-scoped alias for the container"),
    F("no-healthcheck", "", BOOL, "Disable any container-specified HEALTHCHECK"),
    F("oom-kill-disable", "", BOOL, "Disable OOM Killer"),
    F("oom-score-adj", "", INT, "Tune host's OOM preferences (-1000 to 1000)"),
    F("pid", "", STRING, "PID namespace to use"),
    F("pids-limit", "", INT, "Tune container pids limit (set -1 for unlimited)"),
    F("platform", "", STRING, "Set platform if server is multi-platform capable"),
    F("privileged", "", BOOL, "Give extended privileges to this container"),
    F("publish", "p", LIST, "Publish a container's port(s) to the host"),
    F("publish-all", "P", BOOL, "Publish all exposed ports to random ports"),
    F("pull", "", STRING, 'Pull image before running ("always", "missing", "never")', default="missing"),
    F("quiet", "q", BOOL, "Suppress the pull output"),
    F("read-only", "", BOOL, "Mount the container's root filesystem as read only"),
    F("restart", "", STRING, "Restart policy to apply when a container exits", default="no"),
    F("rm", "", BOOL, "Automatically remove the container and its associated anonymous volumes when it exits"),
    F("runtime", "", STRING, "Runtime to use for this container"),
    F("security-opt", "", LIST, "Security Options"),
    F("shm-size", "", STRING, "Size of /dev/shm", type_name="bytes"),
    F("stop-signal", "", STRING, "Signal to stop the container"),
    F("stop-timeout", "", INT, "Timeout (in seconds) to stop a container"),
    F("storage-opt", "", LIST, "Storage driver options for the container"),
    F("sysctl", "", LIST, "Sysctl options", type_name="map"),
    F("tmpfs", "", LIST, "Mount a tmpfs directory"),
    F("tty", "t", BOOL, "Allocate a pseudo-TTY"),
    F("ulimit", "", LIST, "Ulimit options", type_name="ulimit"),
    F("user", "u", STRING, "Username or UID (format: <name|uid>[:<group|gid>])"),
    F("userns", "", STRING, "User namespace to use"),
    F("uts", "", STRING, "UTS namespace to use"),
    F("volume", "v", LIST, "Bind mount a volume"),
    F("volume-driver", "", STRING, "Optional volume driver for the container"),
    F("volumes-from", "", LIST, "Mount volumes from the specified container(s)"),
    F("workdir", "w", STRING, "Working directory inside the container"),
)
RUN_ONLY_FLAGS = (
    F("detach", "d", BOOL, "Run container in background and print container ID"),
    F("detach-keys", "", STRING, "Override the key sequence for detaching a container"),
    F("sig-proxy", "", BOOL, "Proxy received signals to the process", default=True),
)
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def create_request(opts: Options, args: list[str], detached: bool) -> tuple[dict, dict]:
    """(query parameters, JSON body) of POST /containers/create for `run`/`create` flags and IMAGE [COMMAND...]."""
    image, command = args[0], args[1:]
    attach = [stream.lower() for stream in opts.attach]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise UsageError(
                f'invalid argument "{stream}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'
            )
    if detached and attach:
        raise UsageError("conflicting options: cannot specify both --attach and --detach")
    if not detached and not attach:
        attach = ["stdout", "stderr"] + (["stdin"] if opts.interactive else [])
    config: dict = {
        "Image": image,
        "Cmd": command or None,
        "Hostname": opts.hostname or "",
        "Domainname": opts.domainname or "",
        "User": opts.user or "",
        "WorkingDir": opts.workdir or "",
        "AttachStdin": "stdin" in attach,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "Tty": opts.tty,
        "OpenStdin": opts.interactive,
        "StdinOnce": opts.interactive and "stdin" in attach,
        "Env": environment(opts.env_file, opts.env) or None,
        "Labels": labels(opts.label_file, opts.label),
        "Volumes": {},
        "ExposedPorts": {},
    }
    if opts.entrypoint is not None:
        # An empty --entrypoint "" resets the image's entrypoint: docker sends [""].
        config["Entrypoint"] = [opts.entrypoint]
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout
    if opts.mac_address:
        config["MacAddress"] = opts.mac_address
    if (health := healthcheck(opts)) is not None:
        config["Healthcheck"] = health
    host = host_config(opts, config)
    config["HostConfig"] = host
    config["NetworkingConfig"] = networking_config(opts, host["NetworkMode"])
    params = {"name": opts.name, "platform": opts.platform}
    return params, config


def host_config(opts: Options, config: dict) -> dict:
    restart = restart_policy(opts.restart)
    if opts.rm and restart["Name"] != "no":
        raise UsageError("conflicting options: cannot specify both --restart and --rm")
    binds = []
    for volume in opts.volume:
        if ":" in volume:
            binds.append(volume)
        else:
            config["Volumes"][volume] = {}
    bindings: dict[str, list[dict]] = {}
    for spec in opts.publish:
        for port, ip, host_port in units.parse_publish(spec):
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": host_port})
            config["ExposedPorts"][port] = {}
    for spec in opts.expose:
        number, _, proto = spec.partition("/")
        low, high = units.port_range(number, "range for ports")
        config["ExposedPorts"].update({f"{port}/{proto or 'tcp'}": {} for port in range(low, high + 1)})
    host: dict = {
        "Binds": binds or None,
        "ContainerIDFile": opts.cidfile or "",
        "AutoRemove": opts.rm,
        "RestartPolicy": restart,
        "NetworkMode": opts.network or "default",
        "PortBindings": bindings,
        "PublishAllPorts": opts.publish_all,
        "Privileged": opts.privileged,
        "ReadonlyRootfs": opts.read_only,
        "CapAdd": [capability(c) for c in opts.cap_add] or None,
        "CapDrop": [capability(c) for c in opts.cap_drop] or None,
        "SecurityOpt": opts.security_opt or None,
        "Dns": opts.dns,
        "DnsOptions": opts.dns_option,
        "DnsSearch": opts.dns_search,
        "ExtraHosts": opts.add_host or None,
        "GroupAdd": opts.group_add or None,
        "Links": opts.link or None,
        "VolumesFrom": opts.volumes_from or None,
        "VolumeDriver": opts.volume_driver or "",
        "LogConfig": {"Type": opts.log_driver or "", "Config": units.key_values(opts.log_opt)},
        "Tmpfs": tmpfs(opts.tmpfs),
        "Mounts": [mount(spec) for spec in opts.mount] or None,
        "Devices": [device(spec) for spec in opts.device],
        "Ulimits": [ulimit(spec) for spec in opts.ulimit],
        "Sysctls": units.key_values(opts.sysctl) or None,
        "StorageOpt": units.key_values(opts.storage_opt) or None,
        "IpcMode": opts.ipc or "",
        "PidMode": opts.pid or "",
        "UTSMode": opts.uts or "",
        "UsernsMode": opts.userns or "",
        "CgroupnsMode": opts.cgroupns or "",
        "CgroupParent": opts.cgroup_parent or "",
        "Runtime": opts.runtime or None,
        "OomScoreAdj": opts.oom_score_adj or 0,
        "OomKillDisable": opts.oom_kill_disable,
        "ShmSize": units.ram_bytes(opts.shm_size) if opts.shm_size else 0,
        "Init": True if opts.init else None,
        "ConsoleSize": console_size() if opts.tty else [0, 0],
    }
    host.update(resources(opts))
    return {key: value for key, value in host.items() if value is not None}


def resources(opts: Options) -> dict:
    cpus = 0
    if opts.cpus:
        try:
            cpus = round(float(opts.cpus) * 1e9)
        except ValueError:
            raise UsageError(
                f'invalid argument "{opts.cpus}" for "--cpus" flag: failed to parse {opts.cpus} as a rational number'
            ) from None
    swap = opts.memory_swap
    return {
        "Memory": units.ram_bytes(opts.memory) if opts.memory else 0,
        "MemoryReservation": units.ram_bytes(opts.memory_reservation) if opts.memory_reservation else 0,
        "MemorySwap": -1 if swap == "-1" else units.ram_bytes(swap) if swap else 0,
        "MemorySwappiness": opts.get("memory_swappiness", -1),
        "NanoCpus": cpus,
        "CpuShares": opts.cpu_shares or 0,
        "CpuPeriod": opts.cpu_period or 0,
        "CpuQuota": opts.cpu_quota or 0,
        "CpusetCpus": opts.cpuset_cpus or "",
        "CpusetMems": opts.cpuset_mems or "",
        "BlkioWeight": opts.blkio_weight or 0,
        "PidsLimit": opts.pids_limit or 0,
    }


def networking_config(opts: Options, network: str) -> dict:
    endpoint: dict = {}
    if opts.network_alias:
        endpoint["Aliases"] = opts.network_alias
    if opts.ip or opts.ip6:
        endpoint["IPAMConfig"] = {"IPv4Address": opts.ip or "", "IPv6Address": opts.ip6 or ""}
    return {"EndpointsConfig": {network: endpoint}}


def environment(files: list[str], values: list[str]) -> list[str]:
    """--env-file lines first, then -e; a bare NAME takes our value of NAME when we have one (docker's rule)."""
    lines = [line for path in files for line in units.env_file_lines(path)] + values
    result = []
    for line in lines:
        name, eq, _ = line.partition("=")
        if not name:
            raise UsageError(f"invalid environment variable: {line}")
        result.append(line if eq or name not in os.environ else f"{name}={os.environ[name]}")
    return result


def labels(files: list[str], values: list[str]) -> dict[str, str]:
    return units.key_values([line for path in files for line in units.env_file_lines(path)] + values)


def restart_policy(text: str) -> dict:
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES:
        raise UsageError(f"invalid restart policy format: {text}")
    if count and name != "on-failure":
        raise UsageError("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise UsageError("invalid restart policy format: maximum retry count must be an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def capability(name: str) -> str:
    upper = name.upper()
    return upper if upper == "ALL" or upper.startswith("CAP_") else f"CAP_{upper}"


def healthcheck(opts: Options) -> dict | None:
    durations = {
        "Interval": opts.health_interval,
        "Timeout": opts.health_timeout,
        "StartPeriod": opts.health_start_period,
        "StartInterval": opts.health_start_interval,
    }
    if opts.no_healthcheck:
        if opts.health_cmd or any(durations.values()) or opts.health_retries:
            raise UsageError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not (opts.health_cmd or any(durations.values()) or opts.health_retries):
        return None
    health: dict = {key: units.duration_ns(value) for key, value in durations.items() if value}
    if opts.health_cmd:
        health["Test"] = ["CMD-SHELL", opts.health_cmd]
    if opts.health_retries:
        health["Retries"] = opts.health_retries
    return health


def tmpfs(specs: list[str]) -> dict[str, str] | None:
    result = {}
    for spec in specs:
        path, _, options = spec.partition(":")
        result[path] = options
    return result or None


def device(spec: str) -> dict:
    parts = spec.split(":")
    permissions = "rwm"
    if len(parts) > 1 and set(parts[-1]) <= set("rwm") and parts[-1]:
        permissions = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise UsageError(f"invalid device specification: {spec}")
    return {
        "PathOnHost": parts[0],
        "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
        "CgroupPermissions": permissions,
    }


def ulimit(spec: str) -> dict:
    name, _, limits = spec.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise UsageError(f"invalid ulimit argument: {spec}") from None


def mount(spec: str) -> dict:
    """--mount type=bind,source=/a,target=/b,readonly (docker's CSV fields)."""
    fields: dict = {"Type": "volume"}
    options: dict[str, dict] = {}
    for field in spec.split(","):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro"):
            fields["ReadOnly"] = not eq or value.lower() in ("1", "true")
        elif key == "volume-nocopy":
            options.setdefault("VolumeOptions", {})["NoCopy"] = not eq or value.lower() in ("1", "true")
        elif not eq:
            raise UsageError(f"invalid field '{field}' must be a key=value pair")
        elif key == "type":
            fields["Type"] = value
        elif key in ("source", "src"):
            fields["Source"] = value
        elif key in ("target", "dst", "destination"):
            fields["Target"] = value
        elif key == "consistency":
            fields["Consistency"] = value
        elif key == "bind-propagation":
            options.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "bind-recursive":
            options.setdefault("BindOptions", {}).update(_bind_recursive(value))
        elif key == "volume-subpath":
            options.setdefault("VolumeOptions", {})["Subpath"] = value
        elif key == "volume-driver":
            options.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            name, _, val = value.partition("=")
            driver = options.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})
            driver.setdefault("Options", {})[name] = val
        elif key == "volume-label":
            name, _, val = value.partition("=")
            options.setdefault("VolumeOptions", {}).setdefault("Labels", {})[name] = val
        elif key == "tmpfs-size":
            options.setdefault("TmpfsOptions", {})["SizeBytes"] = units.ram_bytes(value)
        elif key == "tmpfs-mode":
            options.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
        else:
            raise UsageError(f"unexpected key '{key}' in '{field}'")
    if "Target" not in fields:
        raise UsageError("target is required")
    return {**fields, **options}


def _bind_recursive(value: str) -> dict:
    # docker's bind-recursive values, as the API's BindOptions spell them.
    choices = {
        "enabled": {},
        "disabled": {"NonRecursive": True},
        "writable": {"ReadOnlyNonRecursive": True},
        "readonly": {"ReadOnlyForceRecursive": True},
    }
    if value not in choices:
        raise UsageError(f"invalid value for bind-recursive: {value}")
    return choices[value]


def console_size() -> list[int]:
    try:
        size = os.get_terminal_size(1)
    except OSError:
        return [0, 0]
    return [size.lines, size.columns]
