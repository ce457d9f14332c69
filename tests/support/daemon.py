"""A `dockyard daemon` of the test's own: temporary data root, exec root and socket.

with DockyardDaemon(tmp_dir) as daemon:
    daemon.docker("images")            # the real docker CLI, DOCKER_HOST pointing at it
    daemon.client().images.list()      # docker-py
    daemon.request("GET", "/_ping")    # raw HTTP over the socket
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class DockyardDaemon:
    def __init__(self, base: str, *extra_args: str) -> None:
        self.base = base
        self.socket = os.path.join(base, "dy.sock")
        self.data_root = os.path.join(base, "root")
        self.exec_root = os.path.join(base, "run")
        self.log_path = os.path.join(base, "daemon.log")
        self.extra_args = extra_args
        # A default bridge of its own, named after the base (a daemon restarted on it finds its bridge again):
        # daemons of parallel tests never share or delete one.
        self.bridge = f"dy-t{hashlib.sha256(os.path.abspath(base).encode()).hexdigest()[:8]}"
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=os.path.join(self.base, "docker-config"))
        env.pop("DOCKER_CONTEXT", None)
        return env

    def argv(self) -> list[str]:
        return [
            sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())", "daemon",
            "-H", self.host, "--data-root", self.data_root, "--exec-root", self.exec_root,
            "--config-file", os.path.join(self.base, "daemon.json"), "--bridge", self.bridge, *self.extra_args,
        ]  # fmt: skip

    def refused_start(self, daemon_json: dict | None = None) -> list[str]:
        """Start the daemon with a daemon.json (if given) that must refuse its start: the lines of its error
        output, after checking that it made no data or exec root."""
        if daemon_json is not None:
            os.makedirs(self.base, exist_ok=True)
            with open(os.path.join(self.base, "daemon.json"), "w") as f:
                json.dump(daemon_json, f)
        result = subprocess.run(self.argv(), capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, result.stdout
        assert not os.path.exists(self.data_root) and not os.path.exists(self.exec_root)
        return result.stderr.strip().splitlines()

    def start(self, timeout: float = 30) -> DockyardDaemon:
        os.makedirs(self.base, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 the child keeps it; closed when we stop it
        self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockyard daemon exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.request("GET", "/_ping", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dockyard daemon did not answer /_ping within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code, self.process = self.process.returncode, None
        return code

    def __enter__(self) -> DockyardDaemon:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """The end of a test's daemon: if it runs, its containers and networks are removed through it; then it
        stops, and what it leaves in the kernel goes (several daemons on one base may each be closed)."""
        if self.process is not None and self.process.poll() is None:
            self.remove_leftovers()
        self.stop()
        self.remove_network_objects()

    def remove_leftovers(self) -> None:
        """Every container and unused network, through the running daemon."""
        leftover = self.docker("ps", "-aq", check=False).stdout.split()
        if leftover:
            self.docker("rm", "-f", *leftover, check=False)
        self.docker("network", "prune", "-f", check=False)

    def remove_network_objects(self) -> None:
        """What this daemon made in the kernel and left (it keeps bridges and rules, as dockerd does): its links,
        by the owner tag it puts on them, its namespace handles and its nftables table."""
        from pyroute2 import IPRoute

        from dockyard.daemon.config import DaemonConfig
        from dockyard.network.nftables import Firewall
        from dockyard.network.port_allocator import PortAllocator

        firewall = Firewall(PortAllocator(), table=DaemonConfig(exec_root=self.exec_root).firewall_table)
        firewall.teardown()
        firewall.close()

        with IPRoute() as ipr:
            for link in ipr.get_links():
                if link.get("IFLA_IFALIAS") == f"dockyard:{self.exec_root}":
                    with contextlib.suppress(Exception):
                        ipr.link("del", index=link["index"])
        handles = os.path.join(self.exec_root, "netns")
        for name in os.listdir(handles) if os.path.isdir(handles) else []:
            subprocess.run(["umount", "-l", os.path.join(handles, name)], capture_output=True, check=False)

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 60, headers=None):
        """(status, headers, body) of one request over the socket."""
        connection = _UnixConnection(self.socket, timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()  # headers: case-insensitive
        finally:
            connection.close()

    def docker(self, *args: str, check: bool = True, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        result = subprocess.run(["docker", *args], env=self.env, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host, version="auto", timeout=120)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"
