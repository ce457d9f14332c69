"""Terminals: the pty inside the container, its master handed over a unix socket.

With --console-socket the caller (a shim, containerd, the docker daemon) gets the
pty master through SCM_RIGHTS and owns the terminal. Without one, `run` keeps
the master itself and copies between it and its own stdio.
"""

from __future__ import annotations

import os
import struct

from dockyard.runtime.waiting import ExitWatch

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def connect(path: str) -> int:
    """Connect to a console socket; return a plain fd the init can inherit."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"console socket {path}: {exc.strerror}") from None
    return sock.detach()


def setup_terminal(console_fd: int, size: dict | None) -> None:
    """In the init after pivot_root: make a pty the controlling terminal and stdio,
    then send its master to the console socket."""
    import fcntl
    import socket

    master, slave = os.openpty()
    os.setsid()
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    if size:
        set_size(slave, size.get("height", 0), size.get("width", 0))
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    sock = socket.socket(fileno=console_fd)
    try:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
    finally:
        sock.close()
        os.close(master)


def receive_master(sock) -> int:
    import socket

    _msg, fds, _flags, _addr = socket.recv_fds(sock, 1024, 1)
    if not fds:
        raise OSError(5, "console socket: no terminal was sent")
    return fds[0]


def set_size(fd: int, rows: int, columns: int) -> None:
    import fcntl

    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def copy_size(source_fd: int, dest_fd: int) -> None:
    import fcntl

    fcntl.ioctl(dest_fd, TIOCSWINSZ, fcntl.ioctl(source_fd, TIOCGWINSZ, b"\0" * 8))


def proxy(master: int, child_exited) -> None:
    """Copy stdin to the pty master and the master to stdout until the process ends.

    The local terminal is put in raw mode so keys (ctrl-c included) reach the
    container's line discipline untouched, and restored afterwards.
    """
    import select
    import signal
    import termios
    import tty

    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None
    if stdin_tty:
        tty.setraw(0)
        copy_size(0, master)
        signal.signal(signal.SIGWINCH, lambda *_: copy_size(0, master))
    readers = [master, 0]
    try:
        while not child_exited():
            ready, _, _ = select.select(readers, [], [], 0.1)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the slave side is closed
                    break
                if not data:
                    break
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    readers.remove(0)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


class TerminalProxy:
    """A console socket of our own, for `run` and `exec` with a terminal but no
    --console-socket: we receive the pty master and copy our stdio through it."""

    def __init__(self, root: str) -> None:
        import socket
        import tempfile

        os.makedirs(root, mode=0o711, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="dy-console-", dir=root)
        self.path = os.path.join(self.dir, "sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.master = -1

    def receive(self) -> None:
        connection, _ = self.listener.accept()
        try:
            self.master = receive_master(connection)
        finally:
            connection.close()
            self.close()

    def run(self, pid: int) -> int:
        """Proxy until the process exits; return its exit status."""
        exited = ExitWatch(pid)
        try:
            proxy(self.master, exited)
        finally:
            os.close(self.master)
        return exited.wait()

    def close(self) -> None:
        self.listener.close()
        _remove_dir(self.dir)


def _remove_dir(path: str) -> None:
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)
