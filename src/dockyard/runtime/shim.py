"""The per-container shim: it owns the container's init, its output and its exit status.

The daemon starts one shim per container start, forked from a pre-started
template process (dockyard.runtime.shim_template), or `python -m
dockyard.runtime.shim DIR FD` when the template cannot be reached. Either way it
detaches at once, so that containers outlive the daemon (live restore) and no
container process is a child of the multi-threaded daemon. DIR holds:

    shim.json     written by the daemon: id, bundle, runtime root, log path and format (dockyard.logs)
    shim.pid      the shim's pid, written before anything else
    started.json  {"pid": <init pid>} once the process runs, or {"error": ..., "kind": ...}
    exit.json     {"code": ..., "oom_killed": ..., "finished": ...} when it has exited

Each JSON file is written to a temporary name and renamed, so a reader sees all
of it or nothing. The shim reads the container's stdout and stderr through pipes
and appends them to the log in the container's driver's format (docker's
json-file or local, dockyard.logs.writer); it is the init's subreaper, so it reaps it and records its exit status,
then deletes the container from the runtime (cgroup and state) and exits.

The daemon learns the outcome of a start from the report pipe (the fd number
given after DIR): one line of JSON, the same as started.json.
"""

from __future__ import annotations

import errno
import json
import os
import select
import sys

from dockyard import fastjson, timestamps
from dockyard.logs import jsonfile, local
from dockyard.logs.writer import LogWriter

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
    from dockyard.runtime.runtime import Runtime
    from dockyard.runtime.waiting import exit_code

    settings = read_json(os.path.join(state_dir, "shim.json"))
    container_id = settings["id"]
    libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)  # the init's parent exits; its exit status must come to us
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # -i (OpenStdin): the container's stdin is a pipe the shim keeps open, so that `cat` waits for
    # input instead of reading end-of-file at once, as under docker. Input itself comes with attach.
    stdin_r, _stdin_w = os.pipe() if settings.get("open_stdin") else (os.open(os.devnull, os.O_RDONLY), -1)
    # The create and the start run in a child of their own. The work touches, and so copies from the
    # template, megabytes of interpreter state (types, code, allocator pools) that the shim, which lives
    # as long as the container, never needs again: its private memory is what an idle container costs.
    # The init outlives that child and, the shim being its subreaper, becomes the shim's child.
    started_r, started_w = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(started_r)
        code = 1
        try:
            code = _create_and_start(state_dir, settings, (stdin_r, out_w, err_w), started_w)
        except BaseException as exc:  # started.json stays absent: the shim reports that the worker failed
            sys.stderr.write(f"shim worker {container_id}: {exc!r}\n")
        finally:
            os._exit(code)
    _close_report()  # the worker reports; the daemon sees the end of the pipe when it is done
    for fd in (out_w, err_w, stdin_r, started_w):
        os.close(fd)
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
        local.encode if log_settings["format"] == "local" else jsonfile.encode,
        max_size=log_settings["max_size"],
        max_files=log_settings["max_files"],
        compress=log_settings["compress"],
    )
    _pump(log, {out_r: "stdout", err_r: "stderr"}, started["pid"])
    _, status = os.waitpid(started["pid"], 0)
    log.flush()
    log.close()  # and its last compression done: the log is whole before the exit is recorded
    runtime = Runtime(settings["runtime_root"])
    oom_killed = _oom_killed(runtime, container_id)
    _cleanup(runtime, container_id)
    write_json(
        os.path.join(state_dir, "exit.json"),
        {"code": exit_code(status), "oom_killed": oom_killed, "finished": timestamps.now()},
    )
    return 0


def _create_and_start(state_dir: str, settings: dict, stdio: tuple[int, int, int], started_w: int) -> int:
    """In the shim's worker: create and start the container, report, write the init's pid to started_w."""
    from dockyard.runtime.runtime import Runtime

    container_id = settings["id"]
    runtime = Runtime(settings["runtime_root"])
    shim_log = os.dup(2)  # the daemon pointed our stderr at shim.log
    # The init inherits fds 0-2: point them at the pipes for the create, then back at shim.log.
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    try:
        container = runtime.create(container_id, settings["bundle"])
    except Exception as exc:
        _redirect(shim_log)
        return _report_failure(state_dir, exc)
    _redirect(shim_log)
    for fd in stdio:
        os.close(fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
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


def _redirect(fd: int) -> None:
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def _pump(log: LogWriter, streams: dict[int, str], init_pid: int) -> None:
    """Copy the container's output to the log until its init has exited and the pipes are drained."""
    pidfd = os.pidfd_open(init_pid)
    open_streams = dict(streams)
    exited = False
    while open_streams:
        # Once the init is gone, the kernel has killed the rest of its PID namespace; output
        # that is still buffered in the pipes is drained, and a pipe that some escaped
        # process keeps open does not hold the shim forever.
        timeout = 0.5 if exited else None
        ready, _, _ = select.select([*open_streams, *(() if exited else (pidfd,))], [], [], timeout)
        if not ready and exited:
            break
        for fd in ready:
            if fd == pidfd:
                exited = True
                continue
            data = os.read(fd, _CHUNK)
            if data:
                log.write(open_streams[fd], data)
            else:
                os.close(fd)
                del open_streams[fd]
    os.close(pidfd)


def _oom_killed(runtime, container_id: str) -> bool:
    try:
        return runtime.oom_kill_count(container_id) > 0
    except Exception:  # no cgroup counter on this host: report no OOM rather than fail the exit
        return False


def _cleanup(runtime, container_id: str) -> None:
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
