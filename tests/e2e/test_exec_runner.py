"""docker exec's process forked by the shim template, and its runner (dockyard.runtime.exec_process) when the
template cannot fork it: the same pipes."""

from __future__ import annotations

import json
import os
import signal
import time

from dockyard.services.shims import ShimLauncher


def test_the_runner_as_a_new_interpreter_reports_pid_then_code_and_writes_the_output(busybox_daemon, tmp_path):
    d = busybox_daemon
    container = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    try:
        with open(os.path.join(d.exec_root, "containers", container, "config.json")) as f:
            spec = json.load(f)
        process = {**spec["process"], "args": ["sh", "-c", "echo out; echo err >&2; read line; exit 5"]}
        request = {"root": os.path.join(d.exec_root, "runtime"), "id": container, "process": process}
        status_r, status_w = os.pipe()
        stdin_r, stdin_w = os.pipe()
        runner = ShimLauncher(d.exec_root, template=False)  # the daemon's way when its template is unreachable
        with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
            runner.launch_exec(request, stdin_r, out.fileno(), err.fileno(), status_w)
        os.close(status_w)
        os.close(stdin_r)
        with os.fdopen(status_r, "rb") as status:
            pid = json.loads(status.readline())["pid"]
            # The pid is the process's own (what exec inspect shows), in the container's pid namespace.
            init = json.loads(d.docker("inspect", container).stdout)[0]["State"]["Pid"]
            assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{init}/ns/pid")
            assert os.readlink(f"/proc/{pid}/exe").endswith("busybox")
            with open(f"/proc/{_parent(pid)}/cmdline", "rb") as f:  # the runner's: no request (env) for ps to show
                runner_command = f.read()
            assert b"exec_process" in runner_command and b"echo out" not in runner_command
            os.close(stdin_w)  # its `read` ends
            lines = [json.loads(line) for line in status.read().splitlines()]  # until the runner is done
        assert lines == [{"code": 5}]
        assert (tmp_path / "out").read_bytes() == b"out\n" and (tmp_path / "err").read_bytes() == b"err\n"
        request["id"] = "no-such-container"
        status_r, status_w = os.pipe()
        with open(os.devnull, "r+b") as nothing:
            runner.launch_exec(request, nothing.fileno(), nothing.fileno(), nothing.fileno(), status_w)
        os.close(status_w)
        with os.fdopen(status_r, "rb") as status:
            failure = [json.loads(line) for line in status.read().splitlines()][-1]
        assert "no-such-container" in failure["error"]
    finally:
        d.docker("rm", "-f", container)


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def _exec_inspect(d, exec_id: str) -> dict:
    return json.loads(d.request("GET", f"/exec/{exec_id}/json")[2])


def _eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_the_exec_process_is_the_template_s_own_child_and_is_reaped_once_it_ends(busybox_daemon):
    d = busybox_daemon
    container = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    json_body = {"Content-Type": "application/json"}
    try:
        body = json.dumps({"Cmd": ["sleep", "60"]}).encode()
        exec_id = json.loads(d.request("POST", f"/containers/{container}/exec", body, headers=json_body)[2])["Id"]
        assert d.request("POST", f"/exec/{exec_id}/start", b'{"Detach": true}', headers=json_body)[0] == 200
        pid = _exec_inspect(d, exec_id)["Pid"]  # the process's own
        template = _parent(pid)  # forked once: no runner in between
        with open(f"/proc/{template}/cmdline", "rb") as f:
            assert b"shim_template" in f.read() and _parent(template) == d.process.pid
        init = json.loads(d.docker("inspect", container).stdout)[0]["State"]["Pid"]
        for ns in ("pid", "mnt", "net", "ipc", "uts"):
            assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
        with open(f"/proc/{pid}/cgroup") as mine, open(f"/proc/{init}/cgroup") as its:
            assert mine.read() == its.read()
        os.kill(pid, signal.SIGKILL)
        assert _eventually(lambda: not _exec_inspect(d, exec_id)["Running"])
        assert _exec_inspect(d, exec_id)["ExitCode"] == 137  # the template reaped it and reported its status
        assert _eventually(lambda: not os.path.exists(f"/proc/{pid}"))  # not even a zombie is left
        # The template's next children are born in its own pid namespace again: a container starts as ever.
        assert d.docker("run", "--rm", "busybox", "sh", "-c", "echo $$").stdout.strip() == "1"
        assert os.readlink(f"/proc/{template}/ns/pid_for_children") == os.readlink(f"/proc/{template}/ns/pid")
    finally:
        d.docker("rm", "-f", container)


def test_an_exec_whose_process_takes_more_than_one_read_reaches_the_template_whole(busybox_daemon):
    d = busybox_daemon
    container = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    try:
        big = "x" * 100_000  # the request to the template is more than its first read (64 KiB)
        result = d.docker("exec", "-e", f"BIG={big}", container, "sh", "-c", "echo ${#BIG}; exit 3", check=False)
        assert (result.returncode, result.stdout) == (3, "100000\n")
    finally:
        d.docker("rm", "-f", container)


def test_a_shim_forked_while_an_exec_runs_holds_none_of_the_template_s_pipes(busybox_daemon):
    # The template keeps a running exec's status pipe; a shim forked meanwhile that kept it too would hold
    # the daemon's reader open, so the exec's end would never be seen if the template died.
    d = busybox_daemon
    container = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    json_body = {"Content-Type": "application/json"}
    try:
        body = json.dumps({"Cmd": ["sleep", "60"]}).encode()
        exec_id = json.loads(d.request("POST", f"/containers/{container}/exec", body, headers=json_body)[2])["Id"]
        assert d.request("POST", f"/exec/{exec_id}/start", b'{"Detach": true}', headers=json_body)[0] == 200
        template = _parent(_exec_inspect(d, exec_id)["Pid"])
        other = d.docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
        with open(os.path.join(d.exec_root, "containers", other, "shim.pid")) as f:
            shim = int(f.read())
        assert _pipes(template) and not _pipes(template) & _pipes(shim)
        d.docker("rm", "-f", other)
    finally:
        d.docker("rm", "-f", container)


def _pipes(pid: int) -> set[str]:
    fds = f"/proc/{pid}/fd"
    return {target for target in (os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds)) if target.startswith("pipe:")}
