"""Benchmark: the `dockyard` CLI beside the docker CLI, against the same dockyard daemon.

    dockyard --help                     (targets: under 60 ms)
    dockyard ps -a   with 100 containers (within 2x of docker ps -a)
    dockyard run --rm busybox true      (within 1.3x of docker run --rm)

Starts a `dockyard daemon` of its own (temporary roots, busybox bootstrapped), creates
100 containers, then times each command for both CLIs, interleaved, and prints medians
and the ratio dockyard/docker.

    .venv/bin/python bench/cli.py [--runs 15] [--containers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from benchlib import timed

from support.daemon import DockyardDaemon

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


def bootstrap(data_root: str) -> None:
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=CACHE)
    run = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    subprocess.run([*run, "bootstrap", "busybox", "--data-root", data_root], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="dy-bench-cli-", dir="/var/tmp")
    daemon = DockyardDaemon(base)
    try:
        bootstrap(daemon.data_root)
        daemon.start()
        env = daemon.env

        def run(cli: str, *argv: str) -> None:
            subprocess.run([cli, *argv], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        for _ in range(args.containers):
            run("docker", "create", "busybox", "true")
        cases = [
            ("--help", ["--help"]),
            (f"ps -a ({args.containers} containers)", ["ps", "-a"]),
            ("run --rm busybox true", ["run", "--rm", "busybox", "true"]),
        ]
        print(f"{'command':32} {'dockyard ms':>12} {'docker ms':>10} {'ratio':>6}")
        for label, argv in cases:
            ours, theirs = [], []
            for _ in range(args.runs):
                ours.append(timed(lambda argv=argv: run(DOCKYARD, *argv)))
                theirs.append(timed(lambda argv=argv: run("docker", *argv)))
            mine, peer = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
            print(f"{label:32} {mine:12.1f} {peer:10.1f} {mine / peer:6.2f}")
    finally:
        ids = daemon.docker("ps", "-aq", check=False).stdout.split() if daemon.process else []
        if ids:
            daemon.docker("rm", "-f", *ids, check=False)
        daemon.stop()
        daemon.remove_network_objects()  # its bridge and rules, which a daemon leaves as dockerd does
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
