"""What the benchmarks share: timing one action, and a layer tar of a real tree (the cached Debian rootfs)."""

from __future__ import annotations

import os
import sysconfig
import tarfile
import time

DEBIAN_CACHE = "/var/tmp/dockyard-test-cache/debian-bookworm-minbase-rootfs"


def default_tree() -> str | None:
    """The Debian rootfs the tests cache, if it is there."""
    return DEBIAN_CACHE if os.path.isdir(DEBIAN_CACHE) else None


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def write_layer(path: str, tree: str | None) -> None:
    """A layer tar of tree's contents, or of Python's standard library (site-packages left out) without one."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if tree:
            for name in sorted(os.listdir(tree)):
                tar.add(os.path.join(tree, name), arcname=name)
        else:
            stdlib = sysconfig.get_paths()["stdlib"]
            tar.add(stdlib, arcname="usr/lib/python", filter=lambda i: None if "site-packages" in i.name else i)
