"""Benchmark: what docker-py's calls cost, Dockyard beside docker.

- `exec_run(["true"])` in a running container: exec create, start (hijacked, framed), inspect;
- `attach(logs=True, stream=False)` of an exited container: a 101, then the logs (the daemon waits
  until the client has read the 101 before it sends them, docs/compat.md);
- `containers.run("busybox", "true", remove=True)`: create, attach, start, wait, logs, remove.

    .venv/bin/python bench/docker_py.py [--runs 20]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/docker_py.py --docker
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import docker
from benchlib import docker_peer, start_dockyard, stop_dockyard, timed


def measure(host: str, runs: int) -> dict[str, float]:
    """Median seconds of each call over runs."""
    client = docker.DockerClient(base_url=host, version="auto", timeout=120)
    try:
        running = client.containers.run("busybox", ["sleep", "600"], detach=True)
        exited = client.containers.run("busybox", ["echo", "hello"], detach=True)
        exited.wait()
        try:
            execs = [timed(lambda: running.exec_run(["true"])) for _ in range(runs)]
            attaches = [timed(lambda: exited.attach(logs=True, stream=False)) for _ in range(runs)]
            runs_ = [timed(lambda: client.containers.run("busybox", ["true"], remove=True)) for _ in range(runs)]
        finally:
            running.remove(force=True)
            exited.remove(force=True)
        return {"exec_run": statistics.median(execs), "attach": statistics.median(attaches),
                "run": statistics.median(runs_)}  # fmt: skip
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-docker-py-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    try:
        hosts = {"dockyard": ours}
        if args.docker:
            hosts["docker"] = docker_peer(ours)
        figures = {name: measure(host, args.runs) for name, host in hosts.items()}
    finally:
        stop_dockyard(daemon, base)
    print(f"docker-py, {args.runs} runs, {time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")
    for name, medians in figures.items():
        exec_ms, attach_ms, run_ms = (medians[key] * 1000 for key in ("exec_run", "attach", "run"))
        print(f"  {name:9s} exec_run {exec_ms:6.1f} ms   attach(logs) {attach_ms:6.1f} ms   run --rm {run_ms:6.0f} ms")
    if "docker" in figures:
        ours_, theirs_ = figures["dockyard"], figures["docker"]
        print("  ratios dockyard/docker: " + ", ".join(f"{key} {ours_[key] / theirs_[key]:.2f}" for key in ours_))


if __name__ == "__main__":
    main()
