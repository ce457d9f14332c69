"""The per-container shim: it owns the container's init, its output and its exit status.

The daemon starts one shim per container start, forked from a pre-started
template process (dockyard.runtime.shim_template), or `python -m
dockyard.runtime.shim DIR FD` when the template cannot be reached. Either way it
detaches at once, so that containers outlive the daemon (live restore) and no
container process is a child of the multi-threaded daemon. DIR holds:

    shim.json     written by the daemon: id, bundle, runtime root and command (none: Dockyard's own
                  runtime, in-process; else runc's CLI, dockyard.runtime.runtimes), log path and
                  format (dockyard.logs), tty, open_stdin
    shim.pid      the shim's pid, written before anything else
    control.sock  input, window size and end of input from the daemon (dockyard.runtime.control)
    started.json  {"pid": <init pid>} once the process runs, or {"error": ..., "kind": ...}
    exit.json     {"code": ..., "oom_killed": ..., "finished": ...} when it has exited

Each JSON file is written to a temporary name and renamed, so a reader sees all
of it or nothing. The shim reads the container's stdout and stderr through pipes,
or its terminal through the pty master (Tty), and appends them to the log in the
container's driver's format (docker's json-file or local, dockyard.logs.writer);
it is the init's subreaper, so it reaps it and records its exit status, then
deletes the container from the runtime (cgroup and state) and exits.

The daemon learns the outcome of a start from the report pipe (the fd number
given after DIR): one line of JSON, the same as started.json.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
from typing import TYPE_CHECKING

from dockyard import fastjson, timestamps
from dockyard.logs import jsonfile, local
from dockyard.logs.writer import LogWriter
from dockyard.runtime import control
from dockyard.runtime.shim_io import ContainerStdio, ShimIO

if TYPE_CHECKING:
    from dockyard.core.runtime import OCIRuntime

_CHUNK = 1 << 16


def write_json(path: str, document: dict) -> None:
    temp = f"{path}.tmp"
    with open(temp, "w") as f:
        json.dump(document, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(temp, path)


def read_json(path: str) -> dict | None:
    # Bytes and the C scanner rather than a text file and json.load: in a shim every page that Python
    # touches is copied from the template and kept for the container's life (≈ 150 kB less).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return fastjson.loads(_read_all(fd))
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, _CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


_report_fd = -1


def run(state_dir: str) -> int:
    from dockyard.kernel import constants as k
    from dockyard.kernel import libc
    from dockyard.runtime.waiting import exit_code

    settings = read_json(os.path.join(state_dir, "shim.json"))
    container_id = settings["id"]
    libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)  # the init's parent exits; its exit status must come to us
    # The create and the start run in a child of their own. The work touches, and so copies from the
    # template, megabytes of interpreter state (types, code, allocator pools) that the shim, which lives
    # as long as the container, never needs again: its private memory is what an idle container costs.
    # The init outlives that child and, the shim being its subreaper, becomes the shim's child. The
    # stdio and the control socket are made first, here, so that the shim keeps its ends of them.
    stdio = ContainerStdio(settings)
    listener = control.listen(state_dir)  # before the start: attach may send input at once
    started_r, started_w = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(started_r)
        code = 1
        try:
            listener.close()
            code = _create_and_start(state_dir, settings, stdio, started_w)
        except BaseException as exc:  # started.json stays absent: the shim reports that the worker failed
            sys.stderr.write(f"shim worker {container_id}: {exc!r}\n")
        finally:
            os._exit(code)
    _close_report()  # the worker reports; the daemon sees the end of the pipe when it is done
    stdio.close_container_ends()
    os.close(started_w)
    os.waitpid(worker, 0)
    line = _read_all(started_r)  # the worker's one line; its end when it has exited
    os.close(started_r)
    if not line:  # the worker reported its failure (started.json), or died before it could
        if read_json(os.path.join(state_dir, "started.json")) is None:
            _report_failure(state_dir, RuntimeError("the shim's worker exited without starting the container"))
        return 1
    started = fastjson.loads(line)
    log_settings = settings["log"]
    log = LogWriter(
        settings["log_path"],
        local.encode
        if log_settings["format"] == "local"
        else functools.partial(jsonfile.encode, attrs=log_settings["attrs"]),
        max_size=log_settings["max_size"],
        max_files=log_settings["max_files"],
        compress=log_settings["compress"],
        raw=stdio.terminal,
    )
    ShimIO(log, stdio.shim_side(), listener).run(started["pid"])
    _, status = os.waitpid(started["pid"], 0)
    log.flush()
    log.close()  # and its last compression done: the log is whole before the exit is recorded
    runtime = _runtime(settings)
    oom_killed = _oom_killed(runtime, container_id)
    _cleanup(runtime, container_id)
    write_json(
        os.path.join(state_dir, "exit.json"),
        {"code": exit_code(status), "oom_killed": oom_killed, "finished": timestamps.now()},
    )
    return 0


def _create_and_start(state_dir: str, settings: dict, stdio: ContainerStdio, started_w: int) -> int:
    """In the shim's worker: create and start the container, report, write the init's pid to started_w."""
    container_id = settings["id"]
    runtime = _runtime(settings)
    try:
        container = stdio.create(runtime, container_id, settings["bundle"])
    except Exception as exc:
        return _report_failure(state_dir, exc)
    try:
        runtime.start(container_id)
    except Exception as exc:
        _cleanup(runtime, container_id)
        return _report_failure(state_dir, exc)
    started = {"pid": container.pid, "started": timestamps.now()}
    write_json(os.path.join(state_dir, "started.json"), started)
    os.write(started_w, (json.dumps(started) + "\n").encode())
    _report(started)
    return 0


def _runtime(settings: dict) -> OCIRuntime:
    from dockyard.runtime.drivers import open_runtime

    return open_runtime(settings["runtime_root"], settings.get("runtime_command"))


def _oom_killed(runtime: OCIRuntime, container_id: str) -> bool:
    try:
        return runtime.oom_kill_count(container_id) > 0
    except Exception:  # no cgroup counter on this host: report no OOM rather than fail the exit
        return False


def _cleanup(runtime: OCIRuntime, container_id: str) -> None:
    try:
        runtime.delete(container_id, force=True)
    except Exception as exc:  # the daemon reconciles leftovers at its next start
        sys.stderr.write(f"shim {container_id}: delete failed: {exc}\n")


def _report(document: dict) -> None:
    if _report_fd < 0:
        return
    try:
        os.write(_report_fd, (json.dumps(document) + "\n").encode())
    except OSError as exc:
        if exc.errno != errno.EPIPE:  # the daemon stopped listening: started.json says it all
            raise
    finally:
        _close_report()


def _close_report() -> None:
    global _report_fd
    if _report_fd >= 0:
        os.close(_report_fd)
        _report_fd = -1


def _report_failure(state_dir: str, exc: Exception) -> int:
    failure = {"error": str(exc), "kind": type(exc).__name__}
    write_json(os.path.join(state_dir, "started.json"), failure)
    _report(failure)
    return 1


def detach_and_run(state_dir: str, report_fd: int) -> int:
    """Fork once more and return in the parent at once; the child, in a session of its own and left to
    init when that parent exits, records its pid and runs the container. Returns the exit status."""
    global _report_fd
    if os.fork():
        return 0  # the caller (the launcher or the template's child) exits; its parent reaps it at once
    _report_fd = report_fd
    os.setsid()
    fd = os.open(os.path.join(state_dir, "shim.pid.tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.write(fd, b"%d\n" % os.getpid())
    os.close(fd)
    os.rename(os.path.join(state_dir, "shim.pid.tmp"), os.path.join(state_dir, "shim.pid"))
    try:
        return run(state_dir)
    except BaseException as exc:
        if read_json(os.path.join(state_dir, "started.json")) is None:
            return _report_failure(state_dir, exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
        raise


def main(argv: list[str] | None = None) -> int:
    """`python -m dockyard.runtime.shim DIR REPORT_FD`: the launcher used when no template runs."""
    args = argv if argv is not None else sys.argv[1:]
    code = detach_and_run(args[0], int(args[1]) if len(args) > 1 else -1)
    os._exit(code)  # the shim as well as the launcher: no interpreter teardown


if __name__ == "__main__":
    sys.exit(main())
