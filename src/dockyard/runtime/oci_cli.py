"""An OCI runtime driven through runc's command line (runc, crun): dockyard.core.runtime's contract.

    <command> --root R [--log F --log-format json] create --bundle B --pid-file P [--console-socket S] ID
    <command> --root R start|kill|pause|resume|delete [--force]|state|ps --format json ID
    <command> --root R update --resources - ID          (OCI linux.resources on stdin)
    <command> --root R exec --detach --process F --pid-file P [--console-socket S] ID

create and exec pass the runtime's own stdio to the container's process, so their errors
go to a log file (--log, JSON lines) and the process's stdio stays the caller's; the
other verbs' errors are read from stderr, in the same JSON (--log-format json). exec is
detached and waited for here (the caller is the subreaper of the process, which runc
leaves an orphan), so that a terminal's master can go to the console socket, which runc
only allows a detached exec. The container's cgroup is the spec's cgroupsPath, read
directly (stats, OOM kills) as for Dockyard's own runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.runtime.waiting import ContainerError, wait_exit

# runc's and crun's words for the states that refuse a verb.
_NOT_FOUND = ("does not exist", "not found", "no such file or directory")
_WRONG_STATE = ("not running", "not paused", "is stopped", "is paused", "cannot", "container is not")


class CreatedContainer:
    def __init__(self, pid: int) -> None:
        self.pid = pid


class OciCliRuntime:
    def __init__(self, command: list[str], root: str) -> None:
        self.command = list(command)  # the binary and the runtimeArgs configured for it
        self.root = root
        self._cgroups: dict[str, str] = {}  # container id -> its cgroupsPath

    # -- the container's life ---------------------------------------------------------

    def create(self, container_id: str, bundle: str, *, console_fd: int | None = None) -> CreatedContainer:
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dy-create-", dir=self.root) as scratch:
            pid_file = os.path.join(scratch, "pid")
            args = ["create", "--bundle", bundle, "--pid-file", pid_file]
            if console_fd is None:
                self._run_passing_stdio(scratch, *args, container_id)
            else:
                self._create_with_terminal(scratch, args, container_id, console_fd)
            try:
                with open(pid_file) as f:
                    return CreatedContainer(int(f.read().strip()))
            except BaseException:
                self._discard(container_id)
                raise

    def _discard(self, container_id: str) -> None:
        """Undo a create the runtime did but the caller cannot use: no process, cgroup or state is left."""
        try:
            self.delete(container_id, force=True)
        except Exception as exc:  # the create's own error is the one to raise: this one goes to the log
            sys.stderr.write(f"{self.command[0]} delete --force {container_id}: {exc}\n")

    def _create_with_terminal(self, scratch: str, args: list[str], container_id: str, console_fd: int) -> None:
        """runc wants a listening socket's path; the caller gave a connected socket: the master is passed on."""
        import socket

        from dockyard.runtime.console import TerminalProxy

        connection = socket.socket(fileno=console_fd)
        try:
            # In the temporary directory: a path under the root can be longer than a socket address allows.
            proxy = TerminalProxy(tempfile.gettempdir())
            try:
                self._run_passing_stdio(scratch, *args, "--console-socket", proxy.path, container_id)
            except BaseException:
                proxy.close()
                raise
            try:
                proxy.receive()  # and the proxy's socket is closed
                try:
                    socket.send_fds(connection, [b"/dev/ptmx"], [proxy.master])
                finally:
                    os.close(proxy.master)
            except BaseException:
                self._discard(container_id)
                raise
        finally:
            connection.close()

    def start(self, container_id: str) -> None:
        self._run("start", container_id)

    def kill(self, container_id: str, sig: str | int = "SIGTERM") -> None:
        self._run("kill", container_id, str(sig))

    def delete(self, container_id: str, *, force: bool = False) -> None:
        self._run("delete", *(["--force"] if force else []), container_id)
        self._cgroups.pop(container_id, None)

    def pause(self, container_id: str) -> None:
        self._run("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._run("resume", container_id)

    def update(self, container_id: str, resources: dict) -> list[str]:
        self._run("update", "--resources", "-", container_id, stdin=json.dumps(resources))
        return []

    def state(self, container_id: str) -> dict:
        return json.loads(self._run("state", container_id))

    def ps(self, container_id: str) -> list[int]:
        return json.loads(self._run("ps", "--format", "json", container_id)) or []

    def stats(self, container_id: str) -> dict:
        return self._cgroup(container_id).stats()

    def oom_kill_count(self, container_id: str) -> int:
        return self._cgroup(container_id).oom_kill_count()

    def exec(
        self,
        container_id: str,
        process: dict,
        *,
        console_socket: str | None = None,
        started: Callable[[int], None] | None = None,
    ) -> int:
        from dockyard.kernel import constants as k
        from dockyard.kernel import libc

        libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)  # runc exits at once and leaves the process to us
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dy-exec-", dir=self.root) as scratch:
            process_file = os.path.join(scratch, "process.json")
            with open(process_file, "w") as f:
                json.dump(process, f)
            pid_file = os.path.join(scratch, "pid")
            console = ["--console-socket", console_socket] if console_socket else []
            self._run_passing_stdio(
                scratch, "exec", "--detach", "--process", process_file, "--pid-file", pid_file, *console, container_id
            )
            with open(pid_file) as f:
                pid = int(f.read().strip())
        if started is not None:
            started(pid)
        return wait_exit(pid)

    # -- running the command ------------------------------------------------------------

    def _argv(self, *args: str) -> list[str]:
        return [*self.command, "--root", self.root, *args]

    def _run(self, *args: str, stdin: str | None = None) -> str:
        """A verb whose stdio is ours: its output, or its error raised."""
        try:
            done = subprocess.run(
                self._argv("--log-format", "json", *args), input=stdin, capture_output=True, text=True, timeout=60
            )
        except FileNotFoundError as exc:
            raise ContainerError(f"runtime {self.command[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            raise _error(args[0], _message(done.stderr) or f"exit status {done.returncode}")
        return done.stdout

    def _run_passing_stdio(self, scratch: str, *args: str) -> None:
        """create or exec: the runtime's stdio is the process's (fds 0-2, inherited); errors go to a log file."""
        log = os.path.join(scratch, "log")
        try:
            done = subprocess.run(self._argv("--log", log, "--log-format", "json", *args), timeout=60)
        except FileNotFoundError as exc:
            raise ContainerError(f"runtime {self.command[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            try:
                with open(log) as f:
                    message = _message(f.read())
            except FileNotFoundError:
                message = ""
            raise _error(args[0], message or f"exit status {done.returncode}")

    def _cgroup(self, container_id: str):
        from dockyard.kernel.cgroups import open_cgroup

        path = self._cgroups.get(container_id)
        if path is None:
            bundle = self.state(container_id)["bundle"]
            with open(os.path.join(bundle, "config.json")) as f:
                path = json.load(f)["linux"]["cgroupsPath"]
            self._cgroups[container_id] = path
        return open_cgroup(path)


def _message(output: str) -> str:
    """The last error in the runtime's JSON log lines (or the last line that is not JSON)."""
    message = ""
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            message = line.strip() or message
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            message = str(entry.get("msg", ""))
    return message


def _error(verb: str, message: str) -> Exception:
    lowered = message.lower()
    if verb not in ("create", "exec") and any(words in lowered for words in _NOT_FOUND):
        return NotFound(message)
    if any(words in lowered for words in _WRONG_STATE) and verb in ("kill", "pause", "resume", "delete"):
        return Conflict(message)
    if verb == "update":  # resources the kernel refuses (a memory limit below the usage): the request's fault
        return InvalidParameter(message)
    return ContainerError(message)
