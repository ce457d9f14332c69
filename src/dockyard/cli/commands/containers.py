"""Container verbs that are one request per container: stop, kill, restart, pause, unpause, rm, wait,
rename, update, top, port, diff, stats, container prune."""

from __future__ import annotations

import sys

from dockyard.cli import output, runflags
from dockyard.cli.batch import confirm, each, pruned, reclaimed
from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag, UsageError

SIGNAL = Flag("signal", "s", STRING, "Signal to send to the container")
TIMEOUT = Flag("timeout", "t", INT, "Seconds to wait before killing the container")


def _command(name, usage, summary, flags=(), min_args=1, max_args=None, interspersed=True) -> Command:
    return Command(name, usage, summary, tuple(flags), (f"container {name}", name), min_args, max_args, interspersed)


STOP = _command("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", (SIGNAL, TIMEOUT))
RESTART = _command("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", (SIGNAL, TIMEOUT))
KILL = _command(
    "kill",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    (Flag("signal", "s", STRING, "Signal to send to the container"),),
)
PAUSE = _command("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers")
UNPAUSE = _command("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers")
RM = _command(
    "rm",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    (
        Flag("force", "f", BOOL, "Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", BOOL, "Remove the specified link"),
        Flag("volumes", "v", BOOL, "Remove anonymous volumes associated with the container"),
    ),
)
WAIT = _command(
    "wait", "CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes"
)
RENAME = _command("rename", "CONTAINER NEW_NAME", "Rename a container", min_args=2, max_args=2)
TOP = _command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", interspersed=False)
PORT = _command(
    "port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", max_args=2
)
DIFF = _command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem", max_args=1)
# update's flag (dest) -> the resource it sets
UPDATE_FIELDS = {
    "blkio_weight": "BlkioWeight",
    "cpu_period": "CpuPeriod",
    "cpu_quota": "CpuQuota",
    "cpu_shares": "CpuShares",
    "cpus": "NanoCpus",
    "cpuset_cpus": "CpusetCpus",
    "cpuset_mems": "CpusetMems",
    "memory": "Memory",
    "memory_reservation": "MemoryReservation",
    "memory_swap": "MemorySwap",
    "pids_limit": "PidsLimit",
}
UPDATE = _command(
    "update",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Update configuration of one or more containers",
    [f for f in runflags.CREATE_FLAGS if f.dest in UPDATE_FIELDS]
    + [Flag("restart", "", STRING, "Restart policy to apply when a container exits")],
)
STATS = _command(
    "stats",
    "[OPTIONS] [CONTAINER...]",
    "Display a live stream of container(s) resource usage statistics",
    (
        Flag("all", "a", BOOL, "Show all containers (default shows just running)"),
        Flag("format", "", STRING, "Format output using a custom template"),
        Flag("no-stream", "", BOOL, "Disable streaming stats and only pull the first result"),
        Flag("no-trunc", "", BOOL, "Do not truncate output"),
    ),
    min_args=0,
)
PRUNE = Command(
    "container prune",
    "[OPTIONS]",
    "Remove all stopped containers",
    (
        Flag("filter", "", LIST, 'Provide filter values (e.g. "until=<timestamp>")', type_name="filter"),
        Flag("force", "f", BOOL, "Do not prompt for confirmation"),
    ),
    max_args=0,
)


def stop(context, opts, args) -> int:
    params = {"t": opts.timeout, "signal": opts.signal}
    return each(args, lambda name: _post(context, f"/containers/{name}/stop", params, name))


def restart(context, opts, args) -> int:
    params = {"t": opts.timeout, "signal": opts.signal}
    return each(args, lambda name: _post(context, f"/containers/{name}/restart", params, name))


def kill(context, opts, args) -> int:
    return each(args, lambda name: _post(context, f"/containers/{name}/kill", {"signal": opts.signal}, name))


def pause(context, _opts, args) -> int:
    return each(args, lambda name: _post(context, f"/containers/{name}/pause", None, name))


def unpause(context, _opts, args) -> int:
    return each(args, lambda name: _post(context, f"/containers/{name}/unpause", None, name))


