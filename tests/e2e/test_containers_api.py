"""The container lifecycle through the real docker CLI 28 and docker-py: run, logs, stop, kill, wait, rm,
inspect; exit codes scripts rely on; bad input; and live restore across a kill -9 of the daemon."""

from __future__ import annotations

import json
import os
import signal
import time

import docker.errors
import pytest

from support.cli import Driven
from support.daemon import DockyardDaemon
from support.swagger import validate

TRAP_TERM = 'trap "echo got TERM; exit 3" TERM; echo up; while true; do sleep 0.1; done'


@pytest.fixture
def dy(busybox_daemon, cli):
    """The module's daemon driven by the docker CLI or dockyard's."""
    return Driven(busybox_daemon, cli)


def test_run_prints_the_output_and_exits_with_the_container_s_code(dy):
    result = dy.docker("run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 7",
                                   check=False)  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (7, "to-out\n", "to-err\n")
    assert dy.docker("ps", "-aq").stdout == ""  # --rm removed it


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        (["nosuchcommand"], 127, 'exec: "nosuchcommand": executable file not found in $PATH'),
        (["/etc/passwd"], 126, "permission denied"),
    ],
)
def test_a_command_that_cannot_run_gives_docker_s_exit_codes(dy, command, code, message):
    result = dy.docker("run", "--rm", "busybox", *command, check=False)
    assert result.returncode == code
    assert message in result.stderr


def test_detached_logs_stop_and_inspect(dy):
    container = dy.docker("run", "-d", "--name", "dy-long", "busybox", "sh", "-c", TRAP_TERM).stdout.strip()
    assert len(container) == 64
    deadline = time.monotonic() + 10
    while "up" not in dy.docker("logs", "dy-long").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    listed = dy.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert listed.startswith("dy-long Up ")
    inspected = json.loads(dy.docker("inspect", "dy-long").stdout)[0]
    assert inspected["State"]["Running"] and inspected["State"]["Pid"] > 0
    assert os.path.exists(f"/proc/{inspected['State']['Pid']}")
    dy.docker("stop", "dy-long")
    state = json.loads(dy.docker("inspect", "dy-long").stdout)[0]["State"]
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 3, False)
    assert dy.docker("logs", "dy-long").stdout == "up\ngot TERM\n"
    assert dy.docker("logs", "--tail", "1", "dy-long").stdout == "got TERM\n"
    stamped = dy.docker("logs", "-t", "dy-long").stdout.splitlines()[0]
    assert stamped.endswith(" up") and stamped[:4].isdigit()
    dy.docker("rm", "dy-long")


def test_kill_wait_and_rm(dy):
    dy.docker("run", "-d", "--name", "dy-victim", "busybox", "sleep", "60")
    refused = dy.docker("rm", "dy-victim", check=False)
    assert refused.returncode == 1 and "container is running" in refused.stderr
    dy.docker("kill", "--signal", "KILL", "dy-victim")
    assert dy.docker("wait", "dy-victim").stdout.strip() == "137"
    again = dy.docker("kill", "dy-victim", check=False)
    assert again.returncode == 1 and "is not running" in again.stderr
    dy.docker("rm", "dy-victim")
    missing = dy.docker("rm", "dy-victim", check=False)
    assert missing.returncode == 1 and "No such container: dy-victim" in missing.stderr


def test_the_inspect_and_list_shapes_follow_the_swagger(dy):
    dy.docker("create", "--name", "dy-shape", "--label", "tier=web", "busybox", "true")
    status, _, body = dy.request("GET", "/v1.50/containers/dy-shape/json")
    assert status == 200
    validate(json.loads(body), "ContainerInspectResponse", version="1.50")
    status, _, body = dy.request("GET", "/v1.50/containers/json?all=1")
    for summary in json.loads(body):
        validate(summary, "ContainerSummary", version="1.50")
    labelled = dy.docker("ps", "-a", "--filter", "label=tier=web", "--format", "{{.Names}}").stdout
    assert labelled.split() == ["dy-shape"]
    dy.docker("rm", "dy-shape")


