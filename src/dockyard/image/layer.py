"""Layers: a tar changeset applied to a snapshot directory, and a snapshot's changes as a tar.

    apply_layer(stream, dest, compression=None, overlay=True) -> ApplyResult(diff_id, size)
    diff_layer(lower_dirs, upper_dir, out_stream)             -> DiffResult(diff_id, size)
    changes(lower_dirs, upper_dir)                            -> [("A" | "C" | "D", "/path"), ...]
    CompressingWriter(out, "gzip" | "zstd")                   compresses a diff into a blob, counting its digest

The work is split by direction:

    layer_apply    tar -> directory, with the path-safety rules
    layer_tar      tarfile over the stream: members, end-of-archive checks, fast headers
    layer_stream   decompression and the diffID while reading
    layer_diff     overlay upper dir -> reproducible tar; `docker diff` changes
    layer_writers  the diffID and blob compression while writing
    layer_format   what both directions agree on: whiteouts, overlay markers, xattrs, names
"""

from dockyard.image.layer_apply import apply_layer
from dockyard.image.layer_diff import changes, diff_layer
from dockyard.image.layer_format import ApplyResult, Compression, DiffResult
from dockyard.image.layer_stream import detect_compression
from dockyard.image.layer_writers import CompressingWriter

__all__ = [
    "ApplyResult",
    "CompressingWriter",
    "Compression",
    "DiffResult",
    "apply_layer",
    "changes",
    "detect_compression",
    "diff_layer",
]
