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
import select
import socket
import sys

from dockyard import timestamps
from dockyard.runtime import control

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
        container, stdio = _create(runtime, container_id, bundle, settings)
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


class Stdio:
    """The shim's side of the container's stdio: output fds (to their stream name) and where input goes."""

    def __init__(self, outputs: dict[int, str], stdin: int, terminal: bool) -> None:
        self.outputs = outputs
        self.stdin = stdin  # the pipe's write end, the pty master, or -1: no input
        self.terminal = terminal


def _create(runtime, container_id: str, bundle: str, settings: dict):
    """runtime.create with the container's stdio: a pty (Tty) or pipes; the init inherits fds 0-2.

    -i (OpenStdin): the container's stdin is a pipe the shim keeps open, so that `cat` waits for
    input instead of reading end-of-file at once, as under docker; input comes from attach.
    """
    shim_log = os.dup(2)  # the daemon pointed our stderr at shim.log
    try:
        if settings.get("tty"):
            return _create_with_terminal(runtime, container_id, bundle)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin_r, stdin_w = os.pipe() if settings.get("open_stdin") else (os.open(os.devnull, os.O_RDONLY), -1)
        os.dup2(stdin_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        try:
            container = runtime.create(container_id, bundle)
        finally:
            for fd in (out_w, err_w, stdin_r):
                os.close(fd)
        if stdin_w >= 0:
            os.set_blocking(stdin_w, False)  # the loop never waits on a container that does not read
        return container, Stdio({out_r: "stdout", err_r: "stderr"}, stdin_w, terminal=False)
    finally:
        os.dup2(shim_log, 1)
        os.dup2(shim_log, 2)
        os.close(shim_log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)


def _create_with_terminal(runtime, container_id: str, bundle: str):
    """The init makes a pty its stdio and sends the master back over a socketpair (runtime.console)."""
    from dockyard.runtime.console import receive_master

    ours, theirs = socket.socketpair()
    with ours:
        container = runtime.create(container_id, bundle, console_fd=theirs.detach())
        master = receive_master(ours)
    os.set_blocking(master, False)
    return container, Stdio({master: "stdout"}, master, terminal=True)


class ShimIO:
    """The shim's single-threaded loop: the container's output into the log, the daemon's input into it.

    Input is queued and written as the container reads it (its stdin never blocks the loop, so output
    keeps flowing); while much is queued, control connections are not read, which pushes back on
    the daemon and through it on the client.
    """

    _QUEUE_LIMIT = 1 << 18

    def __init__(self, log: JsonFileLog, stdio: Stdio, listener: socket.socket) -> None:
        self.log = log
        self.stdio = stdio
        self.outputs = dict(stdio.outputs)
        self.listener = listener
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}
        self.queued = bytearray()
        self.close_when_drained = False

    def run(self, init_pid: int) -> None:
        """Until the init has exited and its output is drained."""
        pidfd = os.pidfd_open(init_pid)
        exited = False
        while self.outputs:
            # Once the init is gone, the kernel has killed the rest of its PID namespace; output
            # that is still buffered is drained, and a pipe that some escaped process keeps open
            # does not hold the shim forever. Input is no longer taken.
            readers = [*self.outputs]
            if not exited:
                readers.append(pidfd)
                readers.append(self.listener.fileno())
                if len(self.queued) < self._QUEUE_LIMIT:
                    readers.extend(self.clients)
            writers = [self.stdio.stdin] if self.queued and self.stdio.stdin >= 0 and not exited else []
            ready, writable, _ = select.select(readers, writers, [], 0.5 if exited else None)
            if not ready and not writable and exited:
                break
            if writable:
                self._write_input()
            for fd in ready:
                if fd == pidfd:
                    exited = True
                elif fd == self.listener.fileno():
                    self._accept()
                elif fd in self.outputs:
                    self._read_output(fd)
                elif fd in self.clients:
                    self._read_client(fd)
        os.close(pidfd)
        self.listener.close()
        for sock, _ in self.clients.values():
            sock.close()

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: a pty whose every slave is closed, its end of file
                raise
            data = b""
        if data:
            self.log.write(self.outputs[fd], data)
            return
        del self.outputs[fd]
        if fd == self.stdio.stdin:
            self.stdio.stdin = -1
        os.close(fd)

    def _accept(self) -> None:
        sock, _ = self.listener.accept()
        self.clients[sock.fileno()] = (sock, bytearray())

    def _read_client(self, fd: int) -> None:
        sock, buffer = self.clients[fd]
        try:
            data = sock.recv(_CHUNK)
            buffer += data
            frames = list(control.parse_frames(buffer))
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"shim: control connection dropped: {exc}\n")
            data, frames = b"", []
        for kind, payload in frames:
            self._apply(kind, payload)
        if not data:  # the daemon went away or the attach ended: the container carries on
            del self.clients[fd]
            sock.close()

    def _apply(self, kind: int, payload: bytes) -> None:
        if kind == control.STDIN and self.stdio.stdin >= 0 and not self.close_when_drained:
            self.queued += payload
        elif kind == control.RESIZE and self.stdio.terminal and self.stdio.stdin >= 0:
            from dockyard.runtime.console import set_size

            set_size(self.stdio.stdin, *control.parse_size(payload))
        elif kind == control.CLOSE_STDIN and not self.stdio.terminal:
            # docker closes a container's stdin when the attach that had it ends (StdinOnce); a
            # terminal's input is never closed so (there is no end of file on a pty but ^D).
            self.close_when_drained = True
        self._write_input()

    def _write_input(self) -> None:
        stdin = self.stdio.stdin
        if stdin < 0:
            self.queued.clear()
            return
        try:
            while self.queued:
                written = os.write(stdin, self.queued)
                del self.queued[:written]
        except BlockingIOError:
            return
        except OSError as exc:  # EPIPE: the container closed its stdin; nothing will read more
            sys.stderr.write(f"shim: container stdin: {exc}\n")
            self.queued.clear()
            self.close_when_drained = not self.stdio.terminal  # a pty master is also the output
        if self.close_when_drained:
            os.close(stdin)
            self.stdio.stdin = -1


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
