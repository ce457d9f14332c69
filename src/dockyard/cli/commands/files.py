"""Verbs that move tar streams: cp (both ways), export, import, commit, save, load."""

from __future__ import annotations

import os
import sys

from dockyard.cli import output, progress
from dockyard.cli.client import APIError
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag, UsageError

OUTPUT = Flag("output", "o", STRING, "Write to a file, instead of STDOUT")
QUIET_COPY = (
    "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached"
)
CP = Command(
    "cp",
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem",
    (
        Flag("archive", "a", BOOL, "Archive mode (copy all uid/gid information)"),
        Flag("follow-link", "L", BOOL, "Always follow symbol link in SRC_PATH"),
        Flag("quiet", "q", BOOL, QUIET_COPY),
    ),
    ("container cp", "cp"),
    min_args=2,
    max_args=2,
)
EXPORT = Command(
    "export",
    "[OPTIONS] CONTAINER",
    "Export a container's filesystem as a tar archive",
    (OUTPUT,),
    ("container export", "export"),
    min_args=1,
    max_args=1,
)
IMPORT = Command(
    "import",
    "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    (
        Flag("change", "c", LIST, "Apply Dockerfile instruction to the created image"),
        Flag("message", "m", STRING, "Set commit message for imported image"),
        Flag("platform", "", STRING, "Set platform if server is multi-platform capable"),
    ),
    ("image import", "import"),
    min_args=1,
    max_args=2,
)
COMMIT = Command(
    "commit",
    "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    (
        Flag("author", "a", STRING, 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
        Flag("change", "c", LIST, "Apply Dockerfile instruction to the created image"),
        Flag("message", "m", STRING, "Commit message"),
        Flag("pause", "p", BOOL, "Pause container during commit", default=True),
    ),
    ("container commit", "commit"),
    min_args=1,
    max_args=2,
)
SAVE = Command(
    "save",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    (OUTPUT,),
    ("image save", "save"),
    min_args=1,
)
LOAD = Command(
    "load",
    "[OPTIONS]",
    "Load an image from a tar archive or STDIN",
    (
        Flag("input", "i", STRING, "Read from tar archive file, instead of STDIN"),
        Flag("quiet", "q", BOOL, "Suppress the load output"),
    ),
    ("image load", "load"),
    max_args=0,
)


def cp(context, opts, args) -> int:
    source, destination = args
    source_container, source_path = _split_container_path(source)
    dest_container, dest_path = _split_container_path(destination)
    if source_container and dest_container:
        raise UsageError("copying between containers is not supported")
    if not source_container and not dest_container:
        raise UsageError("must specify at least one container source")
    if source_container:
        return _copy_from(context.client, source_container, source_path, destination)
    return _copy_to(context.client, source, dest_container, dest_path)


