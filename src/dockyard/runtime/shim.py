"""The per-container shim: it owns the container's init, its output and its exit status.

The daemon starts one shim per container start, forked from a pre-started
template process (dockyard.runtime.shim_template), or `python -m
dockyard.runtime.shim DIR FD` when the template cannot be reached. Either way it
detaches at once, so that containers outlive the daemon (live restore) and no
container process is a child of the multi-threaded daemon. DIR holds:

    shim.json     written by the daemon: id, bundle, runtime root, log path, tty, open_stdin
    shim.pid      the shim's pid, written before anything else
    control.sock  input, window size and end of input from the daemon (dockyard.runtime.control)
    started.json  {"pid": <init pid>} once the process runs, or {"error": ..., "kind": ...}
    exit.json     {"code": ..., "oom_killed": ..., "finished": ...} when it has exited

Each JSON file is written to a temporary name and renamed, so a reader sees all
of it or nothing. The shim reads the container's stdout and stderr through pipes,
or its terminal through the pty master (Tty), and appends them to the json-file
log (docker's format, one JSON object per line); it is the init's subreaper, so
it reaps it and records its exit status, then deletes the container from the
runtime (cgroup and state) and exits.

The daemon learns the outcome of a start from the report pipe (the fd number
given after DIR): one line of JSON, the same as started.json.
"""

from __future__ import annotations

import errno
import json
import os
import sys

from dockyard import timestamps
from dockyard.runtime import control
from dockyard.runtime.shim_io import ShimIO, create_with_stdio

_CHUNK = 1 << 16


def write_json(path: str, document: dict) -> None:
    temp = f"{path}.tmp"
    with open(temp, "w") as f:
        json.dump(document, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(temp, path)


def read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


class JsonFileLog:
    """docker's json-file log driver: {"log": line, "stream": "stdout", "time": RFC 3339 nano} per line.

    It rotates, as Dockyard does by default (DESIGN.md: no container fills the disk):
    past max_size bytes the file becomes <path>.1, the older ones shift up, and at
    most max_files files are kept.

    raw (a terminal's output): what is read is written at once, a line not yet ended
    included, because attach reads the log and a shell's prompt ends no line; only
    an unfinished UTF-8 character waits for the rest of its bytes.
    """

    def __init__(self, path: str, *, max_size: int = 0, max_files: int = 1, raw: bool = False) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max(1, max_files)
        self.raw = raw
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 kept open for the container's life
        self.size = self.file.tell()
        self.partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        data = self.partial[stream] + data
        *lines, self.partial[stream] = data.split(b"\n")
        ended = [line + b"\n" for line in lines]
        if self.raw and self.partial[stream]:
            rest = self.partial[stream]
            cut = _complete_utf8(rest)
            ended.append(rest[:cut])
            self.partial[stream] = rest[cut:]
        self._emit(stream, [chunk for chunk in ended if chunk])

    @property
    def pending(self) -> bool:
        """Whether some output waits for the end of its line."""
        return any(self.partial.values())

    def flush(self) -> None:
        for stream, rest in self.partial.items():
            if rest:
                self._emit(stream, [rest])
            self.partial[stream] = b""

    def _emit(self, stream: str, lines: list[bytes]) -> None:
        if lines:
            stamp = timestamps.now()
            records = (
                json.dumps({"log": line.decode(errors="replace"), "stream": stream, "time": stamp}) + "\n"
                for line in lines
            )
            if not self.max_size:
                data = "".join(records).encode()
                self.file.write(data)
                self.size += len(data)
                return
            # Record by record, as docker's json-file: a file never grows past max_size but by one record.
            batch = b""
            for record in records:
                data = record.encode()
                if self.size + len(batch) + len(data) > self.max_size and self.size + len(batch) > 0:
                    self.file.write(batch)
                    batch = b""
                    self._rotate()
                batch += data
            self.file.write(batch)
            self.size += len(batch)

    def _rotate(self) -> None:
        self.file.close()
        if self.max_files == 1:
            os.truncate(self.path, 0)
        else:
            for n in range(self.max_files - 1, 1, -1):  # path.1 -> path.2 -> ... (the oldest falls off)
                if os.path.exists(f"{self.path}.{n - 1}"):
                    os.replace(f"{self.path}.{n - 1}", f"{self.path}.{n}")
            os.replace(self.path, f"{self.path}.1")
        self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115 the next file of the same log
        self.size = 0


def _complete_utf8(data: bytes) -> int:
    """The length of data without a UTF-8 character cut short at its end (invalid bytes count as complete)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the last lead byte (or ASCII): does its character fit?
            needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            return len(data) - back if needed > back else len(data)
    return len(data)


_report_fd = -1


def run(state_dir: str) -> int:
    from dockyard.kernel import constants as k
    from dockyard.kernel import libc
    from dockyard.runtime.runtime import Runtime
    from dockyard.runtime.waiting import exit_code

    settings = read_json(os.path.join(state_dir, "shim.json"))
    container_id, bundle = settings["id"], settings["bundle"]
    runtime = Runtime(settings["runtime_root"])
    libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)  # the init's parent exits; its exit status must come to us
    try:
        container, stdio = create_with_stdio(runtime, container_id, bundle, settings)
    except Exception as exc:
        return _report_failure(state_dir, exc)
    try:
        listener = control.listen(state_dir)  # before the start: attach may send input at once
        runtime.start(container_id)
    except Exception as exc:
        _cleanup(runtime, container_id)
        return _report_failure(state_dir, exc)
    started = {"pid": container.pid, "started": timestamps.now()}
    write_json(os.path.join(state_dir, "started.json"), started)
    _report(started)
    log = JsonFileLog(
        settings["log_path"],
        max_size=settings.get("log_max_size", 0),
        max_files=settings.get("log_max_files", 1),
        raw=bool(settings.get("tty")),
    )
    ShimIO(log, stdio, listener).run(container.pid)
    _, status = os.waitpid(container.pid, 0)
    log.flush()
    oom_killed = _oom_killed(runtime, container_id)
    _cleanup(runtime, container_id)
    write_json(
        os.path.join(state_dir, "exit.json"),
        {"code": exit_code(status), "oom_killed": oom_killed, "finished": timestamps.now()},
    )
    return 0


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
    global _report_fd
    if _report_fd < 0:
        return
    try:
        os.write(_report_fd, (json.dumps(document) + "\n").encode())
    except OSError as exc:
        if exc.errno != errno.EPIPE:  # the daemon stopped listening: started.json says it all
            raise
    finally:
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
    with open(os.path.join(state_dir, "shim.pid.tmp"), "w") as f:
        f.write(f"{os.getpid()}\n")
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
