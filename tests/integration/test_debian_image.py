"""A Debian image made with debootstrap: trimmed like the official one, written as an OCI layout, read back by
us and by skopeo, loaded into the image store and run as a container from it; and a failed or interrupted
bootstrap leaves nothing."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Unavailable
from dockyard.image import manifest as m
from dockyard.image.apt_sources import resolve_mirror
from dockyard.image.bootstrap import PATH_ENV
from dockyard.image.debian import build_debian_rootfs, write_debian_layout
from dockyard.kernel.mounts import mount_all, unmount_all
from dockyard.runtime.defaults import default_spec
from dockyard.services.images import ImageService

CACHE = os.environ.get("DOCKYARD_TEST_CACHE", "/var/tmp/dockyard-test-cache")


@pytest.fixture(scope="module")
def layout(debian_rootfs, tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("debian-layout"))
    return dest, write_debian_layout(debian_rootfs, dest, tag="bookworm")


@pytest.fixture(scope="module")
def unpacked(layout, tmp_path_factory) -> Iterator[str]:
    """The image loaded into an image store as debian:bookworm, and a container's rootfs made from it, mounted."""
    dest, digest = layout
    base = tmp_path_factory.mktemp("dy-debian-store")
    service = ImageService.open(str(base / "root"))
    assert service.load_layout(dest, ("debian:bookworm",)) == ["Loaded image: debian:bookworm"]
    image = service.get("debian:bookworm")
    assert image.record.target == digest
    _, mounts = service.create_rootfs("debian-test", "debian:bookworm")
    rootfs = str(base / "dy-rootfs")
    os.mkdir(rootfs)
    mount_all(mounts, rootfs)
    try:
        yield rootfs
    finally:
        unmount_all(rootfs)
        service.remove_rootfs("debian-test")
        service.close()


