"""Base root filesystems made from Debian packages, because no public registry is reachable.

busybox comes from Debian's busybox-static package: the .deb is downloaded with
`apt-get download` (nothing is installed on the host) and unpacked with
`dpkg-deb -x`; every applet then gets a symlink, as the official busybox image has.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

from dockyard.errors import Unavailable

BUSYBOX_PACKAGE = "busybox-static"

# The directories an image's rootfs is expected to have, empty, before any
# container mounts anything on them.
_SKELETON = ("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr/bin", "usr/sbin", "sbin", "var")


def fetch_busybox_deb(cache_dir: str) -> str:
    """Return the path of the busybox-static .deb in cache_dir, downloading it if needed."""
    os.makedirs(cache_dir, exist_ok=True)
    found = sorted(glob.glob(os.path.join(cache_dir, f"{BUSYBOX_PACKAGE}_*.deb")))
    if found:
        return found[-1]
    try:
        subprocess.run(
            ["apt-get", "download", BUSYBOX_PACKAGE],
            cwd=cache_dir,
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError as exc:
        raise Unavailable("apt-get is not installed: cannot download busybox-static") from exc
    except subprocess.CalledProcessError as exc:
        raise Unavailable(
            f"apt-get download {BUSYBOX_PACKAGE} failed (run `apt-get update` first?): {exc.stderr.strip()}"
        ) from exc
    return sorted(glob.glob(os.path.join(cache_dir, f"{BUSYBOX_PACKAGE}_*.deb")))[-1]


def build_busybox_rootfs(dest: str, cache_dir: str) -> str:
    """Make dest a busybox root filesystem; return dest.

    The tree is built beside dest and renamed into place, so an interrupted
    build never leaves a half-made rootfs under the final name.
    """
    deb = fetch_busybox_deb(cache_dir)
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".dy-rootfs-", dir=parent)
    try:
        subprocess.run(["dpkg-deb", "-x", deb, work], check=True, capture_output=True)
        _populate(work)
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def _populate(root: str) -> None:
    for name in _SKELETON:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.rmtree(os.path.join(root, "usr/share/doc"), ignore_errors=True)
    busybox = os.path.join(root, "bin/busybox")
    applets = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    for applet in applets.split():
        link = os.path.join(root, applet)
        if not os.path.lexists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/bin/busybox", link)
    _write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    _write(root, "etc/group", "root:x:0:\nnogroup:x:65534:\n")


def _write(root: str, path: str, text: str) -> None:
    with open(os.path.join(root, path), "w") as f:
        f.write(text)


def busybox_image(dest: str, cache_dir: str, *, tag: str = "latest") -> str:
    """Write a busybox image as an OCI image layout at dest; return its manifest digest.

    The config is the one people expect of busybox: `sh` as the command and the
    usual PATH.
    """
    from dockyard.image.layout import write_rootfs_image

    rootfs = os.path.join(cache_dir, "busybox-rootfs")
    if not os.path.isdir(rootfs):
        build_busybox_rootfs(rootfs, cache_dir)
    config = {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    return write_rootfs_image(rootfs, dest, tag=tag, config=config, created_by="dockyard bootstrap busybox")
