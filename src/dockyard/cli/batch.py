"""Commands over several objects (stop a b c, rm a b): every one is tried, errors print as they come; and the
prompt and report of the prune commands."""

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


def pruned(title: str, deleted: list) -> str:
    """A prune's report of what went, as docker prints it: the title, a line per object (an image's
    "untagged: …" and "deleted: …"), a blank line; nothing when nothing went."""
    lines = []
    for item in deleted:
        lines += [item] if isinstance(item, str) else [f"{kind.lower()}: {value}" for kind, value in item.items()]
    return f"{title}\n" + "".join(f"{line}\n" for line in lines) + "\n" if lines else ""


def reclaimed(size: int) -> str:
    from dockyard.units import human_size

    return f"Total reclaimed space: {human_size(size)}\n"
