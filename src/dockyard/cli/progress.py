"""Progress streams (pull, push, load, import): docker's JSON messages shown as docker shows them.

On a terminal each layer keeps its own line, rewritten in place as it progresses, with
docker's bar drawn from the message's progressDetail; elsewhere every message is a plain
line. An "error" message ends the stream as an
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
    terminal = _is_terminal(out)
    lines: dict[str, int] = {}  # layer id -> its line, counted from the first
    seen = []
    for message in messages:
        seen.append(message)
        if message.get("error") or message.get("errorDetail"):
            error = message.get("error") or message["errorDetail"].get("message", "")
            raise APIError(500, error)
        text = _text(message, terminal)
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


def _text(message: dict, terminal: bool = False) -> str | None:
    if "stream" in message:
        return message["stream"].rstrip("\n")
    status = message.get("status")
    if status is None:
        return None
    parts = [f"{message['id']}: " if message.get("id") else "", status]
    detail = message.get("progressDetail") or {}
    if terminal and (detail.get("current") or detail.get("total")):
        parts.append(f" {bar(detail, _columns())}")
    elif message.get("progress"):
        parts.append(f" {message['progress']}")
    return "".join(parts)


def bar(detail: dict, width: int, now: float | None = None) -> str:
    """docker's JSONProgress.String(): "[=====>     ]  1.2MB/3.4MB 5s" from a progressDetail.

    The bar shows on terminals wider than 110 columns, the time left on those wider than 50.
    """
    from dockyard.units import human_size

    current, total = detail.get("current") or 0, detail.get("total") or 0
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    half = min(int(current / total * 100) // 2, 50)
    box = f"[{'=' * half}>{' ' * (50 - half)}] " if width > 110 else ""
    numbers = "" if current > total else f"{human_size(current):>8}/{human_size(total)}"
    left = ""
    start = detail.get("start") or 0
    if current > 0 and start > 0 and half < 50 and width > 50:
        import time

        elapsed = (time.time() if now is None else now) - start
        left = " " + _go_seconds(int((total - current) * elapsed / current))
    return box + numbers + left


def _go_seconds(seconds: int) -> str:
    """Go's time.Duration.String() of whole seconds: "45s", "2m0s", "1h2m3s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _is_terminal(out) -> bool:
    try:
        return os.isatty(out.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
        return False


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 80


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
