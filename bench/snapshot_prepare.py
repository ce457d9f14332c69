"""Benchmark: preparing a container's writable snapshot on a 4-layer busybox image.

Overlay and native snapshotters side by side, with `cp -a` of the image as the
floor a copying snapshotter cannot beat. Prints medians. Run as root:

    .venv/bin/python bench/snapshot_prepare.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from dockyard.image.bootstrap import build_busybox_rootfs
from dockyard.kernel.mounts import mount_all, unmount_all
from dockyard.snapshot.native import NativeSnapshotter
from dockyard.snapshot.overlay import OverlaySnapshotter

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")


def make_image(snapshotter, work: str, rootfs: str) -> str:
    """busybox plus three one-file layers, committed as image-3."""
    target = os.path.join(work, "dy-mnt")
    os.makedirs(target, exist_ok=True)
    parent = None
    for i in range(4):
        mounts = snapshotter.prepare(f"extract-{i}", parent)
        mount_all([tuple(m) for m in mounts], target)
        try:
            if i == 0:
                shutil.copytree(rootfs, target, symlinks=True, dirs_exist_ok=True)
            else:
                with open(os.path.join(target, f"extra-{i}"), "w") as f:
                    f.write("x")
        finally:
            unmount_all(target)
        snapshotter.commit(f"image-{i}", f"extract-{i}")
        parent = f"image-{i}"
    return parent


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rootfs = os.path.join(CACHE, "busybox-rootfs")
    if not os.path.isdir(rootfs):
        build_busybox_rootfs(rootfs, os.path.join(CACHE, "debs"))
    work = tempfile.mkdtemp(prefix="dy-bench-snap-")
    results = {}
    try:
        for name, kind, runs in (("overlay", OverlaySnapshotter, args.runs), ("native", NativeSnapshotter, 20)):
            snapshotter = kind(os.path.join(work, name))
            image = make_image(snapshotter, os.path.join(work, name), rootfs)
            samples = []
            for i in range(runs):
                start = time.perf_counter()
                snapshotter.prepare(f"container-{i}", image)
                samples.append(time.perf_counter() - start)
            snapshotter.close()
            results[name] = (median_ms(samples), runs)
        copies = []
        for i in range(20):
            start = time.perf_counter()
            subprocess.run(["cp", "-a", rootfs, os.path.join(work, f"copy-{i}")], check=True)
            copies.append(time.perf_counter() - start)
        results["cp -a (floor for native)"] = (median_ms(copies), 20)
    finally:
        shutil.rmtree(work)
    print(f"snapshot prepare on a 4-layer busybox image, {time.strftime('%Y-%m-%d')}, {os.uname().release}")
    for name, (ms, runs) in results.items():
        print(f"  {name:26s} median {ms:7.2f} ms  ({runs} runs)")


if __name__ == "__main__":
    main()
