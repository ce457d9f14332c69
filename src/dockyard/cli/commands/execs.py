"""The verbs that stream a container's stdio: start (-a -i), attach, logs, exec."""

from __future__ import annotations

import sys
import time
from datetime import UTC

from dockyard.cli import attach, runflags, units
from dockyard.cli.batch import each
from dockyard.cli.client import Client, check_tty, demux
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag, UsageError

DETACH_KEYS = Flag("detach-keys", "", STRING, "Override the key sequence for detaching a container")
START = Command(
    "start",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    (
        Flag("attach", "a", BOOL, "Attach STDOUT/STDERR and forward signals"),
        DETACH_KEYS,
        Flag("interactive", "i", BOOL, "Attach container's STDIN"),
    ),
    ("container start", "start"),
    min_args=1,
)
ATTACH = Command(
    "attach",
    "[OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    (
        DETACH_KEYS,
        Flag("no-stdin", "", BOOL, "Do not attach STDIN"),
        Flag("sig-proxy", "", BOOL, "Proxy all received signals to the process", default=True),
    ),
    ("container attach", "attach"),
    min_args=1,
    max_args=1,
)
LOGS = Command(
    "logs",
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    (
        Flag("details", "", BOOL, "Show extra details provided to logs"),
        Flag("follow", "f", BOOL, "Follow log output"),
        Flag(
            "since",
            "",
            STRING,
            'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
        ),
        Flag("tail", "n", STRING, 'Number of lines to show from the end of the logs (default "all")'),
        Flag("timestamps", "t", BOOL, "Show timestamps"),
        Flag(
            "until",
            "",
            STRING,
            'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
        ),
    ),
    ("container logs", "logs"),
    min_args=1,
    max_args=1,
)
EXEC = Command(
    "exec",
    "[OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    (
        Flag("detach", "d", BOOL, "Detached mode: run command in the background"),
        DETACH_KEYS,
        Flag("env", "e", LIST, "Set environment variables"),
        Flag("env-file", "", LIST, "Read in a file of environment variables"),
        Flag("interactive", "i", BOOL, "Keep STDIN open even if not attached"),
        Flag("privileged", "", BOOL, "Give extended privileges to the command"),
        Flag("tty", "t", BOOL, "Allocate a pseudo-TTY"),
        Flag("user", "u", STRING, 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
        Flag("workdir", "w", STRING, "Working directory inside the container"),
    ),
    ("container exec", "exec"),
    min_args=2,
    interspersed=False,
)


def start(context, opts, args) -> int:
    if not (opts.attach or opts.interactive):
        return each(args, lambda name: _start(context.client, name))
    if len(args) > 1:
        raise UsageError("you cannot start and attach multiple containers at once")
    client = context.client
    info = client.get_json(f"/containers/{args[0]}/json")
    config = info.get("Config") or {}
    stdin = opts.interactive and config.get("OpenStdin", False)
    return _attached(client, info, stdin=stdin, keys=opts.detach_keys, proxy=True, then_start=True)


def attach_command(context, opts, args) -> int:
    client = context.client
    info = client.get_json(f"/containers/{args[0]}/json")
    state = info.get("State") or {}
    if not state.get("Running"):
        raise UsageError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise UsageError("You cannot attach to a paused container, unpause it first")
    stdin = not opts.no_stdin and (info.get("Config") or {}).get("OpenStdin", False)
    return _attached(client, info, stdin=stdin, keys=opts.detach_keys, proxy=opts.sig_proxy, then_start=False)


