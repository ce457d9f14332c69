"""The shim's side of a container's stdio: set up at create, then served by one single-threaded loop.

Output (stdout and stderr pipes, or the pty master of a Tty container) goes into
the log (dockyard.logs.writer); input, window sizes and the end of input come from the daemon
over the control socket (dockyard.runtime.control) and go to the stdin pipe or
the pty master.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import sys
from typing import TYPE_CHECKING

from dockyard.runtime import control
from dockyard.runtime.console import receive_master, set_size

if TYPE_CHECKING:
    from dockyard.logs.writer import LogWriter

_CHUNK = 1 << 16
# A line the container has not ended (a prompt: "Name? ") goes into the log, as a record of its own,
# once the output is quiet this long: attach reads the log, and dockerd's attach shows it at once.
_UNENDED_LINE_WAIT = 0.1


class Stdio:
    """The shim's side of the container's stdio: output fds (to their stream name) and where input goes."""

    def __init__(self, outputs: dict[int, str], stdin: int, terminal: bool) -> None:
        self.outputs = outputs
        self.stdin = stdin  # the pipe's write end, the pty master, or -1: no input
        self.terminal = terminal


class ContainerStdio:
    """The container's stdio, made by the shim before its worker forks (dockyard.runtime.shim).

    The worker creates the container on the container's ends and exits; the shim keeps its own
    ends: the pipes' (stdout, stderr, and stdin with -i: OpenStdin, so that `cat` waits for input
    instead of reading end-of-file at once, as under docker), or with a Tty the socket on which the
    init sends the pty master (runtime.console), which stays queued there until the shim takes it.
    """

    def __init__(self, settings: dict) -> None:
        self.terminal = bool(settings.get("tty"))
        if self.terminal:
            self._ours, theirs = socket.socketpair()
            self._console = theirs.detach()
            self._container_fds: tuple[int, ...] = (self._console,)
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin_r, stdin_w = os.pipe() if settings.get("open_stdin") else (os.open(os.devnull, os.O_RDONLY), -1)
        self._container_fds = (stdin_r, out_w, err_w)
        self._shim = Stdio({out_r: "stdout", err_r: "stderr"}, stdin_w, terminal=False)

    def create(self, runtime, container_id: str, bundle: str):
        """In the worker: runtime.create with the container's ends; the init inherits fds 0-2 (pipes)
        or is given the console socket (Tty). Returns the runtime's container."""
        if self.terminal:
            return runtime.create(container_id, bundle, console_fd=self._console)
        shim_log = os.dup(2)  # the daemon pointed our stderr at shim.log
        for target, fd in enumerate(self._container_fds):
            os.dup2(fd, target)
        try:
            return runtime.create(container_id, bundle)
        finally:
            os.dup2(shim_log, 1)
            os.dup2(shim_log, 2)
            os.close(shim_log)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)

    def close_container_ends(self) -> None:
        """In the shim once the worker has forked: the container's ends are the worker's and the init's."""
        for fd in self._container_fds:
            os.close(fd)

    def shim_side(self) -> Stdio:
        """In the shim once the container has started: its ends, non-blocking, so that the loop never
        waits on a container that does not read."""
        if self.terminal:
            with self._ours:
                master = receive_master(self._ours)
            os.set_blocking(master, False)
            return Stdio({master: "stdout"}, master, terminal=True)
        if self._shim.stdin >= 0:
            os.set_blocking(self._shim.stdin, False)
        return self._shim


class ShimIO:
    """The shim's single-threaded loop: the container's output into the log, the daemon's input into it.

    Input is queued and written as the container reads it (its stdin never blocks the loop, so output
    keeps flowing); while much is queued, control connections are not read, which pushes back on
    the daemon and through it on the client.
    """

    _QUEUE_LIMIT = 1 << 18

    def __init__(self, log: LogWriter, stdio: Stdio, listener: socket.socket) -> None:
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
            timeout = 0.5 if exited else _UNENDED_LINE_WAIT if self.log.pending else None
            ready, writable, _ = select.select(readers, writers, [], timeout)
            if not ready and not writable:
                if exited:
                    break
                self.log.flush()
                continue
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
