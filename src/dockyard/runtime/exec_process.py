"""docker exec's process, forked by the shim template; or its runner, when the template cannot be reached.

The daemon hands the template a request ({"root", "id", "process": the OCI
process, "runtime_command" for a runtime other than ours (dockyard.runtime.runtimes),
and "console_socket" for a terminal}) and four fds: the process's
stdin, stdout and stderr (with a terminal its stdio is the pty, whose master
the runtime sends to the console socket), and a status pipe, which gets
{"pid"} and, when the process has exited, {"code": status}; or, first or second,
{"error": message} when it could not be started (the daemon takes the first
line that is not {"pid"} as the outcome).

The template's way, one fork and no runner (start_in_template): the template
checks the container and prepares the process, joins the container's pid
namespace for its children, forks, and returns to its own; the child (become)
joins the cgroup and the other namespaces and execs the process, so the
template, its parent, reaps it and writes its status (report_exit). Forked from
the template, an exec costs no interpreter start-up, no imports and no process
of Python that only waits.

Without the template the daemon starts `python -m dockyard.runtime.exec_process
REQUEST_FD STATUS_FD` with the same fds (the request read from a pipe): it forks a runner (a session of its own;
the daemon never reaps it), which runs Runtime.exec and reports, and exits.
"""

from __future__ import annotations

import json
import os
import sys

EXEC = b"exec "  # the shim template's message for an exec: this prefix, the request as JSON, four fds


def start_in_template(request: dict, child) -> int:
    """In the template: check the container and prepare the process (Runtime.exec_setup: what it reads
    is read here, where it faults no page in again), then fork a child born in the container's pid
    namespace and cgroup v2 directory, which runs child(config, options, joins) (the template's, which
    ends in become); the template's children are born in its own pid namespace again after. Returns
    the child's pid; NotFound, Conflict or ContainerError if the container is not there to join."""
    from dockyard.kernel import libc
    from dockyard.runtime import spec as specs
    from dockyard.runtime import state as states
    from dockyard.runtime.runtime import Runtime, clone_into, join_pid_namespace_for_children

    container = states.load(request["root"], request["id"])
    runtime = Runtime(request["root"])
    config, options, joins = runtime.exec_setup(container, request["process"], request.get("console_socket"))

    def fork() -> int:
        pid, options.joined_unified = clone_into(options.cgroup)
        if pid == 0:
            child(config, options, [(kind, path) for kind, path in joins if kind != "pid"])
        return pid

    try:
        pid_namespace = next((path for kind, path in joins if kind == "pid"), None)
        if pid_namespace is None:
            return fork()
        own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            join_pid_namespace_for_children(pid_namespace)
            try:
                return fork()
            finally:
                try:
                    libc.setns(own, specs.NAMESPACE_FLAGS["pid"])
                except OSError:
                    os._exit(1)  # never fork a shim into a container's pid namespace: the daemon starts a new template
        finally:
            os.close(own)
    finally:
        if options.console_fd is not None:
            os.close(options.console_fd)  # the child's now


def become(request: dict, config: dict, options, joins: list[tuple[str, str]], status_fd: int) -> None:
    """In the template's child (start_in_template), its stdio on fds 0-2: join the cgroup and the
    namespaces and exec the process. Never returns: a failure is reported on status_fd and the child exits."""
    if not request["process"].get("terminal"):
        os.setsid()  # out of the daemon's session (a terminal's process gets one with its tty)
    from dockyard.runtime.init import exec_child

    exec_child(config, _StatusChannel(status_fd), options, joins)


class _StatusChannel:
    """What the runtime's child code reports on, as the status pipe's lines: errors for the daemon,
    warnings (rlimits it could not raise) on the process's stderr, where its user looks."""

    def __init__(self, status_fd: int) -> None:
        self.status_fd = status_fd

    def send(self, kind: str, **fields: object) -> None:
        if kind == "error":
            report(self.status_fd, {"error": fields["message"]})
        elif kind == "warning":
            os.write(2, f"dockyard-runtime: warning: {fields['message']}\n".encode())


def report_exit(status_fd: int, wait_status: int) -> None:
    """The exit of a process the template forked (its status as waitpid gave it), and the end of its pipe."""
    from dockyard.runtime.waiting import exit_code

    try:
        report(status_fd, {"code": exit_code(wait_status)})
    except OSError:
        pass  # nobody reads any more (the daemon has gone)
    os.close(status_fd)


def report(status_fd: int, message: dict) -> None:
    os.write(status_fd, (json.dumps(message) + "\n").encode())


def detach_and_run(request: dict, status_fd: int) -> int:
    """Without the template: fork a runner, which runs the exec (its stdio on fds 0-2) and reports on
    status_fd. Returns in the parent at once."""
    if os.fork():
        os.close(status_fd)
        return 0
    os.setsid()
    from dockyard.runtime.drivers import open_runtime

    def started(pid: int) -> None:
        report(status_fd, {"pid": pid})
        # The process has its own copies of its stdio: with ours gone, the daemon reads the end of
        # its output when it exits, not when this runner has written the status and exited too.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    try:
        runtime = open_runtime(request["root"], request.get("runtime_command"))
        code = runtime.exec(request["id"], request["process"], console_socket=request.get("console_socket"),
                            started=started)  # fmt: skip
        result: dict = {"code": code}
    except Exception as exc:
        result = {"error": exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)}
    report(status_fd, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    with open(int(args[0]), "rb") as request:
        code = detach_and_run(json.loads(request.read()), int(args[1]))
    os._exit(code)  # the runner as well as the launcher: no interpreter teardown


if __name__ == "__main__":
    sys.exit(main())
