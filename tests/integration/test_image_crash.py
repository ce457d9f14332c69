"""kill -9 in the middle of a load or an import, at random moments, many times.

After each kill the store is opened again (which repairs it) and must show no
partial image, hold no blob that fails its digest and no layer nothing needs,
and the same operation must then succeed.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from dockyard.services.images import ImageService
from support.images import TestImage, directory, docker20_archive, docker25_archive, file, layer

ITERATIONS = 20

WORKER = """
import io, sys
from dockyard.services.images import ImageService
root, verb, path = sys.argv[1:4]
service = ImageService.open(root)
with open(path, "rb") as f:
    if verb == "load":
        service.load(f)
    else:
        service.import_image(f, name="imported:1")
print("done", flush=True)
"""


def big_layer(seed: int, files: int = 40) -> bytes:
    rng = random.Random(seed)
    members = [directory(f"d{seed}")]
    members += [file(f"d{seed}/f{i}", rng.randbytes(rng.randrange(1000, 60000))) for i in range(files)]
    return layer(*members)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    base = tmp_path_factory.mktemp("dy-crash-data")
    layers = [big_layer(seed) for seed in range(4)]
    paths = {}
    images = [TestImage(layers[:2], tags=["two:1"]), TestImage(layers, tags=["four:1"], gzip_layers=True)]
    for name, data in (("docker20", docker20_archive(images)), ("docker25", docker25_archive(images))):
        paths[name] = str(base / f"{name}.tar")
        with open(paths[name], "wb") as f:
            f.write(data)
    paths["rootfs"] = str(base / "rootfs.tar")
    with open(paths["rootfs"], "wb") as f:
        f.write(big_layer(99, files=120))
    return paths


def start(root: str, verb: str, path: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, root, verb, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def duration(tmp_path, verb: str, path: str) -> float:
    began = time.monotonic()
    worker = start(str(tmp_path / "dy-timing"), verb, path)
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode()
    return time.monotonic() - began


def check_consistent(root: str) -> ImageService:
    service = ImageService.open(root)
    assert os.listdir(os.path.join(root, "ingest")) == []
    for blob in service.content.walk():
        with service.content.open(blob.digest) as f:
            assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == blob.digest
    needed = set()
    for summary in service.list(show_all=True):
        image = service.get(summary["Id"])
        for descriptor in (image.manifest.config, *image.manifest.layers):
            service.content.info(descriptor.digest)  # raises NotFound if a blob is missing
        for chain_id in image.chain_ids:
            assert service.snapshotter.stat(chain_id).kind == "committed"
        needed.update(image.chain_ids)
    assert {info.key for info in service.snapshotter.walk()} == needed  # nothing half-unpacked or orphaned
    return service


@pytest.mark.parametrize(("verb", "archive"), [("load", "docker20"), ("load", "docker25"), ("import", "rootfs")])
def test_kill_9_at_random_moments_leaves_a_store_that_opens_clean(tmp_path, archives, verb, archive):
    path = archives[archive]
    full = duration(tmp_path, verb, path)
    rng = random.Random(f"{verb}-{archive}")
    root = str(tmp_path / "dy-root")
    for _ in range(ITERATIONS):
        worker = start(root, verb, path)
        time.sleep(rng.uniform(0.05, full * 1.1))
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
        check_consistent(root).close()
    worker = start(root, verb, path)
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode()
    service = check_consistent(root)
    expected = {"load": {("two:1",), ("four:1",)}, "import": {("imported:1",)}}[verb]
    # An import that finished before its kill made an image too; the last one took the name.
    assert {tuple(summary["RepoTags"]) for summary in service.list({"dangling": ["false"]})} == expected
    service.close()
