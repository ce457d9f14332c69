"""Benchmark: the `dockyard` CLI beside the docker CLI, against the same dockyard daemon.

    dockyard --help                     (targets: under 60 ms)
    dockyard ps -a   with 100 containers (within 2x of docker ps -a)
    dockyard run --rm busybox true      (within 1.3x of docker run --rm)

Starts a `dockyard daemon` of its own (temporary roots, busybox bootstrapped), creates
100 containers, then times each command for both CLIs, interleaved, and prints medians
and the ratio dockyard/docker: wall time, and CPU time (user + sys of the CLI and its
children, from getrusage), which other processes' load on the cores disturbs less.

    .venv/bin/python bench/cli.py [--runs 15] [--containers 100] [--only ps] [--sets 5]

--sets repeats the measurement (one line per command and set) and ends with each
command's range of ratios; --only keeps the commands whose label contains its text.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from support.daemon import DockyardDaemon

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


def bootstrap(data_root: str) -> None:
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=CACHE)
    run = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    subprocess.run([*run, "bootstrap", "busybox", "--data-root", data_root], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv (CPU: user + sys of it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--sets", type=int, default=1, help="measure this many times over")
    parser.add_argument("--only", default="", help="only the commands whose label contains this")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-cli-", dir="/var/tmp")
    daemon = DockyardDaemon(base)
    try:
        bootstrap(daemon.data_root)
        daemon.start()
        env = daemon.env
        for _ in range(args.containers):
            subprocess.run(["docker", "create", "busybox", "true"], env=env, check=True, capture_output=True)
        cases = [
            ("--help", ["--help"]),
            (f"ps -a ({args.containers} containers)", ["ps", "-a"]),
            ("run --rm busybox true", ["run", "--rm", "busybox", "true"]),
        ]
        cases = [(label, argv) for label, argv in cases if args.only in label]
        print(f"{args.runs} runs per set, {time.strftime('%Y-%m-%d %H:%M')}, {os.uname().release}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print(f"{'command':32} {'dockyard ms':>12} {'docker ms':>10} {'ratio':>6} {'cpu ms':>13} {'ratio':>6}  load")
        ratios: dict[str, list[float]] = {label: [] for label, _ in cases}
        for _ in range(args.sets):
            for label, argv in cases:
                ours, theirs = [], []
                for _ in range(args.runs):
                    ours.append(timed([DOCKYARD, *argv], env))
                    theirs.append(timed(["docker", *argv], env))
                mine, peer = (statistics.median(wall for wall, _ in runs) * 1000 for runs in (ours, theirs))
                cpu_mine, cpu_peer = (statistics.median(cpu for _, cpu in runs) * 1000 for runs in (ours, theirs))
                ratios[label].append(mine / peer)
                print(f"{label:32} {mine:12.1f} {peer:10.1f} {mine / peer:6.2f} {cpu_mine:6.1f}/{cpu_peer:6.1f} "
                      f"{cpu_mine / cpu_peer:6.2f}  {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        if args.sets > 1:
            for label, values in ratios.items():
                print(
                    f"{label}: wall ratio {min(values):.2f}-{max(values):.2f}, median {statistics.median(values):.2f}"
                )
    finally:
        ids = daemon.docker("ps", "-aq", check=False).stdout.split() if daemon.process else []
        if ids:
            daemon.docker("rm", "-f", *ids, check=False)
        daemon.stop()
        daemon.remove_network_objects()  # its bridge and rules, which a daemon leaves as dockerd does
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
