"""Containers run by runc through the docker CLI and docker-py, as by our own runtime: --runtime, daemon.json's
runtimes and default-runtime, and what dockerd refuses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import bootstrap_busybox, busybox_daemon_in
from support.cli import CLI
from support.daemon import DockyardDaemon
from support.terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")

PROMPT = r"/ # "
TRAP_TERM = "trap 'echo bye; exit 3' TERM; echo up; while true; do sleep 0.1; done"
# A second name for runc with an argument of its own: what daemon.json's "runtimes" gives.
CONFIGURED = {"runc-again": {"path": "runc", "runtimeArgs": ["--rootless=false"]}}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("dy-runtimes")
    (base / "daemon.json").write_text(json.dumps({"runtimes": CONFIGURED}))
    with busybox_daemon_in(base) as running:
        yield running


def inspect(daemon, name: str, template: str) -> str:
    return daemon.docker("inspect", "--format", template, name).stdout.strip()


@pytest.mark.parametrize(("client", "runtime"), [("docker", "runc"), ("docker", "runc-again"), ("dockyard", "runc")])
def test_run_with_runc_keeps_output_and_exit_code_and_inspect_names_the_runtime(daemon, client, runtime):
    cli = CLI(client, daemon)
    name = f"dy-rt-{client}-{runtime}"
    result = cli("run", "--runtime", runtime, "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
                 check=False)  # fmt: skip
    assert result.returncode == 3
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    logs = cli("logs", name)
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    assert inspect(daemon, name, "{{.HostConfig.Runtime}} {{.State.ExitCode}}") == f"{runtime} 3"
    daemon.docker("rm", name)
    # The runtime's state directory is the daemon's own, under its exec root, and nothing stays in it.
    assert os.listdir(os.path.join(daemon.exec_root, f"runtime-{runtime}")) == []


def test_the_default_runtime_is_recorded_at_create(daemon):
    daemon.docker("create", "--name", "dy-rt-default", "busybox", "true")
    try:
        assert inspect(daemon, "dy-rt-default", "{{.HostConfig.Runtime}}") == "dockyard"
    finally:
        daemon.docker("rm", "dy-rt-default")


def test_docker_info_lists_the_runtimes(daemon):
    client = daemon.client()
    try:
        info = client.info()
    finally:
        client.close()
    assert info["DefaultRuntime"] == "dockyard"
    assert info["Runtimes"]["runc"] == {"path": "runc"}
    assert info["Runtimes"]["runc-again"] == {"path": "runc", "runtimeArgs": ["--rootless=false"]}
    assert "dockyard" in info["Runtimes"]
    shown = daemon.docker("info", "--format", "{{range $name, $_ := .Runtimes}}{{$name}} {{end}}").stdout.split()
    assert shown == ["dockyard", "runc", "runc-again"]


def test_run_it_with_runc_is_a_terminal_that_resizes(daemon):
    argv = ["docker", "run", "-it", "--rm", "--runtime", "runc", "busybox", "sh"]
    with Terminal(argv, env=daemon.env, rows=30, columns=100) as term:
        term.expect(PROMPT)
        term.type("echo $((6 * 7)); tty; stty size\r")
        term.expect(r"42\r\n/dev/pts/0\r\n30 100\r\n")
        term.resize(20, 60)
        term.type("stty size\r")
        term.expect(r"20 60\r\n")
        term.type("exit 4\r")
        assert term.wait() == 4


def test_stdin_reaches_a_runc_container(daemon):
    result = daemon.docker("run", "-i", "--rm", "--runtime", "runc", "busybox", "sh", "-c", "read line; echo got $line",
                           input="typed\n")  # fmt: skip
    assert result.stdout == "got typed\n"


def test_exec_stop_kill_pause_top_and_stats_of_a_runc_container(daemon):
    daemon.docker("run", "-d", "--runtime", "runc", "--name", "dy-rt-life", "busybox", "sh", "-c", TRAP_TERM)
    try:
        assert daemon.docker("exec", "dy-rt-life", "sh", "-c", "echo in; exit 5", check=False).returncode == 5
        missing = daemon.docker("exec", "dy-rt-life", "no-such-command", check=False)
        assert missing.returncode == 127 and "executable file not found" in missing.stderr
        with Terminal(["docker", "exec", "-it", "dy-rt-life", "sh"], env=daemon.env) as term:
            term.expect(PROMPT)
            term.type("tty; exit 6\r")
            term.expect(r"/dev/pts/\d+")
            assert term.wait() == 6
        pid = int(inspect(daemon, "dy-rt-life", "{{.State.Pid}}"))
        top = daemon.docker("top", "dy-rt-life").stdout
        assert str(pid) in top.split()
        stats = json.loads(daemon.docker("stats", "--no-stream", "--format", "{{json .}}", "dy-rt-life").stdout)
        assert stats["PIDs"] != "0"
        daemon.docker("pause", "dy-rt-life")
        assert inspect(daemon, "dy-rt-life", "{{.State.Status}}") == "paused"
        assert _freezer_state(pid) == "frozen"
        daemon.docker("unpause", "dy-rt-life")
        assert _freezer_state(pid) == "thawed"
        daemon.docker("update", "--pids-limit", "64", "dy-rt-life")
        daemon.docker("stop", "dy-rt-life")
        assert inspect(daemon, "dy-rt-life", "{{.State.ExitCode}}") == "3"
        assert daemon.docker("logs", "dy-rt-life").stdout == "up\nbye\n"
        daemon.docker("start", "dy-rt-life")
        daemon.docker("kill", "dy-rt-life")
        assert daemon.docker("wait", "dy-rt-life").stdout.strip() == "137"
    finally:
        daemon.docker("rm", "-f", "dy-rt-life", check=False)


def _freezer_state(pid: int) -> str:
    """The freezer's word for the container's cgroup (v1 freezer.state, or v2 cgroup.freeze in v1's words)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, controllers, path in lines:
        if "freezer" in controllers.split(","):
            with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as state:
                return state.read().strip().lower()
    path = next(path for number, _, path in lines if number == "0")
    with open(f"/sys/fs/cgroup{path}/cgroup.freeze") as state:
        return "frozen" if state.read().strip() == "1" else "thawed"


@pytest.mark.parametrize(("command", "code"), [("no-such-command", 127), ("/etc/passwd", 126)])
def test_a_command_runc_cannot_exec_exits_as_dockerd_says(daemon, command, code):
    result = daemon.docker("run", "--rm", "--runtime", "runc", "busybox", command, check=False)
    assert result.returncode == code
    assert "failed to create the container process" in result.stderr


def test_oom_killed_and_restart_policy_with_runc(daemon):
    hog = "x=a; while true; do x=$x$x; done"
    daemon.docker("run", "--runtime", "runc", "--name", "dy-rt-oom", "--memory", "16m", "--memory-swap", "16m",
                  "busybox", "sh", "-c", hog, check=False)  # fmt: skip
    daemon.docker("run", "-d", "--runtime", "runc", "--name", "dy-rt-again", "--restart", "on-failure:2",
                  "busybox", "sh", "-c", "echo run; exit 1")  # fmt: skip
    try:
        assert inspect(daemon, "dy-rt-oom", "{{.State.OOMKilled}} {{.State.ExitCode}}") == "true 137"
        for _ in range(300):  # the first run and two restarts, each after a back-off (100 ms, 200 ms)
            if daemon.docker("logs", "dy-rt-again").stdout.count("run") == 3:
                break
            time.sleep(0.1)
        daemon.docker("wait", "dy-rt-again")  # the third run's exit, which no restart follows
        assert inspect(daemon, "dy-rt-again", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
        assert daemon.docker("logs", "dy-rt-again").stdout == "run\nrun\nrun\n"
    finally:
        daemon.docker("rm", "-f", "dy-rt-oom", "dy-rt-again", check=False)


def test_health_checks_run_through_runc(daemon):
    daemon.docker("run", "-d", "--runtime", "runc", "--name", "dy-rt-health", "--health-cmd", "echo probe; test -f /ok",
                  "--health-interval", "1s", "busybox", "sh", "-c", "touch /ok; sleep 60")  # fmt: skip
    try:
        for _ in range(300):  # the first probe comes after an interval
            if inspect(daemon, "dy-rt-health", "{{.State.Health.Status}}") != "starting":
                break
            time.sleep(0.1)
        health = json.loads(inspect(daemon, "dy-rt-health", "{{json .State.Health}}"))
        assert health["Status"] == "healthy"
        assert (health["Log"][0]["ExitCode"], health["Log"][0]["Output"]) == (0, "probe\n")
    finally:
        daemon.docker("rm", "-f", "dy-rt-health")


def test_docker_py_runs_with_a_runtime(daemon):
    client = daemon.client()
    try:
        output = client.containers.run("busybox", ["echo", "hi"], runtime="runc", name="dy-rt-py")
        container = client.containers.get("dy-rt-py")
        assert output == b"hi\n"
        assert container.attrs["HostConfig"]["Runtime"] == "runc"
        container.remove()
        with pytest.raises(Exception, match="unknown or invalid runtime name: nope") as refused:
            client.containers.create("busybox", ["true"], runtime="nope", name="dy-rt-nope")
        assert refused.value.response.status_code == 400
        assert not client.containers.list(all=True, filters={"name": "dy-rt-nope"})
    finally:
        client.close()


def test_an_unknown_runtime_is_a_400_and_leaves_nothing(daemon):
    result = daemon.docker("run", "--runtime", "nope", "--name", "dy-rt-bad", "busybox", "true", check=False)
    assert result.returncode == 125
    assert "unknown or invalid runtime name: nope" in result.stderr
    assert daemon.docker("ps", "-aq", "--filter", "name=dy-rt-bad").stdout == ""


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"default-runtime": "nope"}, "specified default runtime 'nope' does not exist"),
        ({"runtimes": {"runc": {"path": "/usr/sbin/runc"}}}, "runtime name 'runc' is reserved"),
        ({"runtimes": {"shim": {"runtimeType": "io.containerd.runsc.v1"}}}, "runtimeType (a containerd shim)"),
    ],
)
def test_the_daemon_refuses_to_start_with_a_bad_runtime_configuration(tmp_path, document, message):
    assert message in DockyardDaemon(str(tmp_path)).refused_start(document)[-1]


