"""Benchmark: `load` and `save` of an image, against `tar -x` of the same layer and against docker.

The image is a one-layer image of a directory tree (--tree; default the Debian
rootfs the tests cache, else Python's standard library), saved as docker 20
saves it (an uncompressed layer.tar). Each run loads it into a fresh data root
on the same filesystem (--dir), then saves it again; `tar -x` extracts the
same layer.tar into a fresh directory, as the floor. With --docker, the
dockerd at $DOCKER_HOST (e.g. one started by tests/support/dockerd.py) loads the same archive
too, its image removed between runs. Prints medians and the ratio to tar.

    .venv/bin/python bench/image_load.py [--runs 5] [--tree DIR] [--docker]
    .venv/bin/python tests/support/dockerd.py -- .venv/bin/python bench/image_load.py --docker
                                                 (a private dockerd 20.10 for the comparison)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

from benchlib import default_tree, timed, write_layer

from dockyard.image import manifest as m
from dockyard.services.images import ImageService


def make_archive(tree: str | None, work: str) -> tuple[str, str, int]:
    """Write tree as a layer.tar and a docker 20 archive holding it; return both paths and the layer size."""
    layer = os.path.join(work, "layer.tar")
    write_layer(layer, tree)
    with open(layer, "rb") as f:
        diff_id = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    config = json.dumps(
        {
            "architecture": m.host_platform().architecture,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_hex = m.sha256_digest(config).partition(":")[2]
    archive = os.path.join(work, "image.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(layer, arcname="0" * 64 + "/layer.tar")
        entry = {"Config": f"{config_hex}.json", "RepoTags": ["bench:1"], "Layers": ["0" * 64 + "/layer.tar"]}
        for name, data in ((f"{config_hex}.json", config), ("manifest.json", json.dumps([entry]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return layer, archive, os.path.getsize(layer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default="/var/tmp")
    parser.add_argument("--tree", default=default_tree())
    parser.add_argument("--docker", action="store_true", help="also time `docker load` against $DOCKER_HOST")
    args = parser.parse_args()
    tree = args.tree  # None: Python's standard library
    work = tempfile.mkdtemp(prefix="dy-bench-load-", dir=args.dir)
    times: dict[str, list[float]] = {}
    try:
        layer, archive, size = make_archive(tree, work)
        for run in range(args.runs):
            extracted = os.path.join(work, f"tar-{run}")
            os.mkdir(extracted)
            command = ["tar", "-xpf", layer, "-C", extracted]
            times.setdefault("tar -x (floor)", []).append(timed(lambda c=command: subprocess.run(c, check=True)))
            shutil.rmtree(extracted)

            service = ImageService.open(os.path.join(work, f"dy-root-{run}"))
            with open(archive, "rb") as f:
                times.setdefault("dockyard load", []).append(timed(lambda f=f, s=service: s.load(f)))
            with open(os.path.join(work, "saved.tar"), "wb") as out:
                save = service.save
                times.setdefault("dockyard save", []).append(timed(lambda out=out, save=save: save(["bench:1"], out)))
            service.close()
            shutil.rmtree(os.path.join(work, f"dy-root-{run}"))

            if args.docker:
                docker = ["docker"]
                load = [*docker, "load", "-q", "-i", archive]
                times.setdefault("docker load", []).append(timed(lambda c=load: subprocess.run(c, check=True)))
                save = [*docker, "save", "-o", os.path.join(work, "docker-saved.tar"), "bench:1"]
                times.setdefault("docker save", []).append(timed(lambda c=save: subprocess.run(c, check=True)))
                subprocess.run([*docker, "rmi", "-f", "bench:1"], check=True, capture_output=True)
    finally:
        shutil.rmtree(work)
    floor = statistics.median(times["tar -x (floor)"])
    print(f"image load/save, one {size / 1e6:.0f} MB layer of {tree or 'the stdlib'}, {args.runs} runs, "
          f"under {args.dir}, "
          f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")  # fmt: skip
    for label, samples in times.items():
        median = statistics.median(samples)
        rate = size / 1e6 / median
        print(f"  {label:16s} median {median * 1000:7.0f} ms  {rate:6.0f} MB/s  x{median / floor:.2f} of tar")


if __name__ == "__main__":
    main()
