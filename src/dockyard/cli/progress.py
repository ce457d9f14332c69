"""Progress streams (pull, push, load, import): docker's JSON messages shown as docker shows them.

On a terminal each layer keeps its own line, rewritten in place as it progresses;
elsewhere every message is a plain line. An "error" message ends the stream as an
error of the daemon's, which is how a pull from an unreachable registry fails.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from dockyard.cli.client import APIError, Client


def show(messages: Iterator[dict], out=None) -> list[dict]:
    """Print the messages; return them (callers read "aux" or the last status)."""
    out = out or sys.stdout
    terminal = hasattr(out, "fileno") and os.isatty(out.fileno())
    lines: dict[str, int] = {}  # layer id -> its line, counted from the first
    seen = []
    for message in messages:
        seen.append(message)
        if message.get("error") or message.get("errorDetail"):
            error = message.get("error") or message["errorDetail"].get("message", "")
            raise APIError(500, error)
        text = _text(message)
        if text is None:
            continue
        layer = message.get("id")
        if terminal and layer:
            if layer in lines:
                up = len(lines) - lines[layer]
                out.write(f"\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
            else:
                lines[layer] = len(lines)
                out.write(f"{text}\n")
        else:
            if terminal:
                lines.clear()
            out.write(f"{text}\n")
        out.flush()
    return seen


def _text(message: dict) -> str | None:
    if "stream" in message:
        return message["stream"].rstrip("\n")
    status = message.get("status")
    if status is None:
        return None
    parts = [f"{message['id']}: " if message.get("id") else "", status]
    if message.get("progress"):
        parts.append(f" {message['progress']}")
    return "".join(parts)


def pull(client: Client, image: str, *, platform: str | None = None, quiet: bool = False, out=None) -> list[dict]:
    """POST /images/create?fromImage=..&tag=..: docker's split of a reference into name and tag or digest."""
    name, tag = split_reference(image)
    params = {"fromImage": name, "tag": tag, "platform": platform}
    with client.stream("POST", "/images/create", params, headers=auth_header(name)) as response:
        messages = response.json_lines()
        if quiet:
            return show(_errors_only(messages), out)
        return show(messages, out)


def _errors_only(messages: Iterator[dict]) -> Iterator[dict]:
    for message in messages:
        if message.get("error") or message.get("errorDetail"):
            yield message


def split_reference(image: str) -> tuple[str, str]:
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = image.rpartition(":")
        return name, tag
    return image, "latest"


def auth_header(name: str) -> dict[str, str]:
    """X-Registry-Auth from `dockyard login`'s credentials for the image's registry, if any."""
    from dockyard.cli import credentials

    auth = credentials.for_image(name)
    return {"X-Registry-Auth": credentials.encode(auth)} if auth else {}
