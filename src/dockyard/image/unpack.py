"""Unpacking an image's layers into committed snapshots, one per chain ID.

    layer i  -> prepare("dy-unpack-<random>", parent=chain[i-1]) -> apply the blob
             -> check its diffID against the config -> commit(chain[i])

A layer already unpacked (by an image sharing it) is not touched again. An
interrupted unpack leaves an active snapshot labelled UNPACKING, which
remove_abandoned() deletes at the next start.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import NamedTuple

from dockyard.core.content import ContentStore
from dockyard.core.snapshot import Kind, Snapshotter
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.image import manifest as m
from dockyard.image.layer import apply_layer
from dockyard.snapshot.mounts import layers

UNPACKING = "dockyard.unpacking"
DIFF_ID = "dockyard.diff-id"
SIZE = "dockyard.size"


class Layer(NamedTuple):
    chain_id: str
    diff_id: str
    size: int  # bytes of file data, as docker counts a layer's size


def layer_of(snapshotter: Snapshotter, chain_id: str) -> Layer | None:
    """The unpacked layer named chain_id, or None."""
    try:
        info = snapshotter.stat(chain_id)
    except NotFound:
        return None
    if info.kind != Kind.COMMITTED:
        return None
    return Layer(chain_id, info.labels.get(DIFF_ID, ""), int(info.labels.get(SIZE, "0")))


def unpack(
    content: ContentStore, snapshotter: Snapshotter, blobs: list[m.Descriptor], diff_ids: list[str]
) -> list[Layer]:
    """Make sure every layer of an image is a committed snapshot; return them bottom first."""
    if len(blobs) != len(diff_ids):
        raise InvalidParameter(
            f"the manifest lists {len(blobs)} layers but the config's rootfs.diff_ids has {len(diff_ids)}"
        )
    unpacked: list[Layer] = []
    for blob, diff_id, chain_id in zip(blobs, diff_ids, m.chain_ids(diff_ids), strict=True):
        parent = unpacked[-1].chain_id if unpacked else None
        unpacked.append(layer_of(snapshotter, chain_id) or unpack_layer(content, snapshotter, blob, parent, diff_id))
    return unpacked


def unpack_layer(
    content: ContentStore,
    snapshotter: Snapshotter,
    blob: m.Descriptor,
    parent: str | None,
    expected_diff_id: str | None = None,
) -> Layer:
    """Apply one layer blob on top of the committed snapshot parent (a chain ID, or None).

    Without expected_diff_id (an import, a commit) the layer is whatever the blob holds.
    """
    key = f"dy-unpack-{secrets.token_hex(8)}"
    target = layers(snapshotter.prepare(key, parent, labels={UNPACKING: "1"}))
    try:
        with content.open(blob.digest) as stream:
            compression = m.LAYER_COMPRESSION[blob.media_type] or "none"
            result = apply_layer(stream, target.upper, compression=compression, overlay=target.overlay)
        if expected_diff_id is not None and result.diff_id != expected_diff_id:
            raise InvalidParameter(
                f"layer {blob.digest}: its content has diffID {result.diff_id}, "
                f"the image config says {expected_diff_id}"
            )
        chain_id = result.diff_id if parent is None else m.chain_ids([parent, result.diff_id])[1]
        layer = Layer(chain_id, result.diff_id, result.content_size)
        if layer_of(snapshotter, chain_id) is not None:
            snapshotter.remove(key)
            return layer
        try:
            snapshotter.commit(chain_id, key, labels={DIFF_ID: result.diff_id, SIZE: str(layer.size)})
        except Conflict:
            # Another unpack of the same layer committed first: theirs is as good as ours.
            if layer_of(snapshotter, chain_id) is None:
                raise
            snapshotter.remove(key)
        return layer
    except BaseException:
        with contextlib.suppress(NotFound):
            snapshotter.remove(key)
        raise


def remove_abandoned(snapshotter: Snapshotter) -> list[str]:
    """Remove the snapshots of unpacks that a crash interrupted; call before any unpack starts."""
    abandoned = [info.key for info in snapshotter.walk() if info.kind == Kind.ACTIVE and UNPACKING in info.labels]
    for key in abandoned:
        snapshotter.remove(key)
    return abandoned