def blob(layout_dir: str, digest: str) -> bytes:
    data = Path(layout_dir, "blobs", "sha256", digest.split(":", 1)[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def run_container(cli, tmp_path, rootfs: str, args: list[str]):
    """Run args in a container on rootfs (read-only); (exit code, stdout, stderr)."""
    bundle = tmp_path / f"bundle-{len(list(tmp_path.iterdir()))}"
    bundle.mkdir()
    config = default_spec(args)
    config["process"]["terminal"] = False
    config["root"] = {"path": rootfs, "readonly": True}
    name = f"dy-test-debian-{os.getpid()}-{bundle.name}"
    config["linux"]["cgroupsPath"] = f"/dy-test/{name}"
    (bundle / "config.json").write_text(json.dumps(config))
    result = cli("run", "--bundle", str(bundle), name, timeout=300)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_the_rootfs_is_trimmed_like_the_official_image(debian_rootfs):
    root = Path(debian_rootfs)
    assert root.stat().st_mode & 0o777 == 0o755
    assert list((root / "var/lib/apt/lists").iterdir()) == []
    assert list((root / "var/cache/apt").iterdir()) == []  # no .debs, no pkgcache.bin
    assert list((root / "dev").iterdir()) == []
    for log in ("dpkg.log", "bootstrap.log", "alternatives.log"):
        assert not (root / "var/log" / log).exists()
    assert (root / "usr/sbin/policy-rc.d").read_text().endswith("exit 101\n")
    assert 'Dir::Cache::pkgcache "";' in (root / "etc/apt/apt.conf.d/docker-clean").read_text()
    assert (root / "etc/resolv.conf").read_text() == ""  # not the host's
    assert (root / "etc/hostname").read_text() == "localhost\n"
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Package: apt\n" in status and "Package: bash\n" in status
    assert "Package: apt\nArchitecture: " in (root / "var/lib/apt/extended_states").read_text()  # marked auto
    size = int(subprocess.run(["du", "-sm", debian_rootfs], capture_output=True, check=True).stdout.split()[0])
    assert 80 < size < 180, f"a minbase bookworm rootfs of {size} MB: trimming changed?"


def test_the_layout_is_an_oci_image_with_the_official_config(layout):
    dest, digest = layout
    index = json.loads(Path(dest, "index.json").read_text())
    assert [d.digest for d in m.parse_index(Path(dest, "index.json").read_bytes())] == [digest]
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "bookworm"}
    manifest = m.parse_manifest(blob(dest, digest))
    config = m.parse_config(blob(dest, manifest.config.digest))
    assert config["config"] == {"Cmd": ["bash"], "Env": [PATH_ENV]}
    assert (config["os"], config["architecture"]) == ("linux", m.host_platform().architecture)
    layer = blob(dest, manifest.layers[0].digest)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")
def test_skopeo_reads_the_layout(layout):
    dest, digest = layout
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{dest}:bookworm"], capture_output=True, timeout=60)
    assert raw.returncode == 0, raw.stderr
    assert "sha256:" + hashlib.sha256(raw.stdout).hexdigest() == digest
    result = subprocess.run(["skopeo", "inspect", f"oci:{dest}:bookworm"], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    inspected = json.loads(result.stdout)
    assert (inspected["Architecture"], inspected["Env"]) == (m.host_platform().architecture, [PATH_ENV])


def test_the_image_runs_as_a_container(unpacked, tmp_path, cli):
    script = "cat /etc/debian_version; apt-get --version"
    code, out, err = run_container(cli, tmp_path, unpacked, ["bash", "-c", script])
    assert code == 0, err
    version, apt = out.splitlines()[:2]
    assert version.startswith("12.") and version[3:].isdigit()
    assert apt.startswith("apt 2.6.") and apt.endswith("(amd64)" if os.uname().machine == "x86_64" else ")")


@pytest.mark.parametrize("case", ["unreachable mirror", "unknown suite"])
def test_a_failed_bootstrap_leaves_nothing_behind(case, tmp_path):
    if case == "unreachable mirror":
        suite, mirror, expected = "bookworm", "http://127.0.0.1:9/", "Failed getting release file http://127.0.0.1:9/"
    else:
        suite, mirror, expected = "dockyard-nosuch", resolve_mirror("bookworm"), "dists/dockyard-nosuch/"
    dest = tmp_path / "out" / "rootfs"

    with pytest.raises(Unavailable, match=f"debootstrap {suite} from .* failed") as failure:
        build_debian_rootfs(str(dest), suite, mirror=mirror, cache_dir=str(tmp_path / "cache"))

    assert expected in str(failure.value)
    assert list((tmp_path / "out").iterdir()) == []  # neither dest nor the work dir beside it
    assert mounts_under(tmp_path) == []


def mounts_under(path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def processes_in(mount_namespace: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == mount_namespace:
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_an_interrupted_bootstrap_leaves_no_mount_no_process_and_no_tree(debian_rootfs, tmp_path):
    # debian_rootfs warmed the package cache, so the second stage (proc mounted) comes within seconds.
    code = (
        "from dockyard.image.debian import build_debian_rootfs; "
        f"build_debian_rootfs({str(tmp_path / 'rootfs')!r}, 'bookworm', cache_dir={CACHE!r})"
    )
    builder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        namespace = None
        deadline = time.monotonic() + 180
        while namespace is None and builder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            for child in Path(f"/proc/{builder.pid}/task/{builder.pid}/children").read_text().split():
                # unshare lives in debootstrap's mount namespace: its mountinfo shows what debootstrap mounted.
                with contextlib.suppress(OSError), open(f"/proc/{child}/mountinfo") as f:
                    if any(f"{tmp_path}/" in line and "/proc " in line for line in f):
                        namespace = os.readlink(f"/proc/{child}/ns/mnt")
        assert namespace is not None, "debootstrap never mounted proc in the tree"
        assert mounts_under(tmp_path) == []  # its mounts were never in our namespace

        interrupted = time.monotonic()
        builder.send_signal(signal.SIGINT)
        # Watch the teardown: debootstrap's processes must be gone before its tree goes, never after.
        removed_under_running = False
        while builder.poll() is None and time.monotonic() < interrupted + 60:
            if not any(tmp_path.iterdir()) and processes_in(namespace):
                removed_under_running = True
            time.sleep(0.01)
        stopped_in = time.monotonic() - interrupted
        left_running = processes_in(namespace)
        err = builder.stderr.read()
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait()

    assert builder.returncode != 0 and b"KeyboardInterrupt" in err
    assert stopped_in < 10, f"took {stopped_in:.1f}s: debootstrap was left to finish instead of being killed"
    assert not removed_under_running, "the tree was removed while debootstrap still ran in it"
    assert left_running == []  # and so its mounts went with it
    assert list(tmp_path.iterdir()) == []
    assert mounts_under(tmp_path) == []


def test_dockyard_bootstrap_debian_with_an_unreachable_mirror_says_why(tmp_path):
    env = dict(os.environ, DOCKYARD_BOOTSTRAP_CACHE=str(tmp_path / "cache"))
    command = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
    result = subprocess.run(
        [*command, "bootstrap", "debian:bookworm", "--mirror", "http://127.0.0.1:9", "--oci-layout",
         str(tmp_path / "out")],
        capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.decode().splitlines()[-1]
    assert last.startswith("dockyard: bootstrap debian: debootstrap bookworm from http://127.0.0.1:9 failed (exit 1)")
    assert not (tmp_path / "out").exists()
    assert os.listdir(tmp_path / "cache") == ["debootstrap"]  # the scratch rootfs went too
