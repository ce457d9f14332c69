"""A paused container ended by rm -f, kill, stop, restart or a daemon shutdown: as dockerd (daemon/kill.go)
the signal is sent and the container thawed, since a frozen task takes it only then; nothing stays behind
(its processes, rootfs mount, network namespace, cgroups)."""

from __future__ import annotations

import glob
import json

from conftest import busybox_daemon_in
from support.daemon import DockyardDaemon

# pid 1 ignores SIGTERM unless it traps it: the exit code tells the stop signal arrived.
TRAP_TERM = "trap 'exit 7' TERM; while :; do sleep 0.1; done"


def _state(d: DockyardDaemon, name: str) -> dict:
    return json.loads(d.docker("inspect", name).stdout)[0]["State"]


def _paused(d: DockyardDaemon, name: str, *options: str) -> tuple[str, list[int]]:
    """Run and pause a container: its ID and its processes (its init and the shim that watches it)."""
    d.docker("run", "-d", "--name", name, *options, "busybox", "sh", "-c", TRAP_TERM)
    container_id = d.docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
    pid = _state(d, name)["Pid"]
    with open(f"/proc/{pid}/stat") as f:
        shim = int(f.read().rsplit(")", 1)[1].split()[1])
    d.docker("pause", name)
    assert _state(d, name)["Paused"] is True
    return container_id, [pid, shim]


def _traces(container_id: str, pids: list[int]) -> list[str]:
    found = [f"process {pid}" for pid in pids if _alive(pid)]
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {line.split()[4]}" for line in f if container_id in line]
    return found + [f"cgroup {path}" for path in glob.glob(f"/sys/fs/cgroup/*/dy-{container_id}")]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_rm_force_of_a_paused_container_removes_it_and_everything_it_held(busybox_daemon):
    d = busybox_daemon
    container_id, pids = _paused(d, "dy-paused-rm")
    d.docker("rm", "-f", "dy-paused-rm")
    assert d.docker("ps", "-aq", "--filter", f"id={container_id}").stdout == ""
    assert _traces(container_id, pids) == []


def test_kill_of_a_paused_container_ends_it_unpaused(busybox_daemon):
    d = busybox_daemon
    container_id, pids = _paused(d, "dy-paused-kill")
    d.docker("kill", "dy-paused-kill")
    state = _state(d, "dy-paused-kill")
    assert (state["Status"], state["Paused"], state["ExitCode"]) == ("exited", False, 137)
    assert _traces(container_id, pids) == []
    d.docker("rm", "dy-paused-kill")


def test_a_signal_other_than_the_stop_signal_leaves_it_paused(busybox_daemon):
    d = busybox_daemon
    _paused(d, "dy-paused-usr1", "--stop-signal", "SIGUSR2")
    d.docker("kill", "-s", "USR1", "dy-paused-usr1")
    assert _state(d, "dy-paused-usr1")["Status"] == "paused"
    d.docker("rm", "-f", "dy-paused-usr1")


def test_stop_of_a_paused_container_delivers_the_stop_signal(busybox_daemon):
    d = busybox_daemon
    container_id, pids = _paused(d, "dy-paused-stop")
    d.docker("stop", "-t", "60", "dy-paused-stop")
    state = _state(d, "dy-paused-stop")
    assert (state["Status"], state["Paused"], state["ExitCode"]) == ("exited", False, 7)  # not the SIGKILL's 137
    assert _traces(container_id, pids) == []
    d.docker("rm", "dy-paused-stop")


def test_restart_of_a_paused_container_runs_it_again_unpaused(busybox_daemon):
    d = busybox_daemon
    container_id, pids = _paused(d, "dy-paused-restart")
    d.docker("restart", "-t", "60", "dy-paused-restart")
    state = _state(d, "dy-paused-restart")
    assert (state["Status"], state["Paused"], state["Pid"] in pids) == ("running", False, False)
    assert not any(_alive(pid) for pid in pids)
    d.docker("rm", "-f", "dy-paused-restart")
    assert _traces(container_id, [state["Pid"]]) == []


def test_a_shutdown_without_live_restore_stops_a_paused_container(tmp_path):
    base = tmp_path / "dy-paused-shutdown"
    base.mkdir()
    (base / "daemon.json").write_text('{"live-restore": false}')
    with busybox_daemon_in(base) as d:
        container_id, pids = _paused(d, "dy-paused-down")
        d.stop()
        assert not any(_alive(pid) for pid in pids)
        d.start()
        state = _state(d, "dy-paused-down")
        assert (state["Status"], state["Paused"], state["ExitCode"]) == ("exited", False, 7)
        assert _traces(container_id, pids) == []
