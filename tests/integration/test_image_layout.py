"""A busybox image made from Debian's package, written as an OCI layout, read back by us and by skopeo."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.image import manifest as m
from dockyard.image.bootstrap import busybox_image
from dockyard.image.layer import apply_layer
from dockyard.runtime.defaults import default_spec


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    cache = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
    dest = str(tmp_path_factory.mktemp("layout"))
    digest = busybox_image(dest, cache, tag="latest")
    return dest, digest


def blob(layout_dir: str, digest: str) -> bytes:
    with open(os.path.join(layout_dir, "blobs", "sha256", digest.split(":", 1)[1]), "rb") as f:
        data = f.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest  # every blob is named by its content
    return data


def test_the_layout_is_an_oci_image_with_a_tag(layout):
    dest, digest = layout
    layout_file = Path(dest, "oci-layout").read_text()
    assert json.loads(layout_file) == {"imageLayoutVersion": "1.0.0"}
    index = m.parse_index(blob_text := Path(dest, "index.json").read_bytes())
    assert [d.digest for d in index] == [digest]
    assert json.loads(blob_text)["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    manifest = m.parse_manifest(blob(dest, digest))
    config = m.parse_config(blob(dest, manifest.config.digest))
    assert config["config"]["Cmd"] == ["sh"]
    assert (config["os"], config["architecture"]) == ("linux", m.host_platform().architecture)
    layer = blob(dest, manifest.layers[0].digest)
    assert len(layer) == manifest.layers[0].size
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]


def test_the_image_runs_as_a_container(layout, tmp_path, cli):
    dest, digest = layout
    manifest = m.parse_manifest(blob(dest, digest))
    rootfs = tmp_path / "bundle" / "rootfs"
    rootfs.mkdir(parents=True)
    with open(os.path.join(dest, "blobs", "sha256", manifest.layers[0].digest.split(":", 1)[1]), "rb") as f:
        result = apply_layer(f, str(rootfs), overlay=False)
    assert result.diff_id == m.parse_config(blob(dest, manifest.config.digest))["rootfs"]["diff_ids"][0]
    config = default_spec(["sh", "-c", "echo hello from the image"])
    config["process"]["terminal"] = False
    config["linux"]["cgroupsPath"] = f"/dy-test/dy-test-layout-{os.getpid()}"
    (tmp_path / "bundle" / "config.json").write_text(json.dumps(config))
    run = cli("run", "--bundle", str(tmp_path / "bundle"), f"dy-test-layout-{os.getpid()}")
    assert run.returncode == 0, run.stderr
    assert run.stdout == b"hello from the image\n"


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")
def test_skopeo_reads_the_layout(layout):
    dest, digest = layout
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{dest}:latest"], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "sha256:" + hashlib.sha256(result.stdout).hexdigest() == digest
    result = subprocess.run(["skopeo", "inspect", f"oci:{dest}:latest"], capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Architecture"] == m.host_platform().architecture


def test_dockyard_bootstrap_busybox_writes_a_layout(tmp_path):
    import sys

    env = dict(
        os.environ, DOCKYARD_BOOTSTRAP_CACHE=os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
    )
    out = tmp_path / "busybox"
    command = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    result = subprocess.run(
        [*command, "bootstrap", "busybox", "--oci-layout", str(out), "--tag", "1.35"],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    name, digest, *_ = result.stdout.decode().split()
    assert name == "busybox:1.35"
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1.35"
    bad = subprocess.run([*command, "bootstrap", "alpine", "--oci-layout", str(out)], capture_output=True, check=False)
    assert bad.returncode == 2 and b"invalid choice: 'alpine'" in bad.stderr


def test_dockyard_bootstrap_busybox_stores_a_tagged_image_that_runs(tmp_path, cli):
    import sys

    from dockyard.kernel.mounts import mount_all, unmount_all
    from dockyard.services.images import ImageService

    env = dict(
        os.environ, DOCKYARD_BOOTSTRAP_CACHE=os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")
    )
    root = tmp_path / "dy-data"
    command = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    for name in ("busybox", "busybox:1.36"):
        result = subprocess.run(
            [*command, "bootstrap", name, "--data-root", str(root)], capture_output=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode().splitlines()[-1] == f"Loaded image: {name if ':' in name else name + ':latest'}"
    assert not [p for p in os.listdir(root) if p.startswith("dy-bootstrap-")]  # the layout was dropped
    service = ImageService.open(str(root))
    try:
        tags = sorted(tag for summary in service.list() for tag in summary["RepoTags"])
        assert tags == ["busybox:1.36", "busybox:latest"]
        assert service.inspect("busybox:1.36")["Config"]["Cmd"] == ["sh"]
        _, mounts = service.create_rootfs("bootstrapped", "busybox:1.36")
        bundle = tmp_path / "dy-bundle"
        (bundle / "rootfs").mkdir(parents=True)
        config = default_spec(["sh", "-c", "echo hello from the store"])
        config["process"]["terminal"] = False
        config["linux"]["cgroupsPath"] = f"/dy-test/bootstrapped-{os.getpid()}"
        (bundle / "config.json").write_text(json.dumps(config))
        mount_all(mounts, str(bundle / "rootfs"))
        try:
            result = cli("run", "--bundle", str(bundle), f"dy-test-bootstrapped-{os.getpid()}")
        finally:
            unmount_all(str(bundle / "rootfs"))
        assert (result.returncode, result.stdout) == (0, b"hello from the store\n"), result.stderr
        service.remove_rootfs("bootstrapped")
    finally:
        service.close()
