"""--pid, --ipc, --uts and --userns through the real docker CLI and docker-py, with our runtime and runc:
the namespaces a container gets, exec and top into it, and the modes refused at create or at start."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest

from e2e.conftest import busybox_daemon_in

RUNTIMES = ["dockyard", *(["runc"] if shutil.which("runc") else [])]
SLEEPER = ["busybox", "sleep", "600"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with busybox_daemon_in(tmp_path_factory.mktemp("dy-nsmodes")) as running:
        yield running


def run(daemon, *args: str, check: bool = True):
    return daemon.docker("run", "--rm", *args, check=check)


def started(daemon, name: str, runtime: str, *options: str) -> str:
    daemon.docker("run", "-d", "--name", name, "--runtime", runtime, *options, *SLEEPER)
    return name


def host_config(daemon, name: str) -> dict:
    return json.loads(daemon.docker("inspect", "--format", "{{json .HostConfig}}", name).stdout)


def remove(daemon, *names: str) -> None:
    daemon.docker("rm", "-f", *names, check=False)


def own_namespace(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pid_host_sees_the_test_and_exec_and_top_stay_in_the_host_namespace(daemon, runtime):
    name = started(daemon, f"dy-ns-pidhost-{runtime}", runtime, "--pid", "host")
    try:
        assert host_config(daemon, name)["PidMode"] == "host"
        seen = daemon.docker("exec", name, "sh", "-c", f"test -d /proc/{os.getpid()} && echo seen").stdout
        assert seen == "seen\n"  # the test's own process, by its host pid
        namespace = daemon.docker("exec", name, "readlink", "/proc/self/ns/pid").stdout.strip()
        assert namespace == own_namespace("pid")
        top = daemon.docker("top", name).stdout
        assert "sleep 600" in top
        daemon.docker("stop", "-t", "1", name)
        assert daemon.docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "false"
    finally:
        remove(daemon, name)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pid_container_sees_the_other_containers_processes_and_stopping_it_spares_the_target(daemon, runtime):
    target = started(daemon, f"dy-ns-pidtarget-{runtime}", runtime)
    sharer = started(daemon, f"dy-ns-pidsharer-{runtime}", runtime, "--pid", f"container:{target}")
    try:
        assert host_config(daemon, sharer)["PidMode"] == f"container:{target}"
        listed = daemon.docker("exec", sharer, "ps", "-o", "pid,args").stdout
        assert [line.split(None, 1)[1] for line in listed.splitlines()[1:3]] == ["sleep 600", "sleep 600"]
        assert listed.splitlines()[1].split()[0] == "1"  # the target's init is pid 1 of the shared namespace
        own = daemon.docker("exec", sharer, "readlink", "/proc/self/ns/pid").stdout
        assert own == daemon.docker("exec", target, "readlink", "/proc/self/ns/pid").stdout
        assert "sleep 600" in daemon.docker("top", sharer).stdout
        daemon.docker("stop", "-t", "1", sharer)
        assert daemon.docker("inspect", "--format", "{{.State.Running}}", target).stdout.strip() == "true"
    finally:
        remove(daemon, sharer, target)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ipc_container_shares_a_file_in_dev_shm_with_a_shareable_donor(daemon, runtime):
    donor = started(daemon, f"dy-ns-ipcdonor-{runtime}", runtime, "--ipc", "shareable")
    try:
        daemon.docker("exec", donor, "sh", "-c", "echo shared > /dev/shm/note")
        shown = run(daemon, "--runtime", runtime, "--ipc", f"container:{donor}", "busybox", "cat", "/dev/shm/note")
        assert shown.stdout == "shared\n"
        joined = run(daemon, "--ipc", f"container:{donor}", "busybox", "readlink", "/proc/self/ns/ipc").stdout
        assert joined == daemon.docker("exec", donor, "readlink", "/proc/self/ns/ipc").stdout
    finally:
        remove(daemon, donor)


def test_ipc_modes_none_host_private_and_the_stored_default(daemon):
    assert run(daemon, "--ipc", "none", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts", check=False
               ).stdout.strip() == "0"  # fmt: skip
    assert run(daemon, "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc").stdout.strip() == own_namespace(
        "ipc"
    )
    assert run(daemon, "busybox", "readlink", "/proc/self/ns/ipc").stdout.strip() != own_namespace("ipc")
    sized = run(daemon, "--shm-size", "8m", "busybox", "df", "-k", "/dev/shm").stdout.splitlines()[1].split()
    assert sized[1] == "8192"
    daemon.docker("create", "--name", "dy-ns-default", "busybox")
    try:
        assert host_config(daemon, "dy-ns-default")["IpcMode"] == "private"
    finally:
        remove(daemon, "dy-ns-default")


def test_a_private_ipc_donor_and_a_stopped_donor_are_refused_at_start(daemon):
    private = started(daemon, "dy-ns-private", "dockyard")
    daemon.docker("create", "--name", "dy-ns-stopped", "--ipc", "shareable", "busybox")
    try:
        refused = run(daemon, "--ipc", "container:dy-ns-private", "busybox", "true", check=False)
        assert refused.returncode != 0 and "non-shareable IPC" in refused.stderr, refused.stderr
        refused = run(daemon, "--pid", "container:dy-ns-stopped", "busybox", "true", check=False)
        assert refused.returncode != 0 and "is not running" in refused.stderr, refused.stderr
    finally:
        remove(daemon, private, "dy-ns-stopped")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_uts_host_has_the_hosts_hostname(daemon, runtime):
    shown = run(daemon, "--runtime", runtime, "--uts", "host", "busybox", "hostname").stdout.strip()
    assert shown == socket.gethostname()
    assert run(daemon, "busybox", "hostname").stdout.strip() != socket.gethostname()


def test_userns_host_is_accepted(daemon):
    assert run(daemon, "--userns", "host", "busybox", "echo", "ok").stdout == "ok\n"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("PidMode", "sibling", "invalid PID mode: sibling"),
        ("IpcMode", "public", "invalid IPC mode: public"),
        ("IpcMode", "container:", "invalid IPC mode: container:"),
        ("UTSMode", "private", "invalid UTS mode: private"),
        ("UsernsMode", "private", "invalid USER NS mode: private"),
    ],
)
def test_bad_modes_are_a_400_at_create_and_leave_nothing(daemon, field, value, message):
    before = daemon.docker("ps", "-aq").stdout
    body = json.dumps({"Image": "busybox", "HostConfig": {field: value}}).encode()
    status, _headers, answer = daemon.request("POST", "/v1.50/containers/create", body,
                                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 400 and message in json.loads(answer)["message"], answer
    assert daemon.docker("ps", "-aq").stdout == before


def test_hostname_with_uts_host_is_refused(daemon):
    refused = daemon.docker("create", "--uts", "host", "--hostname", "box", "busybox", check=False)
    assert refused.returncode != 0 and "conflicting options: hostname and the UTS mode" in refused.stderr


def test_clients_before_api_1_40_get_the_shareable_default(daemon):
    body = json.dumps({"Image": "busybox"}).encode()
    status, _headers, answer = daemon.request("POST", "/v1.39/containers/create?name=dy-ns-old", body,
                                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 201, answer
    try:
        assert host_config(daemon, "dy-ns-old")["IpcMode"] == "shareable"
    finally:
        remove(daemon, "dy-ns-old")


def test_docker_py_pid_ipc_and_uts_modes(daemon):
    client = daemon.client()
    donor = client.containers.run(SLEEPER[0], SLEEPER[1:], name="dy-ns-py-donor", detach=True, ipc_mode="shareable")
    try:
        donor.exec_run(["sh", "-c", "echo py > /dev/shm/note"])
        output = client.containers.run(
            "busybox", ["sh", "-c", "cat /dev/shm/note; ps -o args | grep -c '^sleep'; hostname"],
            pid_mode="container:dy-ns-py-donor", ipc_mode="container:dy-ns-py-donor", uts_mode="host", remove=True,
        )  # fmt: skip
        assert output.decode().split() == ["py", "1", socket.gethostname()]
        donor.reload()
        assert donor.attrs["HostConfig"]["IpcMode"] == "shareable"
    finally:
        donor.remove(force=True)
        client.close()
