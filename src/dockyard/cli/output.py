"""Plain output of the commands that have no --format: text to stdout, rows aligned as docker aligns them."""

from __future__ import annotations

import sys


def table(rows: list[list[str]], minwidth: int = 10) -> str:
    """Rows through docker's tabwriter (minwidth 10, top's 20; padding 3); the last column is not padded."""
    from dockyard.cli.formatting.tabwriter import tabwrite

    return tabwrite("".join("\t".join(row) + "\n" for row in rows), minwidth)


def write(text: str) -> None:
    sys.stdout.write(text)
