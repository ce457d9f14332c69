"""What the benchmarks share: timing one action, a layer tar of a real tree (the cached Debian rootfs), a
dockyard daemon of their own driven by the docker CLI, and processes' memory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time

DEBIAN_CACHE = "/var/tmp/dockyard-test-cache/debian-bookworm-minbase-rootfs"
CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
BRIDGE = "dy-bench-c0"  # the default bridge of start_dockyard's daemon, removed with its nftables table afterwards


def default_tree() -> str | None:
    """The Debian rootfs the tests cache, if it is there."""
    return DEBIAN_CACHE if os.path.isdir(DEBIAN_CACHE) else None


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def write_layer(path: str, tree: str | None) -> None:
    """A layer tar of tree's contents, or of Python's standard library (site-packages left out) without one."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if tree:
            for name in sorted(os.listdir(tree)):
                tar.add(os.path.join(tree, name), arcname=name)
        else:
            stdlib = sysconfig.get_paths()["stdlib"]
            tar.add(stdlib, arcname="usr/lib/python", filter=lambda i: None if "site-packages" in i.name else i)


def pss_kib(pid: int) -> int:
    """The proportional set size of a process: its private pages plus its share of the shared ones."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass  # gone meanwhile
    return 0


def cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_dockyard(base: str) -> tuple[subprocess.Popen, str]:
    """A dockyard daemon with busybox, its roots under base; (process, DOCKER_HOST)."""
    socket_path = os.path.join(base, "dy.sock")
    run = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=CACHE)
    subprocess.run([*run, "bootstrap", "busybox", "--data-root", f"{base}/root"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    daemon = subprocess.Popen(
        [*run, "daemon", "-H", f"unix://{socket_path}", "--data-root", f"{base}/root", "--exec-root", f"{base}/run",
         "--config-file", f"{base}/daemon.json", "--bridge", BRIDGE],
        stdout=subprocess.DEVNULL, stderr=open(f"{base}/daemon.log", "wb"),  # noqa: SIM115 the child keeps it
    )  # fmt: skip
    for _ in range(300):
        if subprocess.run(["docker", "-H", f"unix://{socket_path}", "version"], capture_output=True).returncode == 0:
            return daemon, f"unix://{socket_path}"
        time.sleep(0.05)
    raise SystemExit(f"dockyard daemon did not start; see {base}/daemon.log")


def stop_dockyard(daemon: subprocess.Popen, base: str) -> None:
    """Stop what start_dockyard started and remove all it left: its bridge, its rules, its data."""
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(30)
    remove_network_objects(f"{base}/run")
    shutil.rmtree(base, ignore_errors=True)


def remove_network_objects(exec_root: str) -> None:
    """The daemon keeps its bridge and rules when it stops, as dockerd does: the bench removes them."""
    from dockyard.daemon.config import DaemonConfig
    from dockyard.network import interfaces
    from dockyard.network.nftables import Firewall
    from dockyard.network.port_allocator import PortAllocator

    for name in interfaces.owned_links(f"dockyard:{exec_root}"):
        interfaces.delete_link(name)
    firewall = Firewall(PortAllocator(), table=DaemonConfig(exec_root=exec_root).firewall_table)
    firewall.teardown()
    firewall.close()


def docker(host: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "-H", host, *args], check=True, capture_output=True, **kwargs)


def docker_peer(ours: str) -> str:
    """The private dockerd at $DOCKER_HOST (run the benchmark under tests/support/dockerd.py), given the
    busybox image saved from ours, so that both run the same bytes; its DOCKER_HOST."""
    theirs = os.environ["DOCKER_HOST"]
    docker(theirs, "load", input=docker(ours, "save", "busybox").stdout)
    return theirs
