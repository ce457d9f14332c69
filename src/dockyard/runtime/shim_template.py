"""The shim template: a single-threaded process with the runtime already imported, which forks shims.

Starting a shim as a new interpreter costs ~30 ms and ~6 MB of private memory
per container; a fork of this template starts at once and shares the
interpreter and the runtime's modules with every other shim until they are
written to. The daemon (multi-threaded, so never forking itself) asks over a
unix socket: one connection per shim, carrying the shim's directory and, as
SCM_RIGHTS, the write end of its report pipe; the template answers "ok" once the
shim runs detached. docker exec's runners are forked the same way
(dockyard.runtime.exec_process): "exec " and a JSON request, and four fds (the
process's stdin, stdout and stderr, and the status pipe). A message ends where the
daemon shuts its side of the connection down (the fds come with its first bytes).
A runner is the template's own child, forked once (a shim is forked twice, so
that it belongs to init at once): the template reaps runners as they exit, on
SIGCHLD, which its forks set back to the default before anything else.
The template dies with the daemon (PR_SET_PDEATHSIG); the shims and runners it
forked do not, they belong to init then.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys

from dockyard.kernel import cgroups, libc, seccomp  # noqa: F401  every create and exec imports them: not per fork

# Imported here, once, so that every fork has them: what a shim needs to run a container.
from dockyard.kernel import constants as k
from dockyard.runtime import exec_process, shim
from dockyard.runtime.runtime import Runtime  # noqa: F401  preloaded for the forks
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
    signal.signal(signal.SIGCHLD, _reap)
    while True:
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
            pid = os.fork()
            if pid == 0:
                if is_exec:
                    _exec_child(listener, conn, json.loads(message.removeprefix(exec_process.EXEC)), fds)
                _child(listener, conn, message.decode(), fds[0])
            for fd in fds:
                os.close(fd)
            if not is_exec:
                try:
                    os.waitpid(pid, 0)  # it forks the shim and exits at once
                except ChildProcessError:
                    pass  # _reap was first
            conn.sendall(b"ok\n")


def _reap(_signum: int, _frame: object) -> None:
    """SIGCHLD: collect the exec runners (and the shims' first forks) that have exited."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:  # no child left
        pass


def _child(listener: socket.socket, conn: socket.socket, state_dir: str, report_fd: int) -> None:
    """In the fork: stdio to the shim's log, then detach and run; never returns to the serving loop."""
    code = 1
    try:
        _reset_signals(listener, conn)
        log = os.open(os.path.join(state_dir, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        code = shim.detach_and_run(state_dir, report_fd)
    except BaseException as exc:  # a failure here is the shim's: its log says why
        sys.stderr.write(f"shim template child: {exc}\n")
    finally:
        os._exit(code)


def _exec_child(listener: socket.socket, conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the fork: the exec's stdio on fds 0-2, then run; never returns to the serving loop."""
    code = 1
    try:
        _reset_signals(listener, conn)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        code = exec_process.run(request, fds[3])
    except BaseException as exc:  # the exec's stderr is where its user looks
        sys.stderr.write(f"exec runner: {exc}\n")
    finally:
        os._exit(code)


def _reset_signals(listener: socket.socket, conn: socket.socket) -> None:
    """First thing in a fork: the runtime waits for its own children, the template's _reap must not."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    listener.close()
    conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
