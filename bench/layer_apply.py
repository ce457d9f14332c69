"""Benchmark: applying a ~100 MB layer, against GNU tar extracting the same tar.

The layer is a tar of a Python standard library directory (thousands of small
files, like a real image layer), plain and gzip-compressed. Both tools extract
into fresh directories on the same filesystem (--dir, default a temporary
directory under /var/tmp), alternating. Prints medians and MB/s of uncompressed
data. Run as root:

    .venv/bin/python bench/layer_apply.py [--runs 5] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time

from dockyard.image.layer import apply_layer


def make_layer(work: str) -> tuple[str, str, int]:
    source = sysconfig.get_paths()["stdlib"]
    plain = os.path.join(work, "layer.tar")
    with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(source, arcname="usr/lib/python", filter=lambda info: None if "site-packages" in info.name else info)
    compressed = plain + ".gz"
    with open(plain, "rb") as src, gzip.open(compressed, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return plain, compressed, os.path.getsize(plain)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="dy-bench-layer-", dir=args.dir)
    try:
        plain, compressed, size = make_layer(work)
        times: dict[str, list[float]] = {}
        for run in range(args.runs):
            for label, path, tar_flags in (("plain", plain, "-xpf"), ("gzip", compressed, "-xzpf")):
                ours = os.path.join(work, f"ours-{label}-{run}")
                theirs = os.path.join(work, f"tar-{label}-{run}")
                os.mkdir(ours)
                os.mkdir(theirs)

                def apply(path=path, ours=ours):
                    with open(path, "rb") as f:
                        apply_layer(f, ours)

                times.setdefault(f"apply_layer {label}", []).append(timed(apply))
                tar = ["tar", tar_flags, path, "-C", theirs]
                times.setdefault(f"tar -x {label}", []).append(timed(lambda tar=tar: subprocess.run(tar, check=True)))
                shutil.rmtree(ours)
                shutil.rmtree(theirs)
    finally:
        shutil.rmtree(work)
    print(f"layer apply, {size / 1e6:.0f} MB uncompressed, {args.runs} runs, under {args.dir}, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, Python {sys.version.split()[0]}")  # fmt: skip
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"  {label:20s} median {median * 1000:8.0f} ms  {size / 1e6 / median:6.0f} MB/s")


if __name__ == "__main__":
    main()
