"""Output as the docker CLI prints it: tab-aligned tables, human durations and sizes, short ids."""

from __future__ import annotations

import sys
import time

from dockyard import units


def table(rows: list[list[str]], minwidth: int = 10) -> str:
    """Go's tabwriter as docker configures it (minwidth 10, top's 20; padding 3); the last column is not padded."""
    if not rows:
        return ""
    widths = [0] * max(len(row) for row in rows)
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    widths = [max(width + 3, minwidth) for width in widths]
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + row[-1:]
        out.append("".join(cells))
    return "\n".join(out) + "\n"


def ago(unix_seconds: float) -> str:
    return units.human_duration(time.time() - unix_seconds) + " ago"


def human_size(size: float, precision: int = 3) -> str:
    """Sizes as docker's tables print them: go-units HumanSizeWithPrecision(size, 3) unless told."""
    return units.human_size(size, precision)


def short_id(image_or_container_id: str) -> str:
    return image_or_container_id.removeprefix("sha256:")[:12]


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def go_quote(text: str) -> str:
    """Go's strconv.Quote for the printable text commands hold."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def write(text: str) -> None:
    sys.stdout.write(text)