def rm(context, opts, args) -> int:
    params = {"force": _flag(opts.force), "v": _flag(opts.volumes), "link": _flag(opts.link)}

    def remove(name: str) -> str:
        context.client.call("DELETE", f"/containers/{name}", params)
        return name

    return each(args, remove)


def wait(context, _opts, args) -> int:
    def wait_one(name: str) -> str:
        result = context.client.call("POST", f"/containers/{name}/wait")
        return str(result["StatusCode"])

    return each(args, wait_one)


def rename(context, _opts, args) -> int:
    old, new = args
    if not new.strip():
        raise UsageError("Error: Neither old nor new names may be empty")
    context.client.call("POST", f"/containers/{old}/rename", {"name": new})
    return 0


def update(context, opts, args) -> int:
    resources = runflags.resources(opts)
    body = {UPDATE_FIELDS[dest]: resources[UPDATE_FIELDS[dest]] for dest in opts.given if dest in UPDATE_FIELDS}
    if opts.restart:
        body["RestartPolicy"] = runflags.restart_policy(opts.restart)
    if not body:
        raise UsageError("you must provide one or more flags when using this command")

    def update_one(name: str) -> str:
        answer = context.client.call("POST", f"/containers/{name}/update", body=body)
        for warning in (answer or {}).get("Warnings") or ():
            sys.stderr.write(f"{warning}\n")
        return name

    return each(args, update_one)


def top(context, _opts, args) -> int:
    params = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    answer = context.client.get_json(f"/containers/{args[0]}/top", params)
    rows = [answer["Titles"], *(answer.get("Processes") or [])]
    output.write(output.table(rows, minwidth=20))
    return 0


def port(context, _opts, args) -> int:
    ports = (context.client.get_json(f"/containers/{args[0]}/json").get("NetworkSettings") or {}).get("Ports") or {}
    if len(args) == 2:
        wanted = args[1] if "/" in args[1] else f"{args[1]}/tcp"
        bindings = ports.get(wanted)
        if not bindings:
            raise _NoPort(f"Error: No public port '{wanted}' published for {args[0]}")
        output.write("".join(f"{_host_port(b)}\n" for b in bindings))
        return 0
    for private in sorted(ports, key=lambda p: (int(p.split("/")[0]), p)):
        output.write("".join(f"{private} -> {_host_port(b)}\n" for b in ports[private] or ()))
    return 0


class _NoPort(UsageError):
    status = 1


def _host_port(binding: dict) -> str:
    ip = binding.get("HostIp") or "0.0.0.0"
    return f"[{ip}]:{binding['HostPort']}" if ":" in ip else f"{ip}:{binding['HostPort']}"


def diff(context, _opts, args) -> int:
    changes = context.client.get_json(f"/containers/{args[0]}/changes") or []
    output.write("".join(f"{'CAD'[c['Kind']]} {c['Path']}\n" for c in changes))
    return 0


def prune(context, opts, _args) -> int:
    if not confirm("WARNING! This will remove all stopped containers.", opts.force):
        return 0
    answer = context.client.call("POST", "/containers/prune", {"filters": filters_param(opts.filter)})
    deleted = answer.get("ContainersDeleted") or []
    output.write(pruned("Deleted Containers:", deleted) + reclaimed(answer.get("SpaceReclaimed") or 0))
    return 0


def stats(context, opts, args) -> int:
    from dockyard.cli import stats as live

    return live.show(
        context.client,
        args,
        all_containers=opts.all,
        stream=not opts.no_stream,
        trunc=not opts.no_trunc,
        fmt=opts.format,
    )


def _post(context, path: str, params: dict | None, shown: str) -> str:
    context.client.call("POST", path, params)
    return shown


def _flag(value: bool) -> str | None:
    return "1" if value else None


COMMANDS = {
    "stop": (STOP, stop),
    "restart": (RESTART, restart),
    "kill": (KILL, kill),
    "pause": (PAUSE, pause),
    "unpause": (UNPAUSE, unpause),
    "rm": (RM, rm),
    "wait": (WAIT, wait),
    "rename": (RENAME, rename),
    "update": (UPDATE, update),
    "top": (TOP, top),
    "port": (PORT, port),
    "diff": (DIFF, diff),
    "stats": (STATS, stats),
    "container prune": (PRUNE, prune),
}
