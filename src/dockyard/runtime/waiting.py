"""Waiting for container processes: exec confirmation, exit statuses, reaping.

The runtime is often the subreaper of the processes it waits for (`run`, `exec`),
so waiting means reaping whatever the kernel hands over, not just one pid.
"""

from __future__ import annotations

# The C module behind `signal`: the Python one builds IntEnums at import (~6 ms).
import _signal as signal
import os
import time

from dockyard.runtime import state as states


class ContainerError(Exception):
    """A step of the container's set-up failed; the message names the step."""


class ExitWatch:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None

    def __call__(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = exit_code(status)
        return self.status is not None

    def wait(self) -> int:
        if self.status is None:
            self.status = wait_exit(self.pid)
        return self.status


def await_exec(container: states.ContainerState) -> bytes:
    """Release the init blocked on exec.fifo and wait until it has exec'd.

    The init opens the fifo for writing, which blocks until we open it for
    reading; the fd is close-on-exec, so EOF means execve succeeded, and bytes
    mean an error message. The read side is opened non-blocking and polled,
    because the init may not have reached its open yet (a reader that never saw
    a writer gets no POLLHUP) or may have died (then nobody ever writes).
    """
    import select

    fd = os.open(container.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        error = b""
        while True:
            if not poller.poll(50):
                if not container.alive():
                    raise ContainerError(f"container {container.id}: init died before its process started")
                continue
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:  # a writer is there but has said nothing yet
                continue
            if not chunk:
                return error
            error += chunk
    finally:
        os.close(fd)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_exit(pid: int) -> int:
    """Wait for pid, reaping any other orphan handed to us as subreaper meanwhile."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        if reaped == pid:
            return exit_code(status)


class forward_signals:
    """Pass the signals a user sends to the runtime on to the container's process."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.saved: dict = {}

    def __enter__(self):
        for sig in self.SIGNALS:
            self.saved[sig] = signal.signal(sig, self._forward)
        return self

    def _forward(self, sig, _frame) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def __exit__(self, *exc) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def wait_gone(container: states.ContainerState, timeout: float = 10.0) -> None:
    """Wait until the container's init has died (after SIGKILL), and reap it when it is ours.

    A pidfd becomes readable when the process exits, so the wait ends with it;
    kernels without pidfd_open (before 5.3) get a poll of the process table.
    """
    import select

    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        return
    except OSError:
        pidfd = None
    try:
        # Checked once the pidfd is open: it then refers to the init, not to a reused pid.
        if container.alive():
            if pidfd is not None:
                exited = select.poll()
                exited.register(pidfd, select.POLLIN)
                if not exited.poll(timeout * 1000):
                    raise ContainerError(f"container {container.id} did not die after SIGKILL")
            else:
                _poll_gone(container, timeout)
        try:
            os.waitpid(container.pid, os.WNOHANG)  # ours to reap when we are its parent or subreaper
        except ChildProcessError:
            pass
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _poll_gone(container: states.ContainerState, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while container.alive():
        if time.monotonic() > deadline:
            raise ContainerError(f"container {container.id} did not die after SIGKILL")
        try:
            os.waitpid(container.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.005)
