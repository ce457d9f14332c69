"""Benchmark: `docker run --rm busybox true` latency and memory per idle container, Dockyard beside docker.

Starts a `dockyard daemon` of its own (temporary data and exec roots, busybox
bootstrapped into it) and drives it with the docker CLI. With --docker, the
dockerd at $DOCKER_HOST (a private one: run this under tests/support/dockerd.py)
gets the same busybox image (saved by Dockyard, loaded by docker) and the same
runs, interleaved. Memory is the proportional set size (PSS) of the processes
that keep an idle container alive besides the container itself: Dockyard's shim,
docker's containerd-shim-runc-v2.

    .venv/bin/python bench/containers.py [--runs 20] [--idle 10]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/containers.py --docker
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
BRIDGE = "dy-bench-c0"  # the daemon's default bridge, removed with its nftables table afterwards


def pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_dockyard(base: str) -> tuple[subprocess.Popen, str]:
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


def timed_run(host: str) -> float:
    began = time.perf_counter()
    docker(host, "run", "--rm", "busybox", "true")
    return time.perf_counter() - began


def idle_memory(host: str, count: int, shims) -> float:
    """Median PSS (KiB) of the shim processes of `count` idle containers."""
    ids = [docker(host, "run", "-d", "busybox", "sleep", "600").stdout.decode().strip() for _ in range(count)]
    time.sleep(1)
    try:
        return statistics.median(pss_kib(pid) for pid in shims())
    finally:
        docker(host, "rm", "-f", *ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--idle", type=int, default=10)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-containers-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    try:
        hosts = {"dockyard": ours}
        shims = {
            "dockyard": lambda: [int(open(f"{base}/run/containers/{c}/shim.pid").read())  # noqa: SIM115
                                 for c in os.listdir(f"{base}/run/containers")
                                 if os.path.exists(f"{base}/run/containers/{c}/shim.pid")],
        }  # fmt: skip
        if args.docker:
            theirs = os.environ["DOCKER_HOST"]
            saved = docker(ours, "save", "busybox").stdout
            docker(theirs, "load", input=saved)
            hosts["docker"] = theirs
            marker = os.environ.get("DY_DOCKERD_TMP", "")
            shims["docker"] = lambda: [
                int(pid) for pid in os.listdir("/proc")
                if pid.isdigit() and "containerd-shim-runc-v2" in cmdline(pid) and marker in cmdline(pid)
            ]  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in hosts}
        for _ in range(args.runs):
            for name, host in hosts.items():
                times[name].append(timed_run(host))
        memory = {name: idle_memory(host, args.idle, shims[name]) for name, host in hosts.items()}
    finally:
        stop_dockyard(daemon, base)
    print(f"containers, {args.runs} runs of `docker run --rm busybox true`, {args.idle} idle containers, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")  # fmt: skip
    for name in hosts:
        print(f"  {name:9s} run median {statistics.median(times[name]) * 1000:6.0f} ms   "
              f"idle PSS per container (shim) {memory[name] / 1024:5.1f} MiB")  # fmt: skip
    if "docker" in hosts:
        ratio = statistics.median(times["dockyard"]) / statistics.median(times["docker"])
        print(f"  run ratio dockyard/docker {ratio:.2f}, memory ratio {memory['dockyard'] / memory['docker']:.2f}")


if __name__ == "__main__":
    main()
