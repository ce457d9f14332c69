"""Commands over several objects (stop a b c, rm a b): every one is tried, errors print as they come."""

from __future__ import annotations

import sys
from collections.abc import Callable

from dockyard.cli.client import APIError


def each(names: list[str], action: Callable[[str], str | None]) -> int:
    """Run action per name; print what it returns (docker echoes the name as given); 1 if any failed."""
    failed = False
    for name in names:
        try:
            shown = action(name)
        except APIError as exc:
            sys.stderr.write(f"{exc}\n")
            failed = True
            continue
        if shown is not None:
            sys.stdout.write(f"{shown}\n")
            sys.stdout.flush()
    return 1 if failed else 0


def confirm(warning: str, force: bool) -> bool:
    """docker's prune prompt; -f/--force skips it."""
    if force:
        return True
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
