"""The OCI runtime contract (dockyard.core.runtime), run against Dockyard's own runtime and runc's command line.

Each scenario runs in a child process that is a subreaper, as the shim and the exec runner are:
the inits and exec'd processes that a runtime leaves orphans come to it, and it reaps them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from dockyard.errors import Conflict, NotFound
from dockyard.kernel import constants as k
from dockyard.kernel import libc
from dockyard.runtime.drivers import open_runtime
from dockyard.runtime.waiting import exit_code

COMMANDS = {"dockyard": None, "runc": ["runc"]}


@pytest.fixture(params=sorted(COMMANDS))
def runtime(request, tmp_path):
    command = COMMANDS[request.param]
    if command and shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    runtime = open_runtime(str(tmp_path / "dy-state"), command)
    created: list[str] = []
    runtime.created = created  # the ids to force-delete afterwards, whatever the test did
    yield runtime
    for container_id in created:
        with contextlib.suppress(Exception):
            runtime.delete(container_id, force=True)


@pytest.fixture
def bundle_for(make_bundle, runtime):
    def make(args: list[str]):
        bundle = make_bundle(args)
        # A cgroup at the top, as the daemon's specs have: runc would leave a shared parent behind.
        bundle.config["linux"]["cgroupsPath"] = f"/{bundle.id}"
        runtime.created.append(bundle.id)
        return bundle.write()

    return make


def in_subreaper(scenario):
    """scenario() in a forked child that is a subreaper; its result (pickled) or the test fails with its error."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)
            outcome = ("ok", scenario())
        except BaseException as exc:
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        os.write(write_end, pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        pytest.fail(value)
    return value


@contextlib.contextmanager
def stdio_to(path: str):
    """fds 0-2 of this process on /dev/null and a file for the block: what a runtime passes to its process."""
    saved = [os.dup(fd) for fd in range(3)]
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    for target, fd in enumerate((null, out, out)):
        os.dup2(fd, target)
    os.close(out)
    os.close(null)
    try:
        yield
    finally:
        for target, fd in enumerate(saved):
            os.dup2(fd, target)
            os.close(fd)


def error_kind(call) -> str:
    try:
        call()
    except Exception as exc:
        return type(exc).__name__
    return "none"


def test_create_waits_for_start_then_the_process_runs_on_our_stdio(runtime, bundle_for, tmp_path):
    bundle = bundle_for(["sh", "-c", "touch /ran; echo out; echo err >&2; exit 3"])
    output = str(tmp_path / "output")

    def scenario():
        with stdio_to(output):
            container = runtime.create(bundle.id, bundle.path)
        ran_before_start = os.path.exists(os.path.join(bundle.rootfs, "ran"))
        runtime.start(bundle.id)
        _, status = os.waitpid(container.pid, 0)
        runtime.delete(bundle.id, force=True)
        return ran_before_start, exit_code(status), error_kind(lambda: runtime.kill(bundle.id, "SIGKILL"))

    ran_before_start, code, after_delete = in_subreaper(scenario)
    assert not ran_before_start
    assert code == 3
    assert Path(output).read_text() == "out\nerr\n"
    assert after_delete == NotFound.__name__


def test_signals_pause_and_resume_act_on_the_running_container_and_refuse_a_stopped_one(runtime, bundle_for):
    loop = "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done"
    bundle = bundle_for(["sh", "-c", f"trap 'exit 9' USR1; {loop}"])
    count = os.path.join(bundle.rootfs, "count")

    def scenario():
        container = runtime.create(bundle.id, bundle.path)
        runtime.start(bundle.id)
        resume_running = error_kind(lambda: runtime.resume(bundle.id))
        while not os.path.exists(count):  # sh has set its trap
            time.sleep(0.02)
        runtime.pause(bundle.id)
        time.sleep(0.1)  # a write under way ends
        before = Path(count).read_text()
        time.sleep(0.3)  # six turns of the loop, had it run
        frozen = Path(count).read_text() == before
        runtime.resume(bundle.id)
        runtime.kill(bundle.id, signal.SIGUSR1)
        _, status = os.waitpid(container.pid, 0)
        return resume_running, frozen, exit_code(status), error_kind(lambda: runtime.kill(bundle.id, "SIGTERM"))

    resume_running, frozen, code, kill_stopped = in_subreaper(scenario)
    assert resume_running == Conflict.__name__
    assert frozen
    assert code == 9
    assert kill_stopped == Conflict.__name__


def test_exec_ps_stats_and_update_reach_the_running_container(runtime, bundle_for, tmp_path):
    bundle = bundle_for(["sh", "-c", "echo inside > /marker; sleep 30"])
    output = str(tmp_path / "exec-output")

    def scenario():
        container = runtime.create(bundle.id, bundle.path)
        runtime.start(bundle.id)
        while not os.path.exists(os.path.join(bundle.rootfs, "marker")):
            time.sleep(0.02)
        process = dict(bundle.config["process"], args=["sh", "-c", "cat /marker; exit 5"])
        with stdio_to(output):
            code = runtime.exec(bundle.id, process)
        pids = runtime.ps(bundle.id)
        stats = runtime.stats(bundle.id)
        warnings = runtime.update(bundle.id, {"pids": {"limit": 50}})
        runtime.kill(bundle.id, "SIGKILL")
        os.waitpid(container.pid, 0)
        return code, container.pid in pids, sorted(stats), warnings

    code, init_listed, stats_keys, warnings = in_subreaper(scenario)
    assert code == 5
    assert Path(output).read_text() == "inside\n"
    assert init_listed
    assert "memory" in stats_keys and "pids" in stats_keys
    assert isinstance(warnings, list)


def test_a_missing_executable_fails_with_its_reason_and_leaves_nothing(runtime, bundle_for):
    bundle = bundle_for(["/no-such-command"])

    def scenario():
        try:
            runtime.create(bundle.id, bundle.path)
            runtime.start(bundle.id)
        except Exception as exc:
            return str(exc)
        return ""

    message = in_subreaper(scenario)
    assert "no such file or directory" in message.lower() or "not found" in message
    with contextlib.suppress(Exception):  # our runtime fails at start: the container is deleted as the shim does
        runtime.delete(bundle.id, force=True)
    assert_nothing_left(runtime, bundle.id)


def test_a_terminal_nobody_takes_fails_create_and_leaves_nothing(runtime, bundle_for):
    bundle = bundle_for(["sh"])
    bundle.config["process"]["terminal"] = True
    bundle.write()

    def scenario():
        ours, theirs = socket.socketpair()
        ours.close()  # the shim went away: the pty master cannot be handed over
        try:
            runtime.create(bundle.id, bundle.path, console_fd=theirs.detach())
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "created"

    assert "Broken pipe" in in_subreaper(scenario)  # the hand-over, after the runtime's create
    assert_nothing_left(runtime, bundle.id)


def assert_nothing_left(runtime, container_id: str) -> None:
    assert not os.path.exists(os.path.join(runtime.root, container_id))
    assert not any(os.path.isdir(os.path.join(base, container_id)) for base in _cgroup_roots())


def _cgroup_roots() -> list[str]:
    return [os.path.join("/sys/fs/cgroup", name) for name in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]
