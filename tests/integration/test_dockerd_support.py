"""The private dockerd of tests/support/dockerd.py, and the fixtures real docker made in tests/data/docker.

A private dockerd starts, answers the docker CLI (28, negotiating down to dockerd 20.10's API 1.41), loads an
archive, and after stop() leaves nothing: no process, mount, cgroup, network interface, directory, nor any of
the paths dockerd and containerd hard-code outside their roots.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

import support.dockerd as dockerd_support
from dockyard.image.manifest import host_platform
from support.dockerd import PrivateDockerd, skip_reason

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]

DATA = Path(__file__).parent.parent / "data" / "docker"
# Paths dockerd 20.10 and its containerd write outside --data-root/--exec-root unless kept private.
HARD_CODED = ("/etc/docker/key.json", "/run/docker", "/run/containerd", "/opt/containerd", "/var/lib/docker")


def tiny_archive(path: Path) -> str:
    """A docker-archive (docker save's format) of one image with one file, tagged dy-test/tiny:1; its ID."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = b"hello from a hand-made layer\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
        tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    config = json.dumps(
        {
            "architecture": host_platform().architecture,
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]},
        }
    ).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": ["dy-test/tiny:1"], "Layers": ["layer/layer.tar"]}]
    with tarfile.open(path, "w") as tar:
        for name, content in (
            (f"{config_hex}.json", config),
            ("layer/layer.tar", layer_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return "sha256:" + config_hex


def mount_points_mentioning(text: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if text in line]


def processes_mentioning(text: str) -> list[str]:
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if name.isdigit() and text in cmdline:
            found.append(f"{name}: {cmdline[:200]}")
    return found


def test_a_private_dockerd_serves_the_cli_and_leaves_nothing_behind(tmp_path):
    links_before = set(os.listdir("/sys/class/net"))
    existed = {path for path in HARD_CODED if os.path.lexists(path)}
    archive = tmp_path / "tiny.tar"
    image_id = tiny_archive(archive)

    engine = PrivateDockerd()
    began = time.monotonic()
    with engine:
        started = time.monotonic() - began
        tmp = engine.tmp
        family = engine.processes()
        names = set()
        for pid in family:
            with open(f"/proc/{pid}/comm") as f:
                names.add(f.read().strip())
        assert {"dockerd", "containerd"} <= names
        assert engine.process.pid in family

        version = json.loads(engine.docker("version", "--format", "{{json .}}").stdout)
        assert version["Client"]["ApiVersion"] == version["Server"]["ApiVersion"]  # negotiated down
        assert version["Server"]["Os"] == "linux"

        loaded = engine.docker("load", "--input", str(archive))
        assert "dy-test/tiny:1" in loaded.stdout
        inspect = json.loads(engine.docker("image", "inspect", "dy-test/tiny:1").stdout)
        assert inspect[0]["Id"] == image_id
        assert inspect[0]["RepoTags"] == ["dy-test/tiny:1"]

        # Its mounts live in its own namespace only; its roots are where we said.
        assert mount_points_mentioning(tmp) == []
        info = json.loads(engine.docker("info", "--format", "{{json .}}").stdout)
        assert info["DockerRootDir"] == os.path.join(tmp, "data")
        assert info["Driver"] in ("overlay2", "vfs")
        stopping = time.monotonic()
    stopped = time.monotonic() - stopping
    print(f"private dockerd: started in {started:.2f}s, stopped in {stopped:.2f}s ({info['Driver']})")

    assert not os.path.exists(tmp)
    assert processes_mentioning(tmp) == []
    assert mount_points_mentioning(tmp) == []
    cgroup = os.path.basename(tmp)
    assert [h for h in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{h}/{cgroup}")] == []
    new_links = set(os.listdir("/sys/class/net")) - links_before
    assert {n for n in new_links if n.startswith(("docker", "br-", "veth", "dy-dockerd"))} == set()
    assert {path for path in HARD_CODED if os.path.lexists(path)} <= existed


def test_stop_is_idempotent_and_a_failed_start_cleans_up():
    engine = PrivateDockerd(storage_driver="no-such-driver", ready_timeout=10)
    with pytest.raises(dockerd_support.DockerdError, match="no-such-driver"):
        engine.start()
    assert not os.path.exists(engine.tmp)
    engine.stop()  # nothing to do, no error


@pytest.fixture(scope="module")
def fixtures() -> dict:
    return json.loads((DATA / "fixtures.json").read_text())


def test_the_committed_fixtures_load_with_the_recorded_ids_and_files(dockerd, fixtures, tmp_path):
    loaded = dockerd.docker("load", "--input", str(DATA / "images.tar.gz"))
    for tag, image in fixtures["images"].items():
        assert f"Loaded image: {tag}" in loaded.stdout
        inspect = json.loads(dockerd.docker("image", "inspect", tag).stdout)[0]
        assert inspect["Id"] == image["id"]
        assert inspect["RootFS"]["Layers"] == image["diff_ids"]
        assert inspect["RepoTags"] == image["repo_tags"]
        recorded = json.loads((DATA / f"inspect-{tag.split('/')[1].split(':')[0]}.json").read_text())[0]
        assert inspect["Config"] == recorded["Config"]
        assert sorted(inspect) == sorted(recorded)  # the same shape, key for key

        container = dockerd.docker("create", tag).stdout.strip()
        try:
            export = tmp_path / "export.tar"
            dockerd.docker("export", "--output", str(export), container)
        finally:
            dockerd.docker("rm", container)
        with tarfile.open(export) as tar:
            seen = [(m.name, m.mode & 0o7777, m.uid, m.gid, m.linkname) for m in tar]
        expected = [(e["path"], int(e["mode"], 8), e["uid"], e["gid"], e.get("link", "")) for e in image["export"]]
        assert seen == expected
