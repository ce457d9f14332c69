"""The engine issue's proofs that other e2e modules do not already give, with the real docker CLI 28
and docker-py: follow, restart, stop -t, kill -s, exit codes incl. the OOM killer, prune filters,
docker-py's high-level API, restart policies across a daemon killed by SIGKILL, and bad input that
must leave nothing behind (no record, snapshot, mount, cgroup or shim)."""

from __future__ import annotations

import glob
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import docker.errors
import pytest

from support.daemon import DockyardDaemon

TRAP = 'trap "echo got USR1" USR1; trap "" TERM; echo up; while true; do sleep 0.1; done'


def _wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def _state(daemon, name: str) -> dict:
    return json.loads(daemon.docker("inspect", name).stdout)[0]["State"]


def test_logs_follow_restart_stop_timeout_and_kill_signals(busybox_daemon):
    d = busybox_daemon
    d.docker(
        "run", "-d", "--name", "dy-proof-follow", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done"
    )
    followed = d.docker("logs", "-f", "dy-proof-follow")  # returns when the container exits, with every line
    assert followed.stdout == "1\n2\n3\n"
    d.docker("run", "-d", "--name", "dy-proof-trap", "busybox", "sh", "-c", TRAP)
    _wait_for(lambda: "up" in d.docker("logs", "dy-proof-trap").stdout)
    first_start = _state(d, "dy-proof-trap")["StartedAt"]
    d.docker("kill", "-s", "USR1", "dy-proof-trap")
    _wait_for(lambda: "got USR1" in d.docker("logs", "dy-proof-trap").stdout)
    assert _state(d, "dy-proof-trap")["Running"]
    bad = d.docker("kill", "-s", "NOSUCH", "dy-proof-trap", check=False)
    assert bad.returncode != 0 and "Invalid signal: NOSUCH" in bad.stderr
    d.docker("restart", "-t", "1", "dy-proof-trap")  # TERM is ignored: killed after the timeout, started again
    restarted = _state(d, "dy-proof-trap")
    assert restarted["Running"] and restarted["StartedAt"] != first_start
    d.docker("stop", "-t", "1", "dy-proof-trap")
    assert d.docker("wait", "dy-proof-trap").stdout.strip() == "137"
    # The container's PID 1 ignores signals it has no handler for (as under docker): a child of it gets this one.
    d.docker("run", "-d", "--name", "dy-proof-term", "busybox", "sh", "-c", "sleep 60; exit $?")
    d.docker("exec", "dy-proof-term", "sh", "-c", "kill -INT $(pidof sleep)")
    assert d.docker("wait", "dy-proof-term").stdout.strip() == str(128 + signal.SIGINT)
    d.docker("rm", "dy-proof-follow", "dy-proof-trap", "dy-proof-term")


