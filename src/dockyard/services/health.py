"""Health checks: HEALTHCHECK / --health-cmd probes run in running containers, State.Health as docker keeps it.

A probe is an exec (through `dockyard-runtime exec`, like `docker exec`): CMD runs
its arguments, CMD-SHELL runs /bin/sh -c. Exit 0 is healthy; anything else, or
no answer within the timeout, is a failure; Retries failures in a row make the
container unhealthy; failures in the start period do not count. The last five
results are kept in State.Health.Log, their output cut at 4 KiB, as docker does.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time

from dockyard import timestamps
from dockyard.services.containers import ContainerService
from dockyard.services.execs import ExecRecord, ExecService

DEFAULTS = {"Interval": 30.0, "Timeout": 30.0, "StartPeriod": 0.0, "StartInterval": 5.0, "Retries": 3}
_LOG_ENTRIES = 5
_OUTPUT_LIMIT = 4096


def effective_healthcheck(image_config: dict, config: dict) -> dict | None:
    """The container's Healthcheck over the image's, field by field; None when there is none (or NONE)."""
    image_check = image_config.get("Healthcheck") or {}
    own = config.get("Healthcheck") or {}
    merged = {**image_check, **{k: v for k, v in own.items() if v}}
    test = merged.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    settings = {key: (merged.get(key) or 0) for key in DEFAULTS}
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        settings[key] = settings[key] / 1e9 if settings[key] else DEFAULTS[key]
    settings["Retries"] = settings["Retries"] or DEFAULTS["Retries"]
    return {"Test": test, **settings}


def _command(test: list[str]) -> list[str]:
    if test[0] == "CMD":
        return test[1:]
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return test  # docker takes a bare list as CMD


class HealthMonitor:
    def __init__(self, containers: ContainerService, execs: ExecService) -> None:
        self.containers = containers
        self.execs = execs
        self._stops: dict[str, threading.Event] = {}
        containers.on_start.append(self.started)
        containers.on_exit.append(self.exited)

    def started(self, container_id: str) -> None:
        record = self.containers.get(container_id)
        image_config = self.containers.image_config(record)
        check = effective_healthcheck(image_config, record.config)
        if check is None:
            return
        self._update(container_id, lambda health: {"Status": "starting", "FailingStreak": 0, "Log": []}, reset=True)
        stop = threading.Event()
        previous = self._stops.pop(container_id, None)
        if previous:
            previous.set()
        self._stops[container_id] = stop
        threading.Thread(
            target=self._loop, args=(container_id, check, stop), name=f"dy-health-{container_id[:12]}", daemon=True
        ).start()

    def exited(self, container_id: str) -> None:
        stop = self._stops.pop(container_id, None)
        if stop:
            stop.set()

    def _loop(self, container_id: str, check: dict, stop: threading.Event) -> None:
        began = time.monotonic()
        while True:
            in_start_period = time.monotonic() - began < check["StartPeriod"]
            if stop.wait(check["StartInterval"] if in_start_period else check["Interval"]):
                return
            result = self._probe(container_id, check)
            if stop.is_set():
                return
            in_start_period = time.monotonic() - began < check["StartPeriod"]
            self._update(container_id, lambda health, r=result, s=in_start_period: _next(health, r, check, s))

    def _probe(self, container_id: str, check: dict) -> dict:
        start = timestamps.now()
        record = ExecRecord(f"health-{os.urandom(8).hex()}", container_id, {"Cmd": _command(check["Test"])})
        with tempfile.NamedTemporaryFile(prefix="dy-health-", suffix=".log") as errors:
            try:
                command = self.execs.command(record, errors.name)
            except Exception as exc:  # the container stopped between two probes
                return {"Start": start, "End": timestamps.now(), "ExitCode": -1, "Output": str(exc)}
            try:
                done = subprocess.run(command, capture_output=True, timeout=check["Timeout"])
                code, output = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired as exc:
                code = -1
                output = f"Health check exceeded timeout ({check['Timeout']}s)".encode() + (exc.output or b"")
            finally:
                self.execs.finished(record, 0)
        text = output.decode(errors="replace")[:_OUTPUT_LIMIT]
        return {"Start": start, "End": timestamps.now(), "ExitCode": code, "Output": text}

    def _update(self, container_id: str, change, *, reset: bool = False) -> None:
        with self.containers.rootfs_lock(container_id):  # the lock exits take: never write over an exit
            record = self.containers.records.get(container_id)
            if record is None or (not reset and not record.state.get("Running")):
                return
            health = record.state.get("Health") or {"Status": "starting", "FailingStreak": 0, "Log": []}
            self.containers.records.set_state(container_id, {**record.state, "Health": change(health)})


def _next(health: dict, result: dict, check: dict, in_start_period: bool) -> dict:
    log = [*health.get("Log", []), result][-_LOG_ENTRIES:]
    if result["ExitCode"] == 0:
        return {"Status": "healthy", "FailingStreak": 0, "Log": log}
    if in_start_period:
        return {**health, "Log": log}
    streak = health.get("FailingStreak", 0) + 1
    status = "unhealthy" if streak >= check["Retries"] else health.get("Status", "starting")
    return {"Status": status, "FailingStreak": streak, "Log": log}
