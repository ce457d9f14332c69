"""Benchmark: volume verbs and containers with volumes, Dockyard beside docker.

Three figures, each the median of --runs rounds, the engines interleaved:
  create+rm    `docker volume create` then `docker volume rm` of a fresh name
  run -v       `docker run --rm -v NAME:/data busybox true` on an existing volume
  copy-up      `docker run --rm -v FRESH:/bin busybox true`: a new volume filled with the image's /bin
               (busybox's ~400 entries), then removed (not timed)

    .venv/bin/python bench/volumes.py [--runs 20]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/volumes.py --docker
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from benchlib import docker, docker_peer, start_dockyard, stop_dockyard, timed


def _timed(host: str, *commands: tuple[str, ...]) -> float:
    return timed(lambda: [docker(host, *command) for command in commands])


def rounds(host: str, runs: int, tag: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"create+rm": [], "run -v": [], "copy-up": []}
    shared = f"dy-bench-{tag}"
    docker(host, "volume", "create", shared)
    try:
        for n in range(runs):
            name = f"dy-bench-{tag}-{n}"
            times["create+rm"].append(_timed(host, ("volume", "create", name), ("volume", "rm", name)))
            times["run -v"].append(_timed(host, ("run", "--rm", "-v", f"{shared}:/data", "busybox", "true")))
            times["copy-up"].append(_timed(host, ("run", "--rm", "-v", f"{name}-bin:/bin", "busybox", "true")))
            docker(host, "volume", "rm", f"{name}-bin")
    finally:
        docker(host, "volume", "rm", shared)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--docker", action="store_true", help="also measure the dockerd at $DOCKER_HOST")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-volumes-", dir="/var/tmp")
    daemon, ours = start_dockyard(base)
    try:
        hosts = {"dockyard": ours}
        if args.docker:
            hosts["docker"] = docker_peer(ours)
        results = {name: rounds(host, args.runs, name) for name, host in hosts.items()}
    finally:
        stop_dockyard(daemon, base)
    print(f"volumes, {args.runs} rounds, {time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs")
    for figure in ("create+rm", "run -v", "copy-up"):
        medians = {name: statistics.median(results[name][figure]) for name in hosts}
        line = "   ".join(f"{name} {seconds * 1000:6.0f} ms" for name, seconds in medians.items())
        ratio = f"   ratio dockyard/docker {medians['dockyard'] / medians['docker']:.2f}" if "docker" in hosts else ""
        print(f"  {figure:10s} {line}{ratio}")


if __name__ == "__main__":
    main()
