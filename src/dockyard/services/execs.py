"""docker exec: more processes in a running container.

Exec instances live in memory, as dockerd keeps them: created by POST
/containers/{id}/exec, started once, inspected until the container goes. The
process is a child of a runner (never forked from the daemon itself) which joins
the container's namespaces and cgroup and reports the process's status: for the
API a fork of the shim template (dockyard.runtime.exec_process), for health
checks a `dockyard-runtime exec` process.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.metadata.containers import ContainerRecord
from dockyard.runtime import container_spec
from dockyard.runtime.console import set_size
from dockyard.services.containers import ContainerService
from dockyard.services.events import container_attributes


@dataclass
class ExecRecord:
    id: str
    container_id: str
    config: dict  # the create request: Cmd, Env, User, WorkingDir, Tty, Privileged, Attach*
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    master: int = -1  # the pty master while an exec with a terminal runs (the daemon holds it)
    size: tuple[int, int] | None = None  # a resize that came before the terminal did
    task: object = None  # the API's asyncio task that runs a detached exec, kept from the collector
    process_file: str | None = None  # a health check's OCI process, for `dockyard-runtime exec --process`
    lock: threading.Lock = field(default_factory=threading.Lock)


class ExecService:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self._execs: dict[str, ExecRecord] = {}

    def create(self, container: str, body: dict) -> ExecRecord:
        record = self.containers.get(container)
        if not record.state["Running"]:
            raise Conflict(f"Container {record.id} is not running")
        if record.state["Paused"]:
            raise Conflict(f"Container {record.id} is paused, unpause the container before exec")
        cmd = body.get("Cmd")
        if not cmd or not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
            raise InvalidParameter("No exec command specified")
        exec_record = ExecRecord(secrets.token_hex(32), record.id, body)
        self._execs[exec_record.id] = exec_record
        self._event(exec_record, f"exec_create: {' '.join(cmd)}", record)
        return exec_record

    def _event(self, exec_record: ExecRecord, action: str, container=None, **extra: str) -> None:
        """dockerd's exec events: container events whose action names the exec (exec_create: CMD...).
        container: the exec's container's record, when the caller has just read it."""
        try:
            container = container or self.containers.get(exec_record.container_id)
        except NotFound:
            return  # removed meanwhile: nobody can ask for its events by name any more
        attributes = container_attributes(container, execID=exec_record.id, **extra)
        self.containers.events.emit("container", action, container.id, attributes)

    def get(self, exec_id: str) -> ExecRecord:
        try:
            return self._execs[exec_id]
        except KeyError:
            raise NotFound(f"No such exec instance: {exec_id}") from None

    def command(self, exec_record: ExecRecord, error_log: str) -> list[str]:
        """The `dockyard-runtime exec` command line for an exec instance (health checks), or the container's
        runtime's (runc's CLI is the same); marks it started.

        The runtime writes its own errors as JSON to error_log, apart from the process's output.
        """
        container_id = exec_record.container_id
        process, record = self._process(exec_record)
        path = os.path.join(self.containers.exec_root, container_id, f"exec-{exec_record.id}.json")
        with open(path, "w") as f:
            json.dump(process, f)
        exec_record.process_file = path
        command = self.containers.runtime_command(record)
        runtime = [*(command or [sys.executable, "-m", "dockyard.runtime.cli"]), "--root",
                   self.containers.runtime_root(record), "--log", error_log, "--log-format", "json"]  # fmt: skip
        return [*runtime, "exec", "--process", path, container_id]

    def start(self, exec_record: ExecRecord, fds: tuple[int, int, int, int], console_socket=None, console_size=None):
        """Start the exec's process (Conflict if it may not start), forked from the shim template
        (dockyard.runtime.exec_process); marks it started.

        fds: its stdin, stdout and stderr (a terminal's is the pty instead), and the status pipe, which
        gets {"pid"} once it runs, then {"code"}; or only {"error"}. With a terminal (Tty) the runtime
        sends the pty master to console_socket (services.exec_console).
        """
        process, record = self._process(exec_record, console_size)
        request = {"root": self.containers.runtime_root(record), "id": exec_record.container_id, "process": process,
                   "runtime_command": self.containers.runtime_command(record)}  # fmt: skip
        if console_socket:
            request["console_socket"] = console_socket
        self.containers.shims.launch_exec(request, *fds)

    def _process(self, exec_record: ExecRecord, console_size=None) -> tuple[dict, ContainerRecord]:
        """The OCI process of an exec instance, and its container's record as read for it; marks it started."""
        with exec_record.lock:
            if exec_record.started:
                raise Conflict(f"Exec command {exec_record.id} has already run")
            exec_record.started = True
        container = self.containers.get(exec_record.container_id)
        if not container.state["Running"]:
            raise Conflict(f"Container {container.id} is not running")
        bundle = os.path.join(self.containers.exec_root, container.id)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        process = dict(spec["process"])
        config = exec_record.config
        process["args"] = config["Cmd"]
        process["terminal"] = bool(config.get("Tty"))
        process.pop("consoleSize", None)
        rows, columns = (console_size or config.get("ConsoleSize") or [0, 0])[:2]
        if process["terminal"] and rows and columns:
            process["consoleSize"] = {"height": rows, "width": columns}
        env = dict(entry.split("=", 1) for entry in process.get("env", []) if "=" in entry)
        for entry in config.get("Env") or []:
            key, sep, value = entry.partition("=")
            if sep:
                env[key] = value
        process["env"] = [f"{k}={v}" for k, v in env.items()]
        if config.get("User"):
            process["user"] = container_spec.resolve_user(
                os.path.join(bundle, "rootfs"), config["User"], container.host_config.get("GroupAdd")
            )
        if config.get("WorkingDir"):
            process["cwd"] = config["WorkingDir"]
        if config.get("Privileged"):
            from dockyard.kernel.caps import own_bounding

            process["capabilities"] = {kind: own_bounding() for kind in ("bounding", "effective", "permitted")}
        self._event(exec_record, f"exec_start: {' '.join(config['Cmd'])}", container)
        return process, container

    def attach_terminal(self, exec_record: ExecRecord, master: int) -> None:
        """The exec's pty master has come: kept for resizes until finished(); a resize that came first applies now."""
        exec_record.master = master
        if exec_record.size:
            set_size(master, *exec_record.size)

    def resize(self, exec_id: str, rows: int, columns: int) -> None:
        """docker exec's resize: the window size of the exec's terminal (kept until it exists)."""
        exec_record = self.get(exec_id)
        exec_record.size = (rows, columns)
        if exec_record.master >= 0:
            set_size(exec_record.master, rows, columns)

    def finished(self, exec_record: ExecRecord, code: int) -> None:
        self._event(exec_record, "exec_die", exitCode=str(code))
        exec_record.running = False
        if exec_record.master >= 0:
            os.close(exec_record.master)
            exec_record.master = -1
        exec_record.exit_code = code
        if exec_record.process_file is not None:
            try:
                os.unlink(exec_record.process_file)
            except FileNotFoundError:
                pass

    def inspect(self, exec_id: str) -> dict:
        record = self.get(exec_id)
        config = record.config
        return {
            "ID": record.id,
            "Running": record.running,
            "ExitCode": record.exit_code,
            "ProcessConfig": {
                "tty": bool(config.get("Tty")),
                "entrypoint": config["Cmd"][0],
                "arguments": config["Cmd"][1:],
                "privileged": bool(config.get("Privileged")),
                "user": config.get("User", ""),
            },
            "OpenStdin": bool(config.get("AttachStdin")),
            "OpenStderr": bool(config.get("AttachStderr")),
            "OpenStdout": bool(config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": record.container_id,
            "DetachKeys": config.get("DetachKeys") or "",
            "Pid": record.pid,
        }
