#!/usr/bin/env python3
"""Run docker-py's own integration suite against a `dockyard daemon` and count the results by module.

A yardstick, not a test: docker-py is not part of the repository. Give it a checkout of docker-py
(7.2.0 was measured; its `tests/integration`) and a directory for the daemon:

    .venv/bin/python scripts/dockerpy_yardstick.py --docker-py /var/tmp/dy-dockerpy/docker-py \\
        --work /var/tmp/dy-yardstick [--extra-path DIR] [-- PYTEST ARGS]

It starts a daemon of this checkout with its own data root, exec root and socket under --work,
bootstraps busybox and tags it as the images the suite asks for (busybox:buildroot-2014.02,
busybox:musl; alpine:3.10 and alpine:latest with alpine's postgres user and /var/opt added), runs the
suite with pytest-timeout (needed: a stuck test would stop the count) and junit output, removes every
container and network it left, stops the daemon, removes the bridge, links and nftables table it
made, and prints
passed/failed/error/skipped per module. --extra-path goes first on PYTHONPATH (pytest-timeout,
paramiko, websocket-client if the venv lacks them). credentials/ is left out: it replaces os.environ,
and every later test would lose DOCKER_HOST. The suite gets a DOCKER_CONFIG of its own under --work.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

BUSYBOX_TAGS = ("busybox:buildroot-2014.02", "busybox:musl")
ALPINE_TAGS = ("alpine:3.10", "alpine:latest")
# What alpine has and busybox lacks that the suite uses (api_exec_test: exec as user postgres, in /var/opt).
ALPINE_EXTRAS = (
    "echo postgres:x:70:70::/var/lib/postgresql:/bin/sh >> /etc/passwd && echo postgres:x:70: >> /etc/group"
    " && mkdir -p /var/opt"
)
DOCKYARD = [sys.executable, "-c", "from dockyard.cli.main import main; raise SystemExit(main())"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from support.daemon import DockyardDaemon  # noqa: E402  the tests' helper, found through the line above


def _docker(host: str, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DOCKER_CONTEXT"}
    return subprocess.run(["docker", *args], env={**env, "DOCKER_HOST": host}, capture_output=True, text=True)


def _tag_stand_ins(host: str) -> None:
    """busybox as the images the suite asks for; alpine's stand-in with alpine's postgres user and /var/opt."""
    for tag in BUSYBOX_TAGS:
        _docker(host, "tag", "busybox:latest", tag)
    name = "dy-yardstick-alpine"
    _docker(host, "rm", "-f", name)
    made = _docker(host, "run", "--name", name, "busybox:latest", "sh", "-c", ALPINE_EXTRAS)
    if made.returncode != 0:
        raise SystemExit(f"alpine's stand-in: {made.stderr}")
    for tag in ALPINE_TAGS:
        _docker(host, "commit", "-c", 'CMD ["sh"]', name, tag)
    _docker(host, "rm", name)


def _counts(junit: str) -> dict[str, collections.Counter]:
    by_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case in ET.parse(junit).iter("testcase"):
        module = case.get("classname", "").split(".")[2]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                break
            if child.tag == "skipped":
                outcome = "skipped"
        by_module[module][outcome] += 1
    return by_module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docker-py", required=True, help="a docker-py checkout (its tests/integration is run)")
    parser.add_argument("--work", required=True, help="a directory of the run's own: daemon, logs, junit")
    parser.add_argument("--extra-path", default="", help="prepended to PYTHONPATH (pytest-timeout and the like)")
    parser.add_argument("pytest_args", nargs="*")
    options = parser.parse_args()
    work = os.path.abspath(options.work)
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(f"{work}/root"):
        subprocess.run([*DOCKYARD, "bootstrap", "busybox", "--data-root", f"{work}/root"], check=True)
    # The tests' daemon: the same layout under --work, a default bridge of its own (never dockyard0), and on
    # close() the containers and networks the suite left removed, then the links and nftables table it made.
    daemon = DockyardDaemon(work).start()
    host = daemon.host
    try:
        daemon.remove_leftovers()  # of an interrupted run: a network left holds its subnet, a next create fails
        _tag_stand_ins(host)
        junit = os.path.join(work, "junit.xml")
        path = os.pathsep.join(p for p in (options.docker_py, options.extra_path, os.environ.get("PYTHONPATH")) if p)
        # A docker config of the run's own: context_api_test creates a context "test" beside the config
        # file (in the working directory when there is none) and fails the next run if it is still there.
        config = os.path.join(work, "docker-config")
        shutil.rmtree(config, ignore_errors=True)
        os.makedirs(config)
        with open(os.path.join(config, "config.json"), "w") as f:
            f.write("{}\n")
        env = {**os.environ, "DOCKER_HOST": host, "PYTHONPATH": path, "DOCKER_CONFIG": config}
        command = [sys.executable, "-m", "pytest", "--timeout", "60", "-q", "tests/integration",
                   "--ignore", "tests/integration/credentials", "--junitxml", junit, *options.pytest_args]  # fmt: skip
        with open(os.path.join(work, "pytest.log"), "w") as out:
            subprocess.run(command, cwd=options.docker_py, env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        daemon.close()
    total: collections.Counter = collections.Counter()
    for module, counts in sorted(_counts(junit).items()):
        total.update(counts)
        print(f"{module:28s} " + " ".join(f"{key} {counts[key]}" for key in ("passed", "failed", "error", "skipped")))
    print("total", json.dumps(dict(total)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
