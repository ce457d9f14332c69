"""The shim creates and starts its container in a worker: a failed start still reports the runtime's error."""

from __future__ import annotations

import json
import os


def test_a_failed_start_leaves_the_runtime_s_error_in_started_json(busybox_daemon):
    d = busybox_daemon
    container = d.docker("create", "busybox", "nosuchcommand").stdout.strip()
    try:
        result = d.docker("start", container, check=False)
        assert result.returncode != 0 and "nosuchcommand" in result.stderr
        with open(os.path.join(d.exec_root, "containers", container, "started.json")) as f:
            started = json.load(f)
        assert "nosuchcommand" in started["error"] and "worker" not in started["error"]
    finally:
        d.docker("rm", "-f", container)


def test_the_init_becomes_the_shim_s_child_once_the_worker_is_gone(busybox_daemon):
    d = busybox_daemon
    container = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    try:
        pid = json.loads(d.docker("inspect", container).stdout)[0]["State"]["Pid"]
        with open(os.path.join(d.exec_root, "containers", container, "shim.pid")) as f:
            shim = int(f.read())
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rpartition(")")[2].split()[1])
        assert parent == shim  # the shim is the init's subreaper: it reaps it and records the exit
        d.docker("stop", "-t", "1", container)
        assert json.loads(d.docker("inspect", container).stdout)[0]["State"]["ExitCode"] == 137
    finally:
        d.docker("rm", "-f", container)