def test_bad_input_is_refused_and_creates_nothing(dy):
    before = dy.docker("ps", "-aq").stdout
    cases = [
        (["create", "no-such-image:1"], "Unable to find image 'no-such-image:1' locally"),
        (["create", "--name", "bad name!", "busybox"], "Invalid container name"),
        (["create", "--cap-add", "CAP_FLYING", "busybox"], "unknown capability"),
    ]
    for args, message in cases:
        result = dy.docker(*args, check=False)
        assert result.returncode != 0 and message in result.stderr, result.stderr
    dy.docker("create", "--name", "dy-taken", "busybox")
    taken = dy.docker("create", "--name", "dy-taken", "busybox", check=False)
    assert 'The container name "/dy-taken" is already in use' in taken.stderr
    dy.docker("rm", "dy-taken")
    assert dy.docker("ps", "-aq").stdout == before


def test_docker_py_runs_containers(dy):
    client = dy.client()
    try:
        assert client.containers.run("busybox", ["echo", "hi from docker-py"], remove=True) == b"hi from docker-py\n"
        container = client.containers.run("busybox", ["sh", "-c", "echo bye; exit 4"], detach=True)
        assert container.wait()["StatusCode"] == 4
        assert container.logs() == b"bye\n"
        container.reload()
        assert container.status == "exited"
        container.remove()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container.id)
        with pytest.raises(docker.errors.ImageNotFound):
            client.containers.run("nothing-here:1", ["true"])
        with pytest.raises(docker.errors.ContainerError):
            client.containers.run("busybox", ["sh", "-c", "exit 2"], remove=True)
    finally:
        client.close()


def test_live_restore_after_kill_9(tmp_path):
    from conftest import bootstrap_busybox  # the e2e conftest

    first = DockyardDaemon(str(tmp_path / "dy-restore"))
    bootstrap_busybox(first.data_root)
    first.start()
    try:
        first.docker("run", "-d", "--name", "dy-survivor", "busybox", "sh", "-c", TRAP_TERM)
        first.docker("run", "-d", "--name", "dy-quick", "busybox", "sh", "-c", "sleep 1; exit 5")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        time.sleep(1.5)  # dy-quick exits while no daemon runs
        second = DockyardDaemon(first.base).start()
        assert second.docker("ps", "--format", "{{.Names}}").stdout.split() == ["dy-survivor"]
        assert second.docker("inspect", "--format", "{{.State.ExitCode}}", "dy-quick").stdout.strip() == "5"
        assert "up" in second.docker("logs", "dy-survivor").stdout
        second.docker("stop", "dy-survivor")
        assert second.docker("wait", "dy-survivor").stdout.strip() == "3"
        second.docker("rm", "dy-survivor", "dy-quick")
    finally:
        for daemon in (locals().get("second"), first):
            if daemon is not None:
                daemon.close()


def test_without_live_restore_a_shutdown_stops_containers_and_a_crash_leaves_none_running(tmp_path):
    """dockerd's behaviour without --live-restore: a clean stop stops the containers (restart policies
    bring theirs back with the daemon); after a kill -9, those still running are killed at the next start."""
    from conftest import bootstrap_busybox  # the e2e conftest

    daemon = DockyardDaemon(str(tmp_path / "dy-no-restore"), "--live-restore=false")
    bootstrap_busybox(daemon.data_root)
    daemon.start()
    try:
        assert daemon.docker("info", "--format", "{{.LiveRestoreEnabled}}").stdout.strip() == "false"
        daemon.docker("run", "-d", "--name", "dy-plain", "busybox", "sh", "-c", TRAP_TERM)
        daemon.docker("run", "-d", "--name", "dy-always", "--restart", "always", "busybox", "sleep", "600")
        pids = [daemon.docker("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
                for name in ("dy-plain", "dy-always")]  # fmt: skip
        daemon.stop()
        assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)
        daemon.start()
        assert daemon.docker("inspect", "--format", "{{.State.ExitCode}}", "dy-plain").stdout.strip() == "3"
        assert daemon.docker("ps", "--format", "{{.Names}}").stdout.split() == ["dy-always"]
        survivor = daemon.docker("inspect", "--format", "{{.State.Pid}}", "dy-always").stdout.strip()
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
        daemon.start()  # the crash left dy-always running: killed now, then restarted by its policy
        assert not os.path.exists(f"/proc/{survivor}")
    finally:
        daemon.close()


