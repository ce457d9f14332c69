"""Benchmark: `docker run --rm --network none busybox true` and memory per idle container, beside docker.

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
import statistics
import tempfile
import time

from benchlib import cmdline, docker, docker_peer, pss_kib, start_dockyard, stop_dockyard


def timed_run(host: str) -> float:
    # --network none, as the engine issue states the figure: the private dockerd runs with `-b none`, and
    # network setup has a benchmark of its own (bench/network_setup.py).
    began = time.perf_counter()
    docker(host, "run", "--rm", "--network", "none", "busybox", "true")
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
            hosts["docker"] = docker_peer(ours)
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
    print(f"containers, {args.runs} runs of `docker run --rm --network none busybox true`, "
          f"{args.idle} idle containers, {time.strftime('%Y-%m-%d')}, {os.uname().release}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for name in hosts:
        print(f"  {name:9s} run median {statistics.median(times[name]) * 1000:6.0f} ms   "
              f"idle PSS per container (shim) {memory[name] / 1024:5.1f} MiB")  # fmt: skip
    if "docker" in hosts:
        ratio = statistics.median(times["dockyard"]) / statistics.median(times["docker"])
        print(f"  run ratio dockyard/docker {ratio:.2f}, memory ratio {memory['dockyard'] / memory['docker']:.2f}")


if __name__ == "__main__":
    main()
