"""Benchmark: `dockyard-runtime run` of /bin/true on a busybox bundle, side by side with runc.

Both runtimes run the same bundle (runc's default spec: pid, net, ipc, uts,
mount and cgroup namespaces, a cgroup, masked and read-only paths), alternating
run by run so that machine noise hits both alike. Prints the medians and the
ratio. Not a test: run it by hand, as root, and record the result in
docs/benchmarks.md.

    scripts/setup.sh    # compiles bytecode (PYTHONDONTWRITEBYTECODE may be set), writes the -S launcher
    .venv/bin/python bench/runtime_run.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from dockyard.image.bootstrap import build_busybox_rootfs
from dockyard.runtime.defaults import default_spec

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")


def make_bundle(path: str) -> None:
    rootfs = os.path.join(CACHE, "busybox-rootfs")
    if not os.path.isdir(rootfs):
        build_busybox_rootfs(rootfs, os.path.join(CACHE, "debs"))
    shutil.copytree(rootfs, os.path.join(path, "rootfs"), symlinks=True)  # runc refuses a symlinked rootfs
    config = default_spec(["/bin/true"])
    config["process"]["terminal"] = False
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    dockyard = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")
    peers = {"dockyard-runtime": [dockyard, "--root", "/run/dy-bench"]}
    if shutil.which("runc"):
        peers["runc"] = ["runc", "--root", "/run/dy-bench-runc"]
    work = tempfile.mkdtemp(prefix="dy-bench-")
    try:
        make_bundle(work)
        times: dict[str, list[float]] = {name: [] for name in peers}
        for i in range(args.runs + 3):
            for name, command in peers.items():
                elapsed = timed([*command, "run", f"dy-bench-{i}"], work)
                if i >= 3:  # warm-up runs fill the page cache
                    times[name].append(elapsed)
    finally:
        shutil.rmtree(work)
    print(f"run of /bin/true, {args.runs} runs each, {time.strftime('%Y-%m-%d')}, {os.uname().release}")
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, median in medians.items():
        print(f"  {name:18s} median {median:6.1f} ms")
    if "runc" in medians:
        print(f"  ratio dockyard-runtime / runc: {medians['dockyard-runtime'] / medians['runc']:.2f}")


if __name__ == "__main__":
    main()