def test_pause_rename_top_diff_commit_export_and_prune(dy, tmp_path):
    d = dy
    d.docker("run", "-d", "--name", "dy-work", "busybox", "sh", "-c",
             "echo hi > /greeting; rm /bin/ls; while true; do sleep 0.1; done")  # fmt: skip
    deadline = time.monotonic() + 10
    while "/greeting" not in d.docker("diff", "dy-work").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(d.docker("diff", "dy-work").stdout.splitlines()) == ["A /greeting", "C /bin", "D /bin/ls"]
    top = d.docker("top", "dy-work").stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep" in line or "sh -c" in line for line in top[1:])
    d.docker("pause", "dy-work")
    assert d.docker("inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "dy-work").stdout.strip() == (
        "paused true"
    )
    d.docker("unpause", "dy-work")
    d.docker("rename", "dy-work", "dy-renamed")
    assert d.docker("ps", "--format", "{{.Names}}").stdout.split() == ["dy-renamed"]
    image_id = d.docker("commit", "-c", "ENV COMMITTED=yes", "dy-renamed", "dy-committed:1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert d.docker("run", "--rm", "dy-committed:1", "sh", "-c", "cat /greeting; echo $COMMITTED; ls /bin/ls",
                    check=False).stdout == "hi\nyes\n"  # fmt: skip
    exported = tmp_path / "export.tar"
    d.docker("export", "-o", str(exported), "dy-renamed")
    import tarfile

    with tarfile.open(exported) as tar:
        names = set(tar.getnames())
    assert "greeting" in names and "bin/busybox" in names and "bin/ls" not in names
    d.docker("kill", "dy-renamed")
    d.docker("create", "--name", "dy-idle", "busybox", "true")
    pruned = d.docker("container", "prune", "-f").stdout
    assert "Total reclaimed space" in pruned
    assert d.docker("ps", "-aq").stdout == ""
    d.docker("rmi", "dy-committed:1")


