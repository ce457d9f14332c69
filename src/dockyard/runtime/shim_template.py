"""The shim template: a single-threaded process with the runtime already imported, which forks shims.

Starting a shim as a new interpreter costs ~30 ms and ~6 MB of private memory
per container; a fork of this template starts at once and shares the
interpreter and the runtime's modules with every other shim until they are
written to. The daemon (multi-threaded, so never forking itself) asks over a
unix socket: one connection per shim, carrying the shim's directory and, as
SCM_RIGHTS, the write end of its report pipe; the template answers "ok" once the
shim runs detached (forked twice: it belongs to init at once).

docker exec's processes are forked here too (dockyard.runtime.exec_process):
"exec " and a JSON request, and four fds (the process's stdin, stdout and
stderr, and the status pipe). The process is the template's own child, forked
once into the container's pid namespace: the template keeps its status pipe,
reaps it and writes its exit status there. SIGCHLD only wakes the serving loop
(through signal.set_wakeup_fd, which the C-level handler writes, so a signal
that comes just before the loop blocks still wakes it; a Python-level handler
alone may run only after the next connection), and the loop reaps; its forks set
SIGCHLD back to the default before anything else.
A message ends where the daemon shuts its side of the connection down (the fds
come with its first bytes).

The template dies with the daemon (PR_SET_PDEATHSIG); the shims and exec
processes it forked do not, they belong to init then.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import sys

from dockyard.kernel import cgroups, libc, seccomp  # noqa: F401  every create and exec imports them: not per fork

# Imported here, once, so that every fork has them: what a shim needs to run a container.
from dockyard.kernel import constants as k
from dockyard.runtime import exec_process, shim
from dockyard.runtime.drivers import open_runtime  # noqa: F401  preloaded for the forks
from dockyard.runtime.runtime import Runtime  # noqa: F401  preloaded for the forks
from dockyard.runtime.seccomp_cache import compiled  # noqa: F401  preloaded for the forks
from dockyard.runtime.waiting import exit_code  # noqa: F401  preloaded for the forks


def serve(path: str) -> None:
    # Objects that exist now are never collected, so the collector never writes to (and so copies)
    # the pages the forks share with the template.
    gc.freeze()
    libc.prctl(k.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        return  # the daemon died before the line above: nobody to serve
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    execs = _Execs()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # so that the C-level handler writes wake_w
    closed_in_forks = (listener, wake_r, wake_w)
    while True:
        readable, _, _ = select.select([listener, wake_r], [], [])
        if wake_r in readable:
            while _drained(wake_r):
                pass
            execs.reap()
        if listener not in readable:
            continue
        conn, _ = listener.accept()
        with conn:
            message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
            while message and (more := conn.recv(1 << 16)):  # an exec's process may take more than a read
                message += more
            is_exec = message.startswith(exec_process.EXEC)
            if len(fds) != (4 if is_exec else 1):  # the launcher's readiness probe, or a confused client
                if message:
                    conn.sendall(b"error: wrong number of fds\n")
                for fd in fds:
                    os.close(fd)
                continue
            # A fork keeps none of the template's handles, nor the status pipes of the execs still running:
            # a shim holding one would keep its reader (the daemon) from ever seeing that exec end.
            closed = (*closed_in_forks, conn, *execs.status.values())
            if is_exec:
                execs.start(closed, json.loads(message.removeprefix(exec_process.EXEC)), fds)
            else:
                _start_shim(closed, message.decode(), fds[0])
            conn.sendall(b"ok\n")


def _drained(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _start_shim(closed_in_fork: tuple, state_dir: str, report_fd: int) -> None:
    pid = os.fork()
    if pid == 0:
        _shim_child(closed_in_fork, state_dir, report_fd)
    os.close(report_fd)
    os.waitpid(pid, 0)  # it forks the shim and exits at once


def _shim_child(closed_in_fork: tuple, state_dir: str, report_fd: int) -> None:
    """In the fork: stdio to the shim's log, then detach and run; never returns to the serving loop."""
    code = 1
    try:
        _reset_signals(closed_in_fork)
        log = os.open(os.path.join(state_dir, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        code = shim.detach_and_run(state_dir, report_fd)
    except BaseException as exc:  # a failure here is the shim's: its log says why
        sys.stderr.write(f"shim template child: {exc}\n")
    finally:
        os._exit(code)


class _Execs:
    """The exec processes the template forked, by pid: the status pipe each one's exit goes to."""

    def __init__(self) -> None:
        self.status: dict[int, int] = {}

    def start(self, closed_in_fork: tuple, request: dict, fds: list[int]) -> None:
        """Fork the exec's process; report its pid, or why there is none."""
        if request.get("runtime_command"):
            return _start_runner(closed_in_fork, request, fds)
        status = fds[3]

        def child(config: dict, options, joins: list) -> None:
            _exec_child(closed_in_fork, fds, lambda: exec_process.become(request, config, options, joins, status))

        try:
            pid = exec_process.start_in_template(request, child)
        except Exception as exc:  # the container is not there to join: the daemon reports it
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            with contextlib.suppress(OSError):  # nobody reads any more: the template must go on serving
                exec_process.report(status, {"error": message})
            os.close(status)
        else:
            self.status[pid] = status
            with contextlib.suppress(OSError):  # as above; reap() still collects the process
                exec_process.report(status, {"pid": pid})
        finally:
            for fd in fds[:3]:
                os.close(fd)

    def reap(self) -> None:
        """Collect the exec processes that have exited and report their exits."""
        try:
            while True:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
                if not pid:
                    return
                status = self.status.pop(pid, None)
                if status is not None:
                    exec_process.report_exit(status, wait_status)
        except ChildProcessError:  # no child left
            pass


def _start_runner(closed_in_fork: tuple, request: dict, fds: list[int]) -> None:
    """An exec of a runtime other than ours goes through its command line, whose process is not forked
    here: a runner (exec_process.detach_and_run) waits for it and reports, as without the template. The
    fork exits once the runner is detached; reap() collects it."""
    try:
        if os.fork() == 0:
            _exec_child(closed_in_fork, fds, lambda: os._exit(exec_process.detach_and_run(request, fds[3])))
    finally:
        for fd in fds:
            os.close(fd)


def _exec_child(closed_in_fork: tuple, fds: list[int], become) -> None:
    """In the fork: the exec's stdio on fds 0-2, then become its process; never returns to the serving loop."""
    try:
        _reset_signals(closed_in_fork)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        become()
    except BaseException as exc:  # the exec's stderr is where its user looks
        sys.stderr.write(f"exec: {exc}\n")
    os._exit(1)


def _reset_signals(closed_in_fork: tuple) -> None:
    """First thing in a fork: the template's signals, sockets, wakeup pipe and execs' status pipes are not the
    fork's."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for handle in closed_in_fork:
        if isinstance(handle, int):
            os.close(handle)
        else:
            handle.close()


if __name__ == "__main__":
    serve(sys.argv[1])
