"""The container lifecycle through dockyard-runtime's verbs, and what is left after failures."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest


def state_of(cli, container_id: str) -> dict:
    result = cli("state", container_id)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for_status(cli, container_id: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = state_of(cli, container_id)
        if state["status"] == status or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the container"
        time.sleep(0.02)


def cgroup_dirs(container_id: str) -> list[str]:
    return [
        os.path.join(base, name) for base, dirs, _ in os.walk("/sys/fs/cgroup") for name in dirs if name == container_id
    ]


def test_create_waits_for_start_then_runs_and_stops(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "echo started > /started"])
    assert cli("create", "--bundle", bundle.path, bundle.id).returncode == 0
    state = state_of(cli, bundle.id)
    assert state["status"] == "created" and state["pid"] > 0
    assert state["bundle"] == bundle.path and state["id"] == bundle.id
    time.sleep(0.1)
    assert not os.path.exists(os.path.join(bundle.rootfs, "started"))  # the process has not run yet
    assert cli("start", bundle.id).returncode == 0
    assert wait_for_status(cli, bundle.id, "stopped")["status"] == "stopped"
    assert Path(os.path.join(bundle.rootfs, "started")).read_text() == "started\n"
    assert cli("delete", bundle.id).returncode == 0
    assert cli("state", bundle.id).returncode != 0
    assert cgroup_dirs(bundle.id) == []


def test_kill_delivers_the_asked_signal(cli, make_bundle):
    script = 'trap "echo USR1 > /got; exit 3" USR1; touch /trapped; while true; do sleep 0.05; done'
    bundle = make_bundle(["sh", "-c", script])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    wait_until(lambda: os.path.exists(os.path.join(bundle.rootfs, "trapped")))  # sh has its trap
    assert cli("kill", bundle.id, "USR1").returncode == 0
    assert wait_for_status(cli, bundle.id, "stopped")["status"] == "stopped"
    assert Path(os.path.join(bundle.rootfs, "got")).read_text() == "USR1\n"


def test_kill_refuses_an_invalid_signal(cli, make_bundle):
    bundle = make_bundle(["sleep", "30"])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    result = cli("kill", bundle.id, "SIGNOPE")
    assert result.returncode == 1 and b"invalid signal" in result.stderr


def test_delete_refuses_a_running_container_unless_forced(cli, make_bundle):
    bundle = make_bundle(["sleep", "30"])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    pid = state_of(cli, bundle.id)["pid"]
    result = cli("delete", bundle.id)
    assert result.returncode == 1 and b"not stopped" in result.stderr
    assert cli("delete", "--force", bundle.id).returncode == 0
    assert not os.path.exists(f"/proc/{pid}/cmdline") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert cgroup_dirs(bundle.id) == []


def test_pause_freezes_and_resume_thaws(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "n=0; while true; do n=$((n+1)); echo $n > /tick; usleep 20000; done"])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    tick = os.path.join(bundle.rootfs, "tick")
    wait_until(lambda: os.path.exists(tick))
    assert cli("pause", bundle.id).returncode == 0
    assert state_of(cli, bundle.id)["status"] == "paused"
    frozen = Path(tick).read_text()
    time.sleep(0.3)
    assert Path(tick).read_text() == frozen
    assert cli("resume", bundle.id).returncode == 0
    assert state_of(cli, bundle.id)["status"] == "running"
    wait_until(lambda: Path(tick).read_text() != frozen)


def test_exec_joins_every_namespace_and_the_cgroup(cli, make_bundle, tmp_path):
    bundle = make_bundle(["sleep", "300"])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    init = state_of(cli, bundle.id)["pid"]
    pid_file = str(tmp_path / "exec.pid")
    result = cli("exec", "--detach", "--pid-file", pid_file, bundle.id, "sleep", "60")
    assert result.returncode == 0, result.stderr
    pid = int(Path(pid_file).read_text())
    for ns in ("pid", "net", "mnt", "ipc", "uts", "cgroup"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    assert Path(f"/proc/{pid}/cgroup").read_text() == Path(f"/proc/{init}/cgroup").read_text()
    ps = json.loads(cli("ps", "--format", "json", bundle.id).stdout)
    assert set(ps) == {init, pid}


def test_exec_returns_the_process_exit_status(cli, make_bundle):
    bundle = make_bundle(["sleep", "300"])
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    result = cli("exec", bundle.id, "sh", "-c", "echo in $(hostname); exit 7")
    assert result.returncode == 7
    assert result.stdout == b"in dockyard\n"
    process = {"args": ["sh", "-c", "echo $FOO; pwd"], "env": ["FOO=bar"], "cwd": "/tmp"}
    path = os.path.join(bundle.path, "process.json")
    with open(path, "w") as f:
        json.dump(process, f)
    result = cli("exec", "--process", path, bundle.id)
    assert (result.returncode, result.stdout) == (0, b"bar\n/tmp\n")


def test_run_returns_the_exit_status(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "exit 42"])
    assert cli("run", "--bundle", bundle.path, bundle.id).returncode == 42


def test_terminal_is_allocated_and_sent_over_the_console_socket(cli, make_bundle, tmp_path):
    bundle = make_bundle(["sh", "-c", "tty; stty size"])
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    bundle.write()
    path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        result = cli("create", "--console-socket", path, "--bundle", bundle.path, bundle.id)
        assert result.returncode == 0, result.stderr
        connection, _ = listener.accept()
        _msg, fds, _flags, _addr = socket.recv_fds(connection, 1024, 1)
        connection.close()
        master = fds[0]
        assert cli("start", bundle.id).returncode == 0
        output = b""
        while True:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.close(master)
    finally:
        listener.close()
    assert output.split() == [b"/dev/pts/0", b"30", b"100"]


def test_hooks_run_in_order_with_the_state_on_stdin(cli, make_bundle, tmp_path):
    log = tmp_path / "hooks.log"
    bundle = make_bundle(["true"])
    hooks = {}
    for kind in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"):
        script = f'read state; echo "{kind} $state" >> {log}'
        hooks[kind] = [{"path": "/bin/sh", "args": ["sh", "-c", script]}]
    # createContainer and startContainer run in the container, which sees the log through this bind.
    bundle.config["mounts"].append({"destination": str(tmp_path), "source": str(tmp_path), "options": ["rbind"]})
    bundle.config["hooks"] = hooks
    bundle.write()
    result = cli("run", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    kinds = [line.split()[0] for line in lines]
    assert kinds == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    for line in lines:
        state = json.loads(line.split(" ", 1)[1])
        assert state["id"] == bundle.id and state["bundle"] == bundle.path


def test_a_failing_prestart_hook_fails_create_and_leaves_nothing(cli, make_bundle, runtime_root):
    bundle = make_bundle(["true"])
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    bundle.write()
    result = cli("create", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 1 and b"prestart[0] /bin/false exited with status 1" in result.stderr
    assert_nothing_left(runtime_root, bundle.id)


def test_a_hook_that_hangs_is_stopped_by_its_timeout(cli, make_bundle, runtime_root):
    bundle = make_bundle(["true"])
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    bundle.write()
    result = cli("create", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 1 and b"timed out after 1s" in result.stderr
    assert_nothing_left(runtime_root, bundle.id)


def assert_nothing_left(runtime_root: str, container_id: str) -> None:
    assert not os.path.exists(os.path.join(runtime_root, container_id))
    assert cgroup_dirs(container_id) == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert container_id not in mounts


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["process"].update(args="sh"), b"process.args: must be a non-empty list of strings"),
        (lambda c: c["process"].update(cwd="relative"), b"process.cwd: must be an absolute path"),
        (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), b"linux.namespaces[6].type"),
        (lambda c: c["mounts"][0].update(destination=3), b"mounts[0].destination: must be a string"),
        (lambda c: c["process"]["capabilities"].update(effective=["CAP_FLY"]), b"unknown capability 'CAP_FLY'"),
        (lambda c: c["root"].update(path="missing"), b"root.path: rootfs"),
        (lambda c: c["process"].update(cwd="/no/such/dir"), b"chdir to cwd ('/no/such/dir')"),
        (lambda c: c["process"].update(args=["no-such-binary"]), b"executable file not found in $PATH"),
        (lambda c: c["process"].update(args=["/etc/passwd"]), b"permission denied"),
        (
            lambda c: (
                c["linux"]["namespaces"].append({"type": "user"}),
                c["linux"].update(
                    uidMappings=[{"containerID": 0, "hostID": 100000, "size": 1000}],
                    gidMappings=[{"containerID": 0, "hostID": 100000, "size": 1000}],
                ),
                c["process"]["user"].update(uid=5000),
            ),
            b"process.user.uid: uid 5000 is not mapped",
        ),
    ],
)
def test_bad_config_is_a_one_line_error_and_leaves_nothing(cli, make_bundle, runtime_root, change, message):
    bundle = make_bundle(["true"])
    change(bundle.config)
    bundle.write()
    result = cli("create", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert_nothing_left(runtime_root, bundle.id)


def test_malformed_json_is_reported(cli, bundle):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write("{not json")
    result = cli("create", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 1 and b"invalid JSON" in result.stderr


def test_duplicate_and_unknown_ids_are_refused(cli, make_bundle):
    bundle = make_bundle(["sleep", "30"])
    assert cli("create", "--bundle", bundle.path, bundle.id).returncode == 0
    result = cli("create", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 1 and b"already exists" in result.stderr
    assert state_of(cli, bundle.id)["status"] == "created"  # the first one is untouched
    for verb in ("state", "start", "kill", "delete", "pause"):
        result = cli(verb, "dy-test-nobody")
        assert result.returncode == 1 and b"does not exist" in result.stderr, verb


def test_errors_are_logged_as_json_when_asked(cli, bundle, tmp_path):
    log = tmp_path / "runtime.log"
    result = cli("--log", str(log), "--log-format", "json", "state", "dy-test-nobody")
    assert result.returncode == 1
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["level"] == "error" and "does not exist" in record["msg"]


def test_list_shows_containers_and_their_status(cli, make_bundle):
    bundle = make_bundle(["sleep", "30"])
    assert cli("create", "--bundle", bundle.path, bundle.id).returncode == 0
    listed = json.loads(cli("list", "--format", "json").stdout)
    assert [(s["id"], s["status"]) for s in listed] == [(bundle.id, "created")]
    assert cli("list", "-q").stdout.decode().split() == [bundle.id]


def test_delete_refuses_a_created_container_unless_forced(cli, make_bundle):
    bundle = make_bundle(["true"])
    assert cli("create", "--bundle", bundle.path, bundle.id).returncode == 0
    result = cli("delete", bundle.id)
    assert result.returncode == 1 and b"not stopped: created" in result.stderr
    assert state_of(cli, bundle.id)["status"] == "created"
    assert cli("delete", "--force", bundle.id).returncode == 0


def test_a_config_without_process_creates_but_cannot_start(cli, make_bundle):
    bundle = make_bundle(["true"])
    del bundle.config["process"]
    bundle.write()
    assert cli("create", "--bundle", bundle.path, bundle.id).returncode == 0
    result = cli("start", bundle.id)
    assert result.returncode == 1 and b"has no process to start" in result.stderr


def test_failing_poststop_hooks_warn_and_the_rest_still_run(cli, make_bundle, tmp_path):
    log = tmp_path / "poststop.log"
    bundle = make_bundle(["true"])
    bundle.config["hooks"] = {
        "poststop": [
            {"path": "/bin/false"},
            {"path": "/bin/sh", "args": ["sh", "-c", f"echo second >> {log}"]},
        ]
    }
    bundle.write()
    result = cli("run", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    assert b"warning: hook poststop[0] /bin/false exited with status 1" in result.stderr
    assert log.read_text() == "second\n"


def test_without_a_mount_namespace_the_root_is_a_chroot(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "ls /bin/busybox > /seen; exec sleep 30"])
    bundle.config["linux"]["namespaces"] = [ns for ns in bundle.config["linux"]["namespaces"] if ns["type"] != "mount"]
    # Mounts would land in the host's own namespace: ask for none.
    bundle.config["mounts"] = []
    bundle.config["linux"]["maskedPaths"] = bundle.config["linux"]["readonlyPaths"] = []
    bundle.write()
    result = cli("run", "--detach", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    pid = state_of(cli, bundle.id)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/root") == bundle.rootfs
    seen = Path(bundle.rootfs, "seen")
    wait_until(lambda: seen.exists() and seen.read_text() == "/bin/busybox\n")


def test_a_config_without_linux_namespaces_runs_in_the_runtime_namespaces(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "echo $$ > /pid"])
    bundle.config["linux"] = {}
    bundle.config["mounts"] = []
    bundle.config["hostname"] = ""
    bundle.write()
    result = cli("run", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    assert int(Path(bundle.rootfs, "pid").read_text()) > 1  # the host's pid namespace: not pid 1
