"""Starting shims and exec runners: forked by the shim template (dockyard.runtime.shim_template), or as
new interpreters.

The template is the cheap way (a fork shares the interpreter and the runtime
with every other shim); a new interpreter is what is left when the template
cannot be reached, so that a container start never fails for the template's sake.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from dockyard.runtime.exec_process import EXEC

log = logging.getLogger(__name__)
_READY_TIMEOUT = 10.0


class ShimLauncher:
    def __init__(self, exec_root: str, *, template: bool = True) -> None:
        self.socket_path = os.path.join(exec_root, "shim-template.sock")
        self.log_path = os.path.join(exec_root, "shim-template.log")
        self._template: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._use_template = template

    def _ensure_template(self) -> bool:
        if not self._use_template:
            return False
        if self._template is not None and self._template.poll() is None:
            return True
        with open(self.log_path, "ab") as out:
            self._template = subprocess.Popen(
                [sys.executable, "-m", "dockyard.runtime.shim_template", self.socket_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline and self._template.poll() is None:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(self.socket_path)
                    probe.sendall(b"")  # a probe without a pipe: the template answers an error and goes on
                return True
            except OSError:
                time.sleep(0.01)
        log.warning("the shim template did not start (see %s); shims start as new interpreters", self.log_path)
        return False

    def launch(self, state_dir: str, report_fd: int) -> None:
        """Start a shim for state_dir; it reports on report_fd (the caller keeps and closes its copy)."""
        if self._via_template(state_dir.encode(), [report_fd]):
            return
        with open(os.path.join(state_dir, "shim.log"), "ab") as out:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "dockyard.runtime.shim", state_dir, str(report_fd)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, pass_fds=(report_fd,),
            )  # fmt: skip
        launcher.wait()  # it forks the shim and exits at once

    def launch_exec(self, request: dict, stdin: int, stdout: int, stderr: int, status: int) -> None:
        """Start docker exec's runner (dockyard.runtime.exec_process) with this stdio and status pipe (the
        caller closes its copies)."""
        message = json.dumps(request)
        if self._via_template(EXEC + message.encode(), [stdin, stdout, stderr, status]):
            return
        # The request goes on a pipe, not on the command line: any user may read a command line (ps), and the
        # process's environment is in the request; a command line is also limited in size.
        request_r, request_w = os.pipe()
        try:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "dockyard.runtime.exec_process", str(request_r), str(status)],
                stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=(request_r, status),
            )  # fmt: skip
        finally:
            os.close(request_r)
        with open(request_w, "wb") as pipe, contextlib.suppress(BrokenPipeError):  # a launcher that died: no status
            pipe.write(message.encode())
        launcher.wait()  # it forks the runner and exits at once

    def _via_template(self, message: bytes, fds: list[int]) -> bool:
        """Whether the template forked what message asks for; False: start it as a new interpreter."""
        with self._lock:
            ready = self._ensure_template()
        if not ready:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(self.socket_path)
                socket.send_fds(conn, [message], fds)
                conn.shutdown(socket.SHUT_WR)  # the end of the message
                answer = conn.recv(64)
            if answer.startswith(b"ok"):
                return True
            log.warning("the shim template answered %r; starting a new interpreter", answer)
        except OSError as exc:
            log.warning("the shim template is unreachable (%s); starting a new interpreter", exc)
        return False

    def close(self) -> None:
        if self._template is not None and self._template.poll() is None:
            self._template.send_signal(signal.SIGTERM)
            try:
                self._template.wait(5)
            except subprocess.TimeoutExpired:
                self._template.kill()
                self._template.wait()
        self._template = None
