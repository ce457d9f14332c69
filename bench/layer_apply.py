"""Benchmark: applying a layer, against GNU tar extracting the same tar.

The layer is a tar of the minbase Debian rootfs the tests cache (≈ 128 MB, 6.7k
files; --tree for another tree, Python's standard library when there is none),
plain and gzip-compressed. Both tools extract
into fresh directories on the same filesystem (--dir, default a temporary
directory under /var/tmp), alternating. Prints medians and MB/s of uncompressed
data. Run as root:

    .venv/bin/python bench/layer_apply.py [--runs 5] [--dir /dev/shm] [--tree DIR]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import default_tree, timed, write_layer

from dockyard.image.layer import apply_layer


def make_layer(work: str, tree: str | None) -> tuple[str, str, int]:
    plain = os.path.join(work, "layer.tar")
    write_layer(plain, tree)
    compressed = plain + ".gz"
    with open(plain, "rb") as src, gzip.open(compressed, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return plain, compressed, os.path.getsize(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default="/var/tmp")
    parser.add_argument("--tree", default=default_tree())
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="dy-bench-layer-", dir=args.dir)
    try:
        plain, compressed, size = make_layer(work, args.tree)
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
    print(f"layer apply, {size / 1e6:.0f} MB uncompressed of {args.tree or 'the stdlib'}, {args.runs} runs, "
          f"under {args.dir}, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, Python {sys.version.split()[0]}")  # fmt: skip
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"  {label:20s} median {median * 1000:8.0f} ms  {size / 1e6 / median:6.0f} MB/s")


if __name__ == "__main__":
    main()
