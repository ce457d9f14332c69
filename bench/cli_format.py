"""Benchmark: what --format costs the CLI: importing the formatting modules, and rendering 100 rows.

The CLI's budget is set by the docker CLI (`docker ps` answers in about 12 ms):
this prints the import time of what ps needs of dockyard.cli.formatting beside a bare
interpreter's start (both as subprocesses, alternating run by run), and the time
to render 100 ps rows as docker's default table, as {{json .}} and as a custom
template, plus one inspect template over 100 inspect documents (in process).
Medians; not a test: run it by hand and record the result in docs/benchmarks.md.

    .venv/bin/python bench/cli_format.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from benchlib import timed

from dockyard.cli import formatting as f
from dockyard.cli.gotemplate import Template

# What `dockyard ps` loads: the rows of ps, the writer and the template engine (the rest loads on first use).
IMPORT = "from dockyard.cli.formatting import ContainerContext, write"


def container(i: int) -> dict:
    return {
        "Id": f"{i:064x}", "Names": [f"/web-{i}"], "Image": "busybox", "ImageID": "sha256:" + "6f" * 32,
        "Command": "sh -c 'while true; do sleep 1; done'", "Created": 1_700_000_000 + i,
        "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8000 + i, "Type": "tcp"}],
        "Labels": {"com.example.tier": "front", "index": str(i)}, "State": "running", "Status": "Up 3 minutes",
        "Mounts": [], "NetworkSettings": {"Networks": {"bridge": {}}},
    }  # fmt: skip


def inspect_document(i: int) -> dict:
    return {
        "Id": f"{i:064x}", "Name": f"/web-{i}", "State": {"Status": "running", "Running": True, "Pid": 1000 + i},
        "Config": {"Image": "busybox", "Labels": {"a": "b", "index": str(i)}, "Env": ["PATH=/bin", "X=1"],
                   "Cmd": ["sh", "-c", "sleep 1"]},
    }  # fmt: skip


def median_ms(action, runs: int) -> float:
    return statistics.median(timed(action) for _ in range(runs)) * 1000


def subprocess_ms(code: str) -> float:
    return timed(lambda: subprocess.run([sys.executable, "-c", code], check=True)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    bare, imported = [], []
    for _ in range(args.runs):
        bare.append(subprocess_ms("pass"))
        imported.append(subprocess_ms(IMPORT))
    print(f"python -c pass                                 {statistics.median(bare):7.1f} ms")
    print(f"python -c '{IMPORT}'  {statistics.median(imported):7.1f} ms "
          f"(+{statistics.median(imported) - statistics.median(bare):.1f} ms)")  # fmt: skip

    rows = [container(i) for i in range(100)]
    header = f.ContainerContext.header()
    for name, fmt in (
        ("ps table, 100 rows", f.container_format("table")),
        ("ps {{json .}}, 100 rows", "{{json .}}"),
        ("ps custom, 100 rows", 'table {{.Names}}\\t{{.Label "com.example.tier"}}\\t{{upper .Image}}'),
    ):
        ms = median_ms(lambda fmt=fmt: f.write(fmt, [f.ContainerContext(c) for c in rows], header), args.runs)
        print(f"{name:46} {ms:7.2f} ms")
    documents = [inspect_document(i) for i in range(100)]
    text = '{{.Name}} {{.State.Status}} {{index .Config.Labels "index"}} {{join .Config.Cmd " "}} {{json .Config.Env}}'

    def inspect_all() -> None:
        template = Template(text)
        for document in documents:
            template.execute(document)

    print(f"{'inspect template, 100 documents':46} {median_ms(inspect_all, args.runs):7.2f} ms")


if __name__ == "__main__":
    main()
