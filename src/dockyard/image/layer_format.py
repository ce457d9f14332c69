"""What a layer tar means: whiteout names, overlayfs markers, xattr policy, entry names.

Shared by layer_apply (tar -> directory) and layer_diff (directory -> tar), so that
both directions agree on every convention. The OCI image spec's layer.md is the
reference ("Whiteouts", "Opaque Whiteout", "Applying Changesets").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

# OCI layer.md "Whiteouts": `.wh.<name>` deletes <name> of the lower layers, and
# `.wh..wh..opq` hides every lower child of the directory that holds it.
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs); never content
OPAQUE_MARKER = ".wh..wh..opq"

# overlayfs' on-disk forms of the same two ideas (Documentation/filesystems/overlayfs.rst):
# a whiteout is a character device 0/0, an opaque directory carries this xattr.
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
# Features that make an upper dir unreadable as a plain changeset: a renamed lower dir
# (redirect_dir) or a metadata-only copy-up (metacopy) keep their data in the lowers.
OVERLAY_UNSUPPORTED_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")

PAX_XATTR_PREFIX = "SCHILY.xattr."  # the key GNU tar, Go's archive/tar and docker use
CAPABILITY_XATTR = "security.capability"

# Labels of the host that produced the files, and overlayfs' own bookkeeping, never
# travel in a layer: SELinux relabels on run, and a layer that could plant
# trusted.overlay.* would steer the kernel's overlay lookups (opaque, redirect, origin).
_LOCAL_XATTR_PREFIXES = ("security.selinux", *OVERLAY_XATTR_PREFIXES)


class Compression(enum.StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


@dataclass(frozen=True)
class ApplyResult:
    """diff_id is the sha256 of the uncompressed tar ("sha256:<hex>"), size its length in bytes.

    content_size is what docker reports as a layer's size: the lstat() sizes of its files and
    symlinks (a symlink's is its target's length), each inode once, directories not counted.
    """

    diff_id: str
    size: int
    content_size: int = 0


@dataclass(frozen=True)
class DiffResult:
    """diff_id is the sha256 of the tar written ("sha256:<hex>"), size its length in bytes."""

    diff_id: str
    size: int


def is_portable_xattr(name: str) -> bool:
    """Whether an extended attribute belongs in a layer (both when writing and applying one)."""
    return not name.startswith(_LOCAL_XATTR_PREFIXES)


def clean_entry_path(name: str, *, entry: str | None = None) -> str:
    """Normalise a tar member name (or hardlink target) to "a/b/c" relative to the layer root.

    "" means the root itself. Absolute names and ".." that would climb above the root are
    refused rather than clamped: no legitimate layer writer produces them, so they are
    either corruption or an attack (tar-slip). A ".." that stays inside is resolved here,
    lexically, before any symlink is looked at, as docker does (filepath.Clean).
    """
    what = entry if entry is not None else name
    if name.startswith("/"):
        raise InvalidParameter(f"layer entry {what!r}: absolute paths are not allowed in a layer")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise InvalidParameter(f"layer entry {what!r}: path escapes the layer root")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def whiteout_target(base: str, *, entry: str) -> str:
    """The name a `.wh.<name>` entry deletes; refuses names that are not a plain child."""
    target = base[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        raise InvalidParameter(f"layer entry {entry!r}: invalid whiteout name")
    return target


def portable_capability(value: bytes) -> bytes:
    """security.capability as a layer should carry it: VFS_CAP_REVISION_2.

    A v3 value names the root uid of the user namespace it was written in, which means
    nothing on another host; docker and containerd drop it the same way (byte 3 is the
    revision's high byte of the little-endian magic_etc, 20 bytes is XATTR_CAPS_SZ_2).
    """
    if len(value) >= 24 and value[3] == 0x03:
        converted = bytearray(value[:20])
        converted[3] = 0x02
        return bytes(converted)
    return value