def test_run_detached_with_rm_removes_the_container_when_it_ends(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--rm", "--name", "dy-proof-rm", "busybox", "sleep", "0.3")
    d.docker("run", "-d", "--rm", "--name", "dy-proof-rm-stop", "busybox", "sleep", "60")
    d.docker("stop", "-t", "1", "dy-proof-rm-stop")
    _wait_for(
        lambda: (
            not {"dy-proof-rm", "dy-proof-rm-stop"} & set(d.docker("ps", "-a", "--format", "{{.Names}}").stdout.split())
        )
    )


def test_exit_codes_of_docker_run(busybox_daemon):
    d = busybox_daemon
    missing = d.docker("run", "--rm", "dy-no-such-image:1", check=False)
    assert missing.returncode == 125 and "Unable to find image 'dy-no-such-image:1' locally" in missing.stderr
    killed = d.docker("run", "--rm", "busybox", "sh", "-c", 'sh -c "kill -TERM \\$\\$"; exit $?', check=False)
    assert killed.returncode == 128 + signal.SIGTERM
    assert d.docker("run", "--rm", "busybox", "sh", "-c", "exit 42", check=False).returncode == 42


def test_init_runs_as_pid_1_and_passes_signals_on(busybox_daemon):
    d = busybox_daemon
    ps = d.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,args").stdout.splitlines()
    assert ps[1].split(None, 1) == ["1", "/sbin/docker-init -- ps -o pid,args"]
    d.docker("run", "-d", "--init", "--name", "dy-proof-init", "busybox", "sleep", "60")
    assert json.loads(d.docker("inspect", "dy-proof-init").stdout)[0]["HostConfig"]["Init"] is True
    d.docker("kill", "-s", "INT", "dy-proof-init")  # without an init, sleep as PID 1 would ignore it
    assert d.docker("wait", "dy-proof-init").stdout.strip() == str(128 + signal.SIGINT)
    d.docker("rm", "dy-proof-init")
    info = d.docker("info", "--format", "{{.InitBinary}} {{.LiveRestoreEnabled}} {{.DefaultRuntime}}").stdout
    assert info.split() == ["docker-init", "true", "dockyard"]


def test_the_oom_killer_gives_137_and_state_oomkilled(busybox_daemon):
    if not glob.glob("/sys/fs/cgroup/memory/memory.limit_in_bytes") and not os.path.exists(
        "/sys/fs/cgroup/cgroup.controllers"
    ):
        pytest.skip("no memory cgroup controller")
    d = busybox_daemon
    hog = d.docker("run", "--name", "dy-proof-oom", "-m", "16m", "--memory-swap", "16m", "busybox",
                   "sh", "-c", "x=a; while true; do x=$x$x; done", check=False)  # fmt: skip
    state = _state(d, "dy-proof-oom")
    assert (hog.returncode, state["ExitCode"], state["OOMKilled"]) == (137, 137, True)
    d.docker("rm", "dy-proof-oom")


def test_container_prune_spares_what_its_filters_keep(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-proof-keep", "--label", "keep=yes", "busybox", "true")
    d.docker("create", "--name", "dy-proof-drop", "busybox", "true")
    d.docker("container", "prune", "-f", "--filter", "until=1h")  # both are younger than an hour
    d.docker("container", "prune", "-f", "--filter", "label!=keep")
    names = d.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "dy-proof-keep" in names and "dy-proof-drop" not in names
    bad = d.docker("container", "prune", "-f", "--filter", "colour=red", check=False)
    assert bad.returncode != 0 and "invalid filter 'colour'" in bad.stderr
    d.docker("rm", "dy-proof-keep")


def test_docker_py_high_level_containers_images_archives_and_events(busybox_daemon):
    client = busybox_daemon.client()
    since = int(time.time())
    try:
        container = client.containers.create("busybox", ["sh", "-c", "echo started; sleep 60"], name="dy-proof-py")
        container.start()
        _wait_for(lambda: b"started" in container.logs())
        result = container.exec_run(["sh", "-c", "echo $((6 * 7)); exit 3"])
        assert (result.exit_code, result.output) == (3, b"42\n")
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as archive:
            data = b"put by docker-py\n"
            info = tarfile.TarInfo("greeting.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        assert container.put_archive("/tmp", payload.getvalue())
        stream, stat = container.get_archive("/tmp/greeting.txt")
        assert stat["name"] == "greeting.txt" and stat["size"] == len(data)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            assert archive.extractfile("greeting.txt").read() == data
        image = client.images.get("busybox")
        assert image.tag("dy-proof/busybox", "1")
        assert "dy-proof/busybox:1" in client.images.get("dy-proof/busybox:1").tags
        assert any("dy-proof/busybox:1" in listed.tags for listed in client.images.list())
        client.images.remove("dy-proof/busybox:1")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("dy-proof/busybox:1")
        container.stop(timeout=1)
        container.remove()
        events = client.events(since=since, until=int(time.time()) + 1, decode=True,
                               filters={"container": "dy-proof-py"})  # fmt: skip
        actions = [event["Action"] for event in events]
        assert actions[:2] == ["create", "start"] and "die" in actions and actions[-1] == "destroy"
        assert "exec_start: sh -c echo $((6 * 7)); exit 3" in actions and "exec_die" in actions
        died = client.events(since=since, until=int(time.time()) + 1, decode=True, filters={"event": "exec_die"})
        assert [event["Actor"]["Attributes"]["exitCode"] for event in died] == ["3"]
    finally:
        client.close()


def test_restart_policies_survive_a_daemon_killed_by_sigkill(tmp_path):
    """A restart=always container that exits while the daemon is down runs again when it comes back;
    an unless-stopped one that the user stopped stays stopped; a running one is adopted as it is."""
    from conftest import bootstrap_busybox  # the e2e conftest

    first = DockyardDaemon(str(tmp_path / "dy-policies"))
    bootstrap_busybox(first.data_root)
    first.start()
    second = None
    try:
        first.docker("run", "-d", "--name", "dy-always", "--restart", "always", "busybox", "sh", "-c",
                     "echo ran; sleep 1; exit 2")  # fmt: skip
        first.docker("run", "-d", "--name", "dy-unless", "--restart", "unless-stopped", "busybox", "sleep", "60")
        first.docker("run", "-d", "--name", "dy-steady", "--restart", "unless-stopped", "busybox", "sleep", "60")
        first.docker("stop", "-t", "1", "dy-unless")
        always_pid = _state(first, "dy-always")["Pid"]
        steady_pid = _state(first, "dy-steady")["Pid"]
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        _wait_for(lambda: not os.path.exists(f"/proc/{always_pid}"))  # dy-always exits while no daemon runs
        second = DockyardDaemon(first.base).start()
        _wait_for(lambda: _state(second, "dy-always")["Running"])
        assert _state(second, "dy-always")["Pid"] != always_pid
        assert json.loads(second.docker("inspect", "dy-always").stdout)[0]["RestartCount"] >= 1
        assert not _state(second, "dy-unless")["Running"]
        time.sleep(1)
        assert not _state(second, "dy-unless")["Running"]
        assert _state(second, "dy-steady")["Pid"] == steady_pid  # adopted, not restarted
        assert second.docker("logs", "dy-always").stdout.count("ran\n") >= 2
    finally:
        for daemon in (second, first):
            if daemon is not None:
                daemon.close()


def _leftovers(daemon) -> dict:
    """What a container leaves behind: records, files, snapshots, mounts, shims."""
    status, _, body = daemon.request("GET", "/v1.50/containers/json?all=1")
    assert status == 200
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split()[4] for line in f if daemon.base in line)
    shims = subprocess.run(["pgrep", "-f", f"shim.*{daemon.exec_root}"], capture_output=True, text=True).stdout
    return {
        "records": sorted(c["Id"] for c in json.loads(body)),
        "files": sorted(os.listdir(os.path.join(daemon.data_root, "containers"))),
        "snapshots": sorted(os.listdir(os.path.join(daemon.data_root, "overlay", "snapshots"))),
        "mounts": mounts,
        "shims": len(shims.split()),
    }


def _post(daemon, path: str, body) -> tuple[int, str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, answer = daemon.request("POST", f"/v1.50{path}", body=raw, headers={"Content-Type": "application/json"})
    return status, json.loads(answer)["message"] if answer.strip() else ""


def test_bad_input_gets_docker_s_status_and_leaves_nothing_behind(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-proof-idle", "busybox", "sleep", "60")
    before = _leftovers(d)
    cases = [
        ("/containers/create", b'{"Image": "busybox",', 400, "invalid JSON"),
        ("/containers/create", {"Image": "busybox", "Cmd": 5}, 400,
         "json: cannot unmarshal number into Go struct field Config.Cmd"),
        ("/containers/create", {"Image": "busybox", "HostConfig": {"Memory": "lots"}}, 400,
         "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"),
        ("/containers/create", {"Image": "dy-no-such:1"}, 404, "No such image: dy-no-such:1"),
        ("/containers/create", {"Image": "busybox", "HostConfig": {"Runtime": "dy-no-such"}}, 400,
         "unknown or invalid runtime name: dy-no-such"),
        ("/containers/create?name=dy-proof-idle", {"Image": "busybox"}, 409,
         'Conflict. The container name "/dy-proof-idle" is already in use'),
        ("/containers/create?name=bad%20name", {"Image": "busybox"}, 400, "Invalid container name (bad name)"),
        ("/containers/dy-proof-idle/kill", b"", 409, "is not running"),
        ("/containers/dy-proof-idle/kill?signal=NOSUCH", b"", 400, "Invalid signal: NOSUCH"),
        ("/containers/dy-proof-idle/exec", {"Cmd": ["true"]}, 409, "is not running"),
        ("/containers/dy-proof-idle/pause", b"", 409, "is not running"),
        ("/containers/dy-no-such/start", b"", 404, "No such container: dy-no-such"),
    ]  # fmt: skip
    for path, body, status, message in cases:
        assert _post(d, path, body)[0] == status, path
        assert message in _post(d, path, body)[1], path
    assert _leftovers(d) == before
    d.docker("start", "dy-proof-idle")
    assert _post(d, "/containers/dy-proof-idle/kill?signal=NOSUCH", b"") == (400, "Invalid signal: NOSUCH")
    assert _state(d, "dy-proof-idle")["Running"]
    # An exec that cannot start tells the attached client why, in its stream, and exits 126 (as dockerd).
    for flags in ([], ["-t"]):
        refused = d.docker("exec", *flags, "-u", "dy-no-user", "dy-proof-idle", "true", check=False)
        assert refused.returncode == 126
        assert "unable to find user dy-no-user: no matching entries in passwd file" in refused.stdout
    d.docker("rm", "-f", "dy-proof-idle")
    # A start that fails (a group the image does not have, a command it does not have) leaves no mount,
    # cgroup or shim for the container; the record stays, as under docker.
    d.docker("create", "--name", "dy-proof-nogroup", "--group-add", "dy-no-group", "busybox", "true")
    d.docker("create", "--name", "dy-proof-nocmd", "busybox", "dy-no-such-command")
    before = _leftovers(d)
    for name, message in (("dy-proof-nogroup", "unable to find group dy-no-group"),
                          ("dy-proof-nocmd", 'exec: "dy-no-such-command": executable file not found')):  # fmt: skip
        failed = d.docker("start", name, check=False)
        assert failed.returncode != 0 and message in failed.stderr
        assert _leftovers(d) == before
        container_id = json.loads(d.docker("inspect", name).stdout)[0]["Id"]
        assert glob.glob(f"/sys/fs/cgroup/*/dy-{container_id}*") == []
    assert _state(d, "dy-proof-nocmd")["ExitCode"] == 127
    d.docker("rm", "dy-proof-nogroup", "dy-proof-nocmd")
    assert d.request("GET", "/_ping")[0] == 200  # the daemon lived through all of it