def _split_container_path(arg: str) -> tuple[str, str]:
    """docker's rule: a ':' before any '/' separates a container; a path starting with '.' or '/' is local."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return (container, path) if "/" not in container else ("", arg)


def _copy_from(client, container: str, path: str, destination: str) -> int:
    import tarfile

    with client.stream("GET", f"/containers/{container}/archive", {"path": path}) as response:
        if destination == "-":
            for data in response.chunks():
                sys.stdout.buffer.write(data)
            return 0
        stream = _ChunkReader(response.chunks())
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            into_dir = os.path.isdir(destination)
            root = os.path.dirname(os.path.abspath(destination)) if not into_dir else destination
            renamed = os.path.basename(os.path.normpath(destination))
            for member in archive:
                if not into_dir:
                    _, _, rest = member.name.partition("/")
                    member.name = f"{renamed}/{rest}" if rest else renamed
                archive.extract(member, root, filter="tar")
    return 0


class _ChunkReader:
    """A file-like view of a response's chunks for tarfile's stream mode."""

    def __init__(self, chunks) -> None:
        self.chunks = chunks
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.pending) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.pending += chunk
        if size < 0:
            data, self.pending = self.pending, b""
        else:
            data, self.pending = self.pending[:size], self.pending[size:]
        return data


def _copy_to(client, source: str, container: str, path: str) -> int:
    import io
    import tarfile

    if source == "-":
        client.call("PUT", f"/containers/{container}/archive", {"path": path}, sys.stdin.buffer)
        return 0
    if not os.path.lexists(source):
        raise UsageError(f"lstat {os.path.abspath(source)}: no such file or directory")
    try:
        with client.stream("HEAD", f"/containers/{container}/archive", {"path": path}) as response:
            is_dir = _path_stat(response.headers).get("mode", 0) & (1 << 31) != 0
    except APIError as exc:
        if exc.status_code != 404:
            raise
        is_dir = False
    if is_dir:
        directory, name = path, os.path.basename(os.path.normpath(source))
    else:
        directory, name = os.path.dirname(path.rstrip("/")) or "/", os.path.basename(path.rstrip("/"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(source, arcname=name)
    client.call(
        "PUT",
        f"/containers/{container}/archive",
        {"path": directory},
        buffer.getvalue(),
        {"Content-Type": "application/x-tar"},
    )
    return 0


def _path_stat(headers: dict) -> dict:
    import base64
    import json

    encoded = headers.get("x-docker-container-path-stat")
    return json.loads(base64.b64decode(encoded)) if encoded else {}


def export(context, opts, args) -> int:
    return _download(context.client, f"/containers/{args[0]}/export", None, opts.output)


def save(context, opts, args) -> int:
    return _download(context.client, "/images/get", {"names": args}, opts.output)


def _download(client, path: str, params, destination: str | None) -> int:
    if not destination and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    with client.stream("GET", path, params) as response:
        out = open(destination, "wb") if destination else sys.stdout.buffer  # noqa: SIM115 stdout stays open
        try:
            for data in response.chunks():
                out.write(data)
        finally:
            if destination:
                out.close()
    return 0


def import_command(context, opts, args) -> int:
    source = args[0]
    repository, tag = progress.split_reference(args[1]) if len(args) > 1 else (None, None)
    params = {
        "fromSrc": "-" if source == "-" or "://" not in source else source,
        "repo": repository,
        "tag": tag,
        "message": opts.message,
        "changes": opts.change or None,
        "platform": opts.platform,
    }
    body = None
    if source == "-":
        body = sys.stdin.buffer
    elif "://" not in source:
        body = open(source, "rb")  # noqa: SIM115 closed below
    try:
        with context.client.stream("POST", "/images/create", params, body) as response:
            for message in response.json_lines():
                if message.get("error"):
                    raise APIError(500, message["error"])
                if message.get("status"):
                    output.write(f"{message['status']}\n")
    finally:
        if body is not None and body is not sys.stdin.buffer:
            body.close()
    return 0


def commit(context, opts, args) -> int:
    repository, tag = progress.split_reference(args[1]) if len(args) > 1 else (None, None)
    params = {
        "container": args[0],
        "repo": repository,
        "tag": tag,
        "comment": opts.message,
        "author": opts.author,
        "pause": "1" if opts.pause else "0",
        "changes": opts.change or None,
    }
    answer = context.client.call("POST", "/commit", params)
    output.write(f"{answer['Id']}\n")
    return 0


def load(context, opts, _args) -> int:
    if not opts.input and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty")
    source = open(opts.input, "rb") if opts.input else sys.stdin.buffer  # noqa: SIM115 closed below
    try:
        params = {"quiet": "1" if opts.quiet else None}
        with context.client.stream("POST", "/images/load", params, source, {"Content-Type": "application/x-tar"}) as r:
            progress.show(r.json_lines(), sys.stdout)
    finally:
        if opts.input:
            source.close()
    return 0


COMMANDS = {
    "cp": (CP, cp),
    "export": (EXPORT, export),
    "import": (IMPORT, import_command),
    "commit": (COMMIT, commit),
    "save": (SAVE, save),
    "load": (LOAD, load),
}