def test_default_runtime_runc_runs_plain_containers_and_they_survive_a_daemon_kill_9(tmp_path):
    first = DockyardDaemon(str(tmp_path / "dy-rt-restore"))
    os.makedirs(first.base)
    with open(os.path.join(first.base, "daemon.json"), "w") as f:
        json.dump({"default-runtime": "runc"}, f)
    bootstrap_busybox(first.data_root)
    first.start()
    second = None
    try:
        first.docker("run", "-d", "--name", "dy-rt-survivor", "busybox", "sh", "-c", TRAP_TERM)
        assert inspect(first, "dy-rt-survivor", "{{.HostConfig.Runtime}}") == "runc"
        state = subprocess.run(["runc", "--root", os.path.join(first.exec_root, "runtime-runc"), "list", "-q"],
                               capture_output=True, text=True, check=True)  # fmt: skip
        assert len(state.stdout.split()) == 1  # runc holds it, not our runtime
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        second = DockyardDaemon(first.base).start()
        assert second.docker("ps", "--format", "{{.Names}}").stdout.split() == ["dy-rt-survivor"]
        assert second.docker("exec", "dy-rt-survivor", "echo", "still").stdout == "still\n"
        second.docker("stop", "dy-rt-survivor")
        assert second.docker("wait", "dy-rt-survivor").stdout.strip() == "3"
        assert second.docker("logs", "dy-rt-survivor").stdout == "up\nbye\n"
    finally:
        for daemon in (second, first):
            if daemon is not None:
                daemon.close()
