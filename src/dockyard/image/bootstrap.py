"""Base root filesystems made from Debian packages, because no public registry is reachable.

busybox comes from Debian's busybox-static package: the .deb is downloaded with
`apt-get download` (nothing is installed on the host) and unpacked with
`dpkg-deb -x`; every applet then gets a symlink, as the official busybox image has.
Debian itself is made with debootstrap (debian.py), on the helpers here: a tree
built beside its destination and renamed into place, and the base image config.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator

from dockyard.errors import Unavailable

BUSYBOX_PACKAGE = "busybox-static"
# The PATH every official base image sets (busybox, debian, ubuntu alike).
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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


@contextlib.contextmanager
def building_beside(dest: str, *, release: Callable[[str], None] | None = None) -> Iterator[str]:
    """Yield a new empty directory beside dest; rename it to dest when the block succeeds, else remove it.

    So an interrupted build never leaves a half-made rootfs under the final name.
    release(work), when given, runs before the removal: it must leave nothing
    mounted under work (rmtree would descend into a mount); if it fails, the
    directory is left in place rather than deleted through a mount.
    """
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".dy-rootfs-", dir=parent)
    try:
        yield work
        os.rename(work, dest)
    except BaseException:
        if release is not None:
            release(work)
        shutil.rmtree(work, ignore_errors=True)
        raise


def base_config(cmd: list[str]) -> dict:
    """The runtime config of a base image: its command and the usual PATH, as the official images have."""
    return {"Cmd": cmd, "Env": [PATH_ENV]}


def build_busybox_rootfs(dest: str, cache_dir: str) -> str:
    """Make dest a busybox root filesystem; return dest."""
    deb = fetch_busybox_deb(cache_dir)
    with building_beside(dest) as work:
        subprocess.run(["dpkg-deb", "-x", deb, work], check=True, capture_output=True)
        _populate(work)
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
    config = base_config(["sh"])
    return write_rootfs_image(rootfs, dest, tag=tag, config=config, created_by="dockyard bootstrap busybox")
