"""A command on a pseudo-terminal of the test's own, as a person at a keyboard runs it: type, expect, resize.

with Terminal(["docker", "run", "-it", "busybox", "sh"], env=daemon.env) as term:
    term.expect("/ # ")
    term.type("echo hi\r")
    term.expect("hi")
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time


class Terminal:
    def __init__(self, argv: list[str], *, env: dict, rows: int = 24, columns: int = 80) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, columns)
        # The command leads a session whose controlling terminal is ours: it reads keys from it
        # and gets SIGWINCH when the window changes.
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )  # fmt: skip
        os.close(slave)
        self.output = b""

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def resize(self, rows: int, columns: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def expect(self, pattern: str, timeout: float = 20) -> re.Match:
        """Wait until the output since the last match matches pattern (a regular expression)."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.output)
            if found:
                self.output = self.output[found.end() :]
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{pattern!r} did not come; the terminal shows {self.output[-500:]!r}")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], min(timeout, 0.5))
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        self.output += data
        return bool(data)

    def wait(self, timeout: float = 20) -> int:
        """The command's exit status (the rest of its output stays readable with expect)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.process.wait(max(0.1, deadline - time.monotonic()))

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
