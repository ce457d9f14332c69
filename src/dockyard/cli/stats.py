"""docker stats: one sample per container from /containers/{id}/stats?stream=0, shown through docker's stats rows.

--no-stream prints the table once; otherwise it is redrawn every second until ^C.
"""

from __future__ import annotations

import sys
import time

from dockyard.cli import formatting
from dockyard.cli.client import APIError, Client
from dockyard.cli.gotemplate import TemplateError
from dockyard.cli.templates import TemplateFailure


def show(client: Client, names: list[str], *, all_containers: bool, stream: bool, trunc: bool, fmt: str) -> int:
    fmt = formatting.stats_format(fmt or "table")
    while True:
        listed = names or client.get_json("/containers/json", {"all": "1" if all_containers else None})
        targets = names or [c["Id"] for c in listed]
        contexts = []
        failed = False
        for name in targets:
            try:
                sample = client.get_json(f"/containers/{name}/stats", {"stream": "0"})
            except APIError as exc:
                if names:
                    sys.stderr.write(f"{exc}\n")
                    failed = True
                continue
            contexts.append(formatting.StatsContext(formatting.StatsEntry(name, sample), trunc=trunc))
        try:
            text = formatting.write(fmt, contexts, formatting.StatsContext.header())
        except TemplateError as exc:
            raise TemplateFailure(str(exc)) from None
        if not stream:
            sys.stdout.write(text)
            return 1 if failed else 0
        sys.stdout.write("\x1b[2J\x1b[H" + text)
        sys.stdout.flush()
        time.sleep(1)
