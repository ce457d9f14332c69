"""Resolving a path inside a root directory without ever leaving it.

A container's rootfs is untrusted: a mount destination such as /etc/x may be a
symlink to /../../host/etc. Symlinks are therefore resolved by hand, each
target interpreted relative to the root and every ".." clamped at the root, the
way the kernel would resolve them after chroot(root). This is the defence
against the symlink-exchange class of bugs (CVE-2018-15664 and friends) for
paths the runtime creates or mounts on before pivot_root.
"""

from __future__ import annotations

import os

_MAX_SYMLINKS = 255


def resolve_in_root(root: str, path: str) -> str:
    """Return the host path of `path` as seen from inside `root`.

    Missing trailing components are allowed (the caller may be about to create
    them); the result always lies under `root`.
    """
    root = os.path.abspath(root)
    pending = [part for part in path.split("/") if part not in ("", ".")]
    pending.reverse()
    resolved: list[str] = []
    followed = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a symlink, or does not exist yet
            resolved.append(part)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise OSError(40, f"resolve {path} in {root}: too many levels of symbolic links")
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
    return os.path.join(root, *resolved)


def resolve_name_in_root(root: str, path: str) -> str:
    """Like resolve_in_root, but the last component is not followed: for creating
    or replacing a symlink or device node at exactly that name."""
    parent, name = os.path.split(path.rstrip("/"))
    if name in ("", ".", ".."):
        return resolve_in_root(root, path)
    return os.path.join(resolve_in_root(root, parent or "/"), name)


def make_target(dest: str, *, directory: bool) -> None:
    """Create the directory or empty file that a mount will cover."""
    if directory:
        os.makedirs(dest, exist_ok=True)
    elif not os.path.exists(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
