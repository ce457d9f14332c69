"""A client program pointed at one daemon: the docker CLI or `dockyard`, so that one scenario runs under both.

cli = CLI("dockyard", daemon)
cli("ps", "-a").stdout
Terminal(cli.argv("run", "-it", "busybox", "sh"), env=cli.env)
"""

from __future__ import annotations

import os
import subprocess
import sys

DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


class CLI:
    def __init__(self, name: str, daemon) -> None:
        self.name = name
        self.program = DOCKYARD if name == "dockyard" else "docker"
        # Both read DOCKER_HOST; DOCKYARD_HOST would win for dockyard and point elsewhere.
        self.env = dict(daemon.env)
        self.env.pop("DOCKYARD_HOST", None)

    def argv(self, *args: str) -> list[str]:
        return [self.program, *args]

    def __call__(self, *args: str, check: bool = True, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        result = subprocess.run(self.argv(*args), env=self.env, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def __repr__(self) -> str:
        return self.name


class Driven:
    """A daemon whose .docker(...) runs `cli`: scenario tests written against daemon.docker run under either CLI."""

    def __init__(self, daemon, cli: CLI) -> None:
        self.daemon = daemon
        self.cli = cli

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.cli(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.daemon, name)
