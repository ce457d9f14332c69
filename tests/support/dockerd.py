"""A private Docker engine (Debian's docker.io, dockerd 20.10) for tests that compare with real docker.

PrivateDockerd starts a dockerd that shares nothing with a system docker or with another test session:

    /var/tmp/dy-dockerd-XXXXXX/     tmp, everything below is removed on stop()
        daemon.json                 --config-file: only moves the trust key (key.json) out of /etc/docker
        data/                       --data-root: images, layers, the managed containerd's root
        exec/                       --exec-root: the managed containerd's state, socket and config
        docker.sock                 -H unix://…  (DOCKER_HOST for the docker CLI)
        docker.pid, dockerd.log
        cli/                        DOCKER_CONFIG for the CLI, so no ~/.docker is read or written

No iptables rules, no masquerading, no docker0 (--bridge=none): it creates no network interface.
Containers it runs (we mostly load and save images) get the cgroup parent /dy-dockerd-XXXXXX.

dockerd runs in a mount namespace of its own (unshare --mount, private propagation) with a tmpfs over
/run and /opt. The mounts it makes (the data root's private bind mount, overlays) never appear in the
host's mount table and die with the namespace; and the paths dockerd and containerd hard-code outside
their roots stay private: /run/docker/plugins, containerd's shim sockets in /run/containerd/s and the
containerd "opt" plugin's /opt/containerd. The namespace also names the processes that belong to this
daemon: dockerd, the containerd it starts, and any shim. stop() holds the namespace open (by fd) while
it stops them, so its identity cannot be reused by someone else's namespace meanwhile.

setpriv --pdeathsig TERM asks the kernel to stop dockerd should the test process die without stop(); its
directory then stays behind (its mounts do not: they die with the namespace).

    with PrivateDockerd() as engine:
        engine.docker("load", "-i", "images.tar")       # the docker CLI first in PATH, with DOCKER_HOST
        engine.request("GET", "/images/json")           # (status, body) over the socket

The `dockerd` fixture gives a session one engine; it skips when dockerd is not installed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from dockyard.errors import DockyardError
from dockyard.kernel import mounts

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
# Hidden from dockerd (and its containerd) behind a tmpfs in its mount namespace.
PRIVATE_DIRS = ("/run", "/opt")


def find_dockerd() -> str | None:
    return shutil.which("dockerd", path=SEARCH_PATH)


def skip_reason() -> str | None:
    """Why a private dockerd cannot run here, or None."""
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    missing = [name for name in ("dockerd", "containerd", "runc", "unshare", "setpriv", "docker") if not _which(name)]
    if missing:
        return f"not installed: {', '.join(missing)} (docker.io from apt gives dockerd, containerd and runc)"
    hidden = [name for name in ("dockerd", "containerd", "runc") if _which(name).startswith(PRIVATE_DIRS)]
    if hidden:
        return f"{', '.join(hidden)} installed under {' or '.join(PRIVATE_DIRS)}, which the private dockerd hides"
    return None


class DockerdError(RuntimeError):
    pass


class PrivateDockerd:
    """One dockerd with its own data root, exec root, socket and mount namespace; see the module docstring."""

    def __init__(
        self,
        *,
        base_dir: str = "/var/tmp",
        storage_driver: str | None = None,
        ready_timeout: float = 30.0,
        stop_timeout: float = 20.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """storage_driver None tries overlay2 and falls back to vfs if dockerd refuses it.

        base_dir must be short: containerd's sockets go under it and a socket path has at most 107 bytes.
        """
        self.base_dir = base_dir
        self.storage_driver = storage_driver
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = extra_args  # more dockerd flags: another -H, --tlsverify and its files
        self.tmp = ""
        self.process: subprocess.Popen | None = None
        self._mnt_ns_fd: int | None = None
        self.start_seconds = 0.0
        self.stop_seconds = 0.0

    # -- paths and environment ---------------------------------------------------------------

    @property
    def socket_path(self) -> str:
        return os.path.join(self.tmp, "docker.sock")

    @property
    def host(self) -> str:
        return "unix://" + self.socket_path

    @property
    def log_path(self) -> str:
        return os.path.join(self.tmp, "dockerd.log")

    @property
    def cgroup_parent(self) -> str:
        return os.path.basename(self.tmp)

    @property
    def env(self) -> dict[str, str]:
        """The environment for the docker CLI (or docker-py's from_env) to talk to this daemon only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=os.path.join(self.tmp, "cli"))
        return env

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> PrivateDockerd:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> PrivateDockerd:
        if self.process is not None:
            raise DockerdError("this PrivateDockerd is already started")
        reason = skip_reason()
        if reason:
            raise DockerdError(reason)
        began = time.monotonic()
        drivers = [self.storage_driver] if self.storage_driver else ["overlay2", "vfs"]
        for i, driver in enumerate(drivers):
            self.tmp = tempfile.mkdtemp(prefix="dy-dockerd-", dir=self.base_dir)
            try:
                self._launch(driver)
                self._wait_ready()
                self._hold_namespace()
                if self._mnt_ns_fd is None:
                    raise DockerdError(f"dockerd answers but is not in a mount namespace of its own\n{self.log_tail()}")
            except DockerdError as exc:
                exited = self.process is not None and self.process.poll() is not None
                self.stop()
                if exited and i + 1 < len(drivers) and driver in str(exc):
                    continue  # dockerd refused this storage driver: try the next
                raise
            self.storage_driver = driver
            break
        self.start_seconds = time.monotonic() - began
        return self

    def _launch(self, driver: str) -> None:
        for sub in ("data", "exec", "cli"):
            os.mkdir(os.path.join(self.tmp, sub), 0o700)
        with open(os.path.join(self.tmp, "daemon.json"), "w") as f:
            json.dump({"deprecated-key-path": os.path.join(self.tmp, "key.json")}, f)
        dockerd = [
            find_dockerd(),
            "--config-file", os.path.join(self.tmp, "daemon.json"),
            "--data-root", os.path.join(self.tmp, "data"),
            "--exec-root", os.path.join(self.tmp, "exec"),
            "--pidfile", os.path.join(self.tmp, "docker.pid"),
            "-H", self.host,
            "--storage-driver", driver,
            "--iptables=false",
            "--ip-masq=false",
            "--ip6tables=false",
            "--bridge=none",
            "--cgroup-parent", "/" + self.cgroup_parent,
            *self.extra_args,
        ]  # fmt: skip
        # In the new namespace: hide /run and /opt behind tmpfs, then become dockerd (same PID). mount -n: no
        # utab, whose lock libmount would otherwise create as /run/mount on the host before /run is covered.
        script = "".join(f"mount -n -t tmpfs -o mode=0755 dy-dockerd {d} && " for d in PRIVATE_DIRS) + 'exec "$@"'
        command = [
            _which("setpriv"), "--pdeathsig", "TERM",
            _which("unshare"), "--mount", "--propagation", "private",
            "/bin/sh", "-c", script, "sh", *dockerd,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["PATH"] = SEARCH_PATH
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.tmp,
                start_new_session=True,  # a Ctrl-C in the terminal is for pytest; stop() stops dockerd
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer yet"
        while True:
            if self.process.poll() is not None:
                raise DockerdError(f"dockerd exited with status {self.process.returncode}\n{self.log_tail()}")
            if self._mnt_ns_fd is None:
                self._hold_namespace()
            try:
                status, body = self.request("GET", "/_ping", timeout=2)
                if status == 200 and body == b"OK":
                    return
                last = f"/_ping answered {status} {body[:200]!r}"
            except OSError as exc:
                last = f"/_ping: {exc}"
            if time.monotonic() > deadline:
                raise DockerdError(
                    f"dockerd did not answer within {self.ready_timeout:.0f}s ({last})\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _hold_namespace(self) -> None:
        """Open dockerd's mount namespace once it is no longer ours (unshare has run)."""
        pid = self.process.pid
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
                return
            self._mnt_ns_fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # exited: _wait_ready reports it

    def stop(self) -> None:
        """Stop dockerd and everything it started, undo what it left; idempotent.

        Containers are force-removed through the API first (so dockerd removes their cgroups and mounts),
        then dockerd gets SIGTERM (SIGKILL after stop_timeout), then whatever is left in its mount
        namespace (containerd, shims) is waited for, and signalled the same way. Raises DockerdError if
        something could not be cleaned up, after trying everything.
        """
        began = time.monotonic()
        problems: list[str] = []
        if self.process is not None:
            if self.process.poll() is None:
                self._remove_containers(problems)
            family = self.processes()
            if self.process.poll() is None:
                _terminate_child(self.process, self.stop_timeout)
            family.update(self.processes())
            family.discard(self.process.pid)
            problems += _terminate(family, self.stop_timeout, self._in_namespace)
        if self._mnt_ns_fd is not None:
            os.close(self._mnt_ns_fd)  # the namespace, and the mounts only it had, go away with the last user
            self._mnt_ns_fd = None
        if self.tmp and os.path.isdir(self.tmp):
            try:
                mounts.unmount_under(self.tmp)  # normally nothing is: dockerd mounts in its own namespace
            except (OSError, DockyardError) as exc:
                problems.append(str(exc))
            problems += _remove_cgroups(self.cgroup_parent)
            try:
                shutil.rmtree(self.tmp)
            except OSError as exc:
                problems.append(f"removing {self.tmp}: {exc}")
        self.process = None
        self.stop_seconds = time.monotonic() - began
        if problems:
            raise DockerdError("private dockerd left things behind:\n  " + "\n  ".join(problems))

    def _remove_containers(self, problems: list[str]) -> None:
        try:
            status, body = self.request("GET", "/containers/json?all=1", timeout=10)
            for container in json.loads(body) if status == 200 else ():
                status, body = self.request("DELETE", f"/containers/{container['Id']}?force=1&v=1", timeout=60)
                if status not in (204, 404):
                    problems.append(f"removing container {container['Id'][:12]}: {status} {body[:200]!r}")
        except (OSError, ValueError) as exc:
            problems.append(f"listing containers: {exc}")

    def _in_namespace(self, pid: int) -> bool:
        if self._mnt_ns_fd is None:
            return False
        try:
            return os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.fstat(self._mnt_ns_fd).st_ino
        except OSError:
            return False

    def processes(self) -> set[int]:
        """The processes in dockerd's mount namespace: dockerd and what it spawned, and nothing else."""
        if self._mnt_ns_fd is None:
            return set()
        return {int(name) for name in os.listdir("/proc") if name.isdigit() and self._in_namespace(int(name))}

    # -- talking to it -------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 60) -> tuple[int, bytes]:
        """One Engine API request over the socket: (status, body)."""
        connection = _UnixHTTPConnection(self.socket_path, timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def docker(self, *args: str, check: bool = True, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
        """Run the docker CLI (the first in PATH) against this daemon; text output captured.

        env, if given, replaces self.env: extend it ({**engine.env, "DOCKER_BUILDKIT": "0"}).
        """
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("env", self.env)
        result = subprocess.run([_which("docker"), *args], timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise DockerdError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                tail = f.readlines()[-lines:]
        except OSError:
            return "(no dockerd log)"
        return "dockerd log, last lines:\n" + "".join("  " + line for line in tail)


@pytest.fixture(scope="session")
def dockerd():
    """A private dockerd for the whole session (PrivateDockerd); skips if docker.io is not installed."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with PrivateDockerd() as engine:
        yield engine


# -- helpers -----------------------------------------------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _which(name: str) -> str:
    return shutil.which(name, path=SEARCH_PATH) or ""


def _terminate_child(process: subprocess.Popen, timeout: float) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _terminate(pids: set[int], timeout: float, still_ours) -> list[str]:
    """Wait for pids (not our children) to exit; SIGTERM after timeout, SIGKILL after as long again.

    still_ours(pid) is checked before each signal, so a PID reused by another process is never signalled.
    """

    def alive() -> set[int]:
        return {pid for pid in pids if still_ours(pid) and not _is_zombie(pid)}

    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        for pid in alive() if sig else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive():
            return []
    return [f"process {pid} ({_comm(pid)}) survived SIGKILL" for pid in sorted(alive())]


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True  # gone


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _remove_cgroups(name: str) -> list[str]:
    """rmdir /sys/fs/cgroup/<hierarchy>/<name> and the cgroups below it, deepest first."""
    problems = []
    roots = ["/sys/fs/cgroup/" + name]
    if os.path.isdir("/sys/fs/cgroup"):
        roots += [os.path.join("/sys/fs/cgroup", h, name) for h in sorted(os.listdir("/sys/fs/cgroup"))]
    for root in roots:
        if not os.path.isdir(root):
            continue
        for base, _dirs, _files in os.walk(root, topdown=False):
            for attempt in range(50):
                try:
                    os.rmdir(base)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY while the last task leaves
                    if attempt == 49:
                        problems.append(f"removing cgroup {base}: {exc}")
                    time.sleep(0.05)
    return problems


def main(argv: list[str] | None = None) -> int:
    """python tests/support/dockerd.py [--] COMMAND [ARG...]

    Run COMMAND against a private dockerd: DOCKER_HOST and DOCKER_CONFIG point at it, and DY_DOCKERD_TMP
    names its directory. The daemon is stopped and removed when COMMAND exits; its exit status is ours.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--"]:
        args = args[1:]
    if not args or args[0] in ("-h", "--help"):
        print(main.__doc__, file=sys.stderr)
        return 2
    reason = skip_reason()
    if reason:
        print(f"dockerd.py: {reason}", file=sys.stderr)
        return 1
    with PrivateDockerd() as engine:
        print(f"dockerd.py: private dockerd ready in {engine.start_seconds:.2f}s at {engine.host}", file=sys.stderr)
        return subprocess.run(args, env={**engine.env, "DY_DOCKERD_TMP": engine.tmp}).returncode


if __name__ == "__main__":
    sys.exit(main())