def test_exec_runs_in_the_container_with_its_environment_and_exit_codes(dy):
    d = dy
    d.docker("run", "-d", "--name", "dy-exec", "-e", "FROM_RUN=1", "busybox", "sleep", "60")
    result = d.docker("exec", "dy-exec", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
    shown = d.docker("exec", "-e", "EXTRA=2", "-w", "/tmp", "-u", "nobody", "dy-exec", "sh", "-c",
                     "echo $FROM_RUN $EXTRA; pwd; id -u; cat /proc/1/cmdline | tr '\\0' ' '").stdout  # fmt: skip
    assert shown.splitlines() == ["1 2", "/tmp", "65534", "sleep 60 "]
    missing = d.docker("exec", "dy-exec", "nosuchcommand", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    assert d.docker("exec", "-d", "dy-exec", "touch", "/detached").returncode == 0
    deadline = time.monotonic() + 10
    while (
        d.docker("exec", "dy-exec", "test", "-e", "/detached", check=False).returncode and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    client = d.client()
    try:
        container = client.containers.get("dy-exec")
        code, output = container.exec_run(["sh", "-c", "echo via docker-py; exit 3"])
        assert (code, output) == (3, b"via docker-py\n")
    finally:
        client.close()
    d.docker("rm", "-f", "dy-exec")
    stopped = d.docker("exec", "dy-exec", "true", check=False)
    assert stopped.returncode == 1 and "No such container" in stopped.stderr


def test_shims_come_from_the_template_and_starts_survive_its_death(dy):
    d = dy
    marker = f"-m dockyard.runtime.shim_template {d.exec_root}/"
    template = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]
    assert len(template) == 1, "the daemon runs one shim template"
    assert d.docker("run", "--rm", "busybox", "echo", "forked").stdout == "forked\n"
    os.kill(template[0], signal.SIGKILL)  # ours: the daemon under test started it
    assert d.docker("run", "--rm", "busybox", "echo", "after the template died").stdout == "after the template died\n"


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_docker_cp_both_ways_running_and_stopped(dy, tmp_path):
    d = dy
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("hello\n")
    (source / "link").symlink_to("sub/f.txt")
    d.docker("run", "-d", "--name", "dy-cp", "busybox", "sleep", "60")
    d.docker("cp", str(source), "dy-cp:/tmp/")
    assert d.docker("exec", "dy-cp", "cat", "/tmp/in/sub/f.txt").stdout == "hello\n"
    assert d.docker("exec", "dy-cp", "readlink", "/tmp/in/link").stdout == "sub/f.txt\n"
    d.docker("cp", "dy-cp:/tmp/in", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "f.txt").read_text() == "hello\n"
    assert os.readlink(tmp_path / "out" / "link") == "sub/f.txt"
    missing = d.docker("cp", "dy-cp:/nope", str(tmp_path / "x"), check=False)
    assert missing.returncode == 1 and "Could not find the file /nope in container dy-cp" in missing.stderr
    d.docker("kill", "dy-cp")
    (tmp_path / "late.txt").write_text("while stopped\n")
    d.docker("cp", str(tmp_path / "late.txt"), "dy-cp:/")
    d.docker("cp", "dy-cp:/late.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "while stopped\n"
    escape = d.docker("cp", str(tmp_path / "late.txt"), "dy-cp:/no/such/dir/", check=False)
    assert escape.returncode == 1
    d.docker("rm", "dy-cp")


def _wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_restart_policies(dy):
    d = dy

    def state(name: str) -> dict:
        return json.loads(d.docker("inspect", name).stdout)[0]

    d.docker("run", "-d", "--name", "dy-flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
    _wait_for(lambda: state("dy-flaky")["RestartCount"] == 2 and not state("dy-flaky")["State"]["Running"]
              and state("dy-flaky")["State"]["Status"] == "exited")  # fmt: skip
    time.sleep(1)  # no third run: the policy allows two restarts
    assert state("dy-flaky")["RestartCount"] == 2 and state("dy-flaky")["State"]["ExitCode"] == 3
    assert d.docker("logs", "dy-flaky").stdout == "run\nrun\nrun\n"
    d.docker("run", "-d", "--name", "dy-always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 1")
    _wait_for(lambda: state("dy-always")["RestartCount"] >= 2)
    d.docker("stop", "dy-always")
    stopped_at = state("dy-always")["RestartCount"]
    time.sleep(1.5)
    assert state("dy-always")["RestartCount"] == stopped_at and not state("dy-always")["State"]["Running"]
    conflict = d.docker("run", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert conflict.returncode != 0 and "cannot specify both --restart and --rm" in conflict.stderr
    d.docker("rm", "-f", "dy-flaky", "dy-always")


def test_logs_rotate_and_read_across_the_files(dy):
    d = dy
    d.docker("run", "--name", "dy-chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox",
             "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done")  # fmt: skip
    log_path = json.loads(d.docker("inspect", "dy-chatty").stdout)[0]["LogPath"]
    kept = sorted(name for name in os.listdir(os.path.dirname(log_path)) if name.startswith(os.path.basename(log_path)))
    assert len(kept) == 3  # the current file and two rotated ones; the oldest lines are gone
    assert all(os.path.getsize(os.path.join(os.path.dirname(log_path), name)) < 2200 for name in kept)
    lines = d.docker("logs", "dy-chatty").stdout.splitlines()
    assert lines[-1] == "line-399" and 20 < len(lines) < 400
    assert lines == [f"line-{n}" for n in range(400 - len(lines), 400)]  # in order, across the files
    d.docker("rm", "dy-chatty")
    bad = d.docker("run", "--log-opt", "max-size=lots", "busybox", "true", check=False)
    assert bad.returncode != 0 and "invalid size: 'lots'" in bad.stderr


def test_health_checks_go_from_starting_to_unhealthy_to_healthy(dy):
    d = dy
    d.docker("run", "-d", "--name", "dy-health", "--health-cmd", "test -e /tmp/ok", "--health-interval", "300ms",
             "--health-retries", "2", "busybox", "sh", "-c", "sleep 2; touch /tmp/ok; sleep 60")  # fmt: skip

    def health() -> dict:
        return json.loads(d.docker("inspect", "dy-health").stdout)[0]["State"]["Health"]

    seen = set()
    deadline = time.monotonic() + 20
    while "healthy" not in seen:
        assert time.monotonic() < deadline, f"health went through {seen}"
        seen.add(health()["Status"])
        time.sleep(0.1)
    assert {"starting", "unhealthy", "healthy"} <= seen
    final = health()
    assert final["FailingStreak"] == 0 and final["Log"][-1]["ExitCode"] == 0 and len(final["Log"]) <= 5
    assert d.docker("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout.split() == ["dy-health"]
    assert d.docker("ps", "--format", "{{.Status}}", "--filter", "name=dy-health").stdout.strip().endswith("(healthy)")
    d.docker("rm", "-f", "dy-health")


def test_what_docker_py_s_own_suite_expects(dy):
    """Behaviours docker-py's integration suite relies on (see the note in docs/engine.md)."""
    d = dy
    client = d.client()
    try:
        # -i without attach: stdin stays open, so `cat` waits instead of exiting at once.
        cat = client.containers.run("busybox", ["cat"], stdin_open=True, detach=True)
        time.sleep(0.5)
        cat.reload()
        assert cat.status == "running"
        # kill with SIGKILL returns once the container is gone, as docker's does.
        cat.kill()
        cat.reload()
        assert (cat.status, cat.attrs["State"]["ExitCode"]) == ("exited", 137)
        cat.remove()
        # AutoRemove without any RestartPolicy is no conflict.
        assert client.containers.run("busybox", ["true"], auto_remove=True, detach=True).wait()["StatusCode"] == 0
    finally:
        client.close()
    status, _, body = d.request("GET", "/v1.50/no/such/endpoint")
    assert (status, json.loads(body)) == (404, {"message": "page not found"})


def test_stats_one_shot_and_streamed(dy):
    d = dy
    d.docker("run", "-d", "--name", "dy-stats", "-m", "64m", "busybox", "sleep", "60")
    status, _, body = d.request("GET", "/v1.50/containers/dy-stats/stats?stream=false")
    assert status == 200
    sample = json.loads(body)
    validate(sample, "ContainerStatsResponse", version="1.50")
    assert sample["memory_stats"]["limit"] == 64 * 1024 * 1024 and sample["pids_stats"]["current"] == 1
    again = json.loads(d.request("GET", "/v1.50/containers/dy-stats/stats?stream=false")[2])
    assert again["preread"] == sample["read"]  # the previous sample is kept: no second-long wait
    shown = d.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "dy-stats").stdout
    assert shown.startswith("dy-stats ") and shown.split()[-1] == "1" and "64MiB" in shown
    d.docker("rm", "-f", "dy-stats")


def test_update_changes_limits_live_and_the_restart_policy(dy):
    d = dy
    d.docker("run", "-d", "--name", "dy-update", "-m", "64m", "busybox", "sleep", "60")
    d.docker("update", "-m", "96m", "--memory-swap", "-1", "--pids-limit", "50", "--restart", "on-failure:3",
             "dy-update")  # fmt: skip
    inspected = json.loads(d.docker("inspect", "dy-update").stdout)[0]["HostConfig"]
    assert inspected["Memory"] == 96 * 1024 * 1024 and inspected["PidsLimit"] == 50
    assert inspected["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    sample = json.loads(d.request("GET", "/v1.50/containers/dy-update/stats?stream=false")[2])
    assert sample["memory_stats"]["limit"] == 96 * 1024 * 1024  # the running container's cgroup changed
    bad = d.docker("update", "--restart", "sometimes", "dy-update", check=False)
    assert bad.returncode != 0
    d.docker("rm", "-f", "dy-update")


def test_events_replay_and_filter(dy):
    d = dy
    # The scenario runs once per CLI on one daemon: the other run's events must fall before the window.
    time.sleep(2.1)
    since = str(int(time.time()) - 1)
    d.docker("run", "--name", "dy-events", "--label", "watch=me", "busybox", "true")
    d.docker("tag", "busybox", "dy-events-tag:1")
    d.docker("rm", "dy-events")
    d.docker("rmi", "dy-events-tag:1")
    until = str(int(time.time()) + 1)
    shown = d.docker("events", "--since", since, "--until", until, "--filter", "container=dy-events",
                     "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()  # fmt: skip
    # As dockerd 20.10 shows them for a `docker run` in the foreground, which attaches before the start.
    assert shown == [f"container {action} dy-events" for action in ("create", "attach", "start", "die", "destroy")]
    images = d.docker("events", "--since", since, "--until", until, "--filter", "type=image",
                      "--format", "{{.Action}}").stdout.split()  # fmt: skip
    assert images == ["tag", "untag"]
    labelled = d.docker("events", "--since", since, "--until", until, "--filter", "label=watch=me",
                        "--format", "{{.Action}}").stdout.split()  # fmt: skip
    assert labelled == ["create", "attach", "start", "die", "destroy"]


def test_containers_get_a_seccomp_filter_unless_privileged_or_unconfined(dy):
    d = dy

    def seccomp(*options: str) -> str:
        shown = d.docker("run", "--rm", *options, "busybox", "grep", "^Seccomp:", "/proc/self/status").stdout
        return shown.split()[1]

    assert seccomp() == "2"  # filter mode
    assert seccomp("--security-opt", "seccomp=unconfined") == "0"
    assert seccomp("--privileged") == "0"
    refused = d.docker("run", "--rm", "busybox", "unshare", "-n", "true", check=False)
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr
    assert d.docker("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "unshare", "-n", "true").returncode == 0


def test_sizes_and_system_df(dy):
    d = dy
    d.docker("run", "--name", "dy-sized", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /blob")
    sized = d.docker("ps", "-a", "-s", "--filter", "name=dy-sized", "--format", "{{.Size}}").stdout.strip()
    assert sized.startswith("3") and "kB" in sized and "virtual" in sized  # e.g. "303kB (virtual 2.33MB)"
    inspected = json.loads(d.request("GET", "/v1.50/containers/dy-sized/json?size=1")[2])
    assert inspected["SizeRw"] >= 300000 and inspected["SizeRootFs"] > inspected["SizeRw"]
    status, _, body = d.request("GET", "/v1.50/system/df")
    assert status == 200
    usage = json.loads(body)
    assert usage["LayersSize"] > 0 and any(c["Names"] == ["/dy-sized"] for c in usage["Containers"])
    table = d.docker("system", "df").stdout
    assert table.splitlines()[0].split()[:2] == ["TYPE", "TOTAL"] and "Containers" in table
    d.docker("rm", "dy-sized")


def test_an_image_a_running_container_uses_cannot_be_forced_out(dy):
    d = dy
    d.docker("run", "-d", "--name", "dy-user", "busybox", "sleep", "60")
    image_id = d.docker("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip()
    refused = d.docker("rmi", "-f", image_id, check=False)
    assert refused.returncode == 1
    assert "(cannot be forced) - image is being used by running container" in refused.stderr
    assert d.docker("image", "inspect", "--format", "{{.Id}}", "busybox").stdout.strip() == image_id
    d.docker("rm", "-f", "dy-user")
