"""docker exec's runner: Runtime.exec in a process forked from the shim template.

The daemon hands the template a request ({"root", "id", "process": the OCI
process, and "console_socket" for a terminal}) and four fds: the process's
stdin, stdout and stderr (with a terminal its stdio is the pty, whose master
the runtime sends to the console socket), and a status pipe. The runner
detaches at once (a second fork, a session of its own, as the shims do: the
daemon never reaps it), runs the process in the container's namespaces and
cgroup, writes {"pid": its pid} once it has exec'd and, when it has exited,
{"code": status}; or only {"error": message} when the runtime could not start it.
Forked from the template (run: the template's child is the runner), an exec
costs no interpreter start-up and no imports (≈ 20 ms a `dockyard-runtime exec`
process took); when the template cannot be reached the daemon starts `python -m
dockyard.runtime.exec_process REQUEST STATUS_FD` instead, with the same fds,
which forks the runner and exits (detach_and_run).
"""

from __future__ import annotations

import json
import os
import sys

EXEC = b"exec "  # the shim template's message for a runner: this prefix, the request as JSON, four fds


def detach_and_run(request: dict, status_fd: int) -> int:
    """Fork; the child runs the exec (its stdio on fds 0-2) and reports on status_fd. Returns in the
    parent at once."""
    if os.fork():
        os.close(status_fd)
        return 0
    return run(request, status_fd)


def run(request: dict, status_fd: int) -> int:
    """Run the exec (its stdio on fds 0-2) in a session of its own; report on status_fd."""
    os.setsid()
    from dockyard.runtime.runtime import Runtime

    def started(pid: int) -> None:
        _report(status_fd, {"pid": pid})
        # The process has its own copies of its stdio: with ours gone, the daemon reads the end of
        # its output when it exits, not when this runner has written the status and exited too.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    try:
        runtime = Runtime(request["root"])
        code = runtime.exec(request["id"], request["process"], console_socket=request.get("console_socket"),
                            started=started)  # fmt: skip
        result: dict = {"code": code}
    except Exception as exc:
        result = {"error": exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)}
    _report(status_fd, result)
    return 0


def _report(status_fd: int, message: dict) -> None:
    os.write(status_fd, (json.dumps(message) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    code = detach_and_run(json.loads(args[0]), int(args[1]))
    os._exit(code)  # the runner as well as the launcher: no interpreter teardown


if __name__ == "__main__":
    sys.exit(main())