def _attached(client: Client, info: dict, *, stdin: bool, keys: str | None, proxy: bool, then_start: bool) -> int:
    container_id, tty = info["Id"], (info.get("Config") or {}).get("Tty", False)
    try:
        detach_keys = attach.parse_detach_keys(keys)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # The daemon is told the keys too (docker does both): it ends the stream on them, we stop waiting.
    query = {"stream": "1", "stdout": "1", "stderr": "1", "stdin": "1" if stdin else None, "detachKeys": keys or None}
    response = client.hijack(f"/containers/{container_id}/attach", query)
    waiter = (
        client.stream("POST", f"/containers/{container_id}/wait", {"condition": "next-exit"}) if then_start else None
    )
    if then_start:
        _start(client, container_id)
    session = attach.Attached(
        client,
        response,
        tty=tty,
        stdin=stdin,
        detach_keys=detach_keys,
        resize_path=f"/containers/{container_id}/resize",
    )
    signals = attach.SignalProxy(client, container_id) if proxy and not tty else None
    try:
        if signals:
            signals.__enter__()
        session.run()
    finally:
        if signals:
            signals.__exit__(None, None, None)
        response.close()
    if session.detached:
        if waiter:
            waiter.close()
        return 0
    if waiter:
        with waiter:
            return waiter.json().get("StatusCode", 0)
    return (client.get_json(f"/containers/{container_id}/json").get("State") or {}).get("ExitCode", 0)


def _start(client: Client, name: str) -> str:
    client.call("POST", f"/containers/{name}/start")
    return name


def logs(context, opts, args) -> int:
    client = context.client
    info = client.get_json(f"/containers/{args[0]}/json")
    params = {
        "stdout": "1",
        "stderr": "1",
        "follow": "1" if opts.follow else None,
        "timestamps": "1" if opts.timestamps else None,
        "details": "1" if opts.details else None,
        "since": timestamp(opts.since) if opts.since else None,
        "until": timestamp(opts.until) if opts.until else None,
        "tail": opts.tail or "all",
    }
    with client.stream("GET", f"/containers/{info['Id']}/logs", params) as response:
        if (info.get("Config") or {}).get("Tty"):
            for data in response.chunks():
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
        else:
            streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
            for kind, data in demux(response.chunks()):
                streams.get(kind, sys.stdout.buffer).write(data)
                streams.get(kind, sys.stdout.buffer).flush()
    return 0


def timestamp(value: str, now: float | None = None) -> str:
    """docker's GetTimestamp: a Go duration before now, unix seconds, or an RFC 3339 date/time."""
    now = time.time() if now is None else now
    if value and value[0].isdigit() and value[-1] in "smh" and not value.replace(".", "").isdigit():
        try:
            return f"{now - units.duration_ns(value) / 1e9:.9f}"
        except UsageError:
            pass
    try:
        float(value)
        return value
    except ValueError:
        pass
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f'invalid value for "since"/"until": {value!r}') from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.timestamp():.9f}"


def exec_command(context, opts, args) -> int:
    client = context.client
    container, command = args[0], args[1:]
    if not opts.detach:
        check_tty(opts.interactive, opts.tty)
    try:
        env = runflags.environment(opts.env_file, opts.env)
        detach_keys = attach.parse_detach_keys(opts.detach_keys)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    body = {
        "User": opts.user or "",
        "Privileged": opts.privileged,
        "Tty": opts.tty,
        "AttachStdin": opts.interactive and not opts.detach,
        "AttachStdout": not opts.detach,
        "AttachStderr": not opts.detach,
        "Env": env or None,
        "WorkingDir": opts.workdir or "",
        "Cmd": command,
    }
    if opts.detach_keys:
        body["DetachKeys"] = opts.detach_keys
    exec_id = client.call("POST", f"/containers/{container}/exec", body=body)["Id"]
    if opts.detach:
        client.call("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": opts.tty})
        return 0
    response = client.hijack(f"/exec/{exec_id}/start", body={"Detach": False, "Tty": opts.tty})
    session = attach.Attached(
        client,
        response,
        tty=opts.tty,
        stdin=body["AttachStdin"],
        detach_keys=detach_keys,
        resize_path=f"/exec/{exec_id}/resize",
    )
    try:
        session.run()
    finally:
        response.close()
    if session.detached:
        return 0
    return client.get_json(f"/exec/{exec_id}/json").get("ExitCode") or 0


COMMANDS = {
    "start": (START, start),
    "attach": (ATTACH, attach_command),
    "logs": (LOGS, logs),
    "exec": (EXEC, exec_command),
}
