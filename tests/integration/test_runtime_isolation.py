"""Isolation, observed from inside real containers run by dockyard-runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


def test_pid_1_is_the_user_process_and_host_processes_are_invisible(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "echo $$; ps -o pid,comm"])
    code, out, err = run(bundle)
    assert code == 0, err
    lines = out.split()
    assert lines[0] == "1"
    pids = [int(word) for word in lines[1:] if word.isdigit()]
    assert pids and max(pids) < 10, out  # only sh and ps exist in this pid namespace


def test_hostname_is_the_configured_one(cli, make_bundle, run):
    bundle = make_bundle(["hostname"])
    bundle.config["hostname"] = "dy-box"
    code, out, err = run(bundle)
    assert (code, out.strip()) == (0, "dy-box"), err


def test_host_mounts_are_invisible(cli, make_bundle, tmp_path, run):
    bundle = make_bundle(["cat", "/proc/self/mountinfo"])
    code, out, err = run(bundle)
    assert code == 0, err
    host_points = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    container_points = {line.split()[4] for line in out.splitlines()}
    assert "/" in container_points
    assert not {p for p in container_points if p.startswith(("/work", "/var/lib", "/tmp/pytest"))}
    assert "/proc" in container_points and len(container_points) < len(host_points) + 20


def test_only_lo_exists_in_a_new_network_namespace(cli, make_bundle, run):
    bundle = make_bundle(["ls", "/sys/class/net"])
    code, out, err = run(bundle)
    assert (code, out.split()) == (0, ["lo"]), err


def test_without_clone3_stage_1_builds_the_same_container(make_bundle, runtime_root):
    # As on kernels before 5.3: no clone3, so neither born in the pid namespace nor in the cgroup.
    bundle = make_bundle(["sh", "-c", "echo $$; hostname; ls /sys/class/net; cat /proc/self/cgroup"])
    bundle.config["hostname"] = "dy-stage1"
    bundle.write()
    script = (
        "from dockyard.kernel import libc\n"
        "def clone3(cgroup_fd=None, namespaces=0):\n"
        "    raise OSError(38, 'clone3: Function not implemented')\n"
        "libc.clone3 = clone3\n"
        "from dockyard.runtime.cli import run_and_exit\n"
        "run_and_exit()\n"
    )
    command = [sys.executable, "-c", script, "--root", runtime_root, "run", "--bundle", bundle.path, bundle.id]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:3] == ["1", "dy-stage1", "lo"]
    assert all(line.endswith(":/") for line in lines[3:]), lines  # the cgroup namespace's root is its cgroup


def test_user_namespace_maps_container_root_to_an_unprivileged_host_uid(cli, make_bundle, tmp_path):
    # Container root is host uid 100000: it must be able to walk down to the rootfs.
    for directory in (tmp_path, *tmp_path.parents[:2]):
        directory.chmod(0o711)
    bundle = make_bundle(["sleep", "30"])
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.write()
    result = cli("run", "--detach", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    pid = _state(cli, bundle.id)["pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["100000"] * 4
    assert Path(f"/proc/{pid}/uid_map").read_text().split() == ["0", "100000", "65536"]
    result = cli("exec", bundle.id, "id", "-u")
    assert result.stdout.decode().strip() == "0", result.stderr


def test_effective_capabilities_are_the_configured_set(cli, make_bundle, run):
    bundle = make_bundle(["grep", "^Cap", "/proc/self/status"])
    wanted = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["capabilities"] = {s: wanted for s in ("bounding", "effective", "permitted")}
    code, out, err = run(bundle)
    assert code == 0, err
    caps = {line.split()[0]: int(line.split()[1], 16) for line in out.splitlines()}
    mask = (1 << 0) | (1 << 5) | (1 << 10)
    assert caps["CapEff:"] == mask and caps["CapPrm:"] == mask and caps["CapBnd:"] == mask
    assert caps["CapInh:"] == 0 and caps["CapAmb:"] == 0


def test_no_new_privileges_is_set(cli, make_bundle, run):
    bundle = make_bundle(["grep", "NoNewPrivs", "/proc/self/status"])
    code, out, err = run(bundle)
    assert code == 0, err
    assert out.split() == ["NoNewPrivs:", "1"]


def test_seccomp_rule_fails_a_syscall_with_the_configured_errno(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "mkdir /made; echo status=$?; ls -d /made"])
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
    }
    _code, out, err = run(bundle)
    assert "Function not implemented" in err  # ENOSYS = 38
    assert "status=1" in out
    assert not os.path.exists(os.path.join(bundle.rootfs, "made"))


def test_exec_installs_the_filter_create_kept_or_compiles_it_when_none_was_kept(cli, make_bundle, runtime_root):
    from dockyard.kernel.seccomp import compile_filter

    bundle = make_bundle(["sleep", "300"])
    rule = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [rule]}
    bundle.config["linux"]["seccomp"] = seccomp
    bundle.write()
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    kept = Path(runtime_root, bundle.id, "seccomp.bpf")

    def mkdir_error() -> str:
        return cli("exec", bundle.id, "mkdir", "/tmp/made").stderr.decode()

    assert "Function not implemented" in mkdir_error()  # ENOSYS, from the filter create kept
    kept.write_bytes(compile_filter({**seccomp, "syscalls": [{**rule, "errnoRet": 1}]}))
    assert "Operation not permitted" in mkdir_error()  # EPERM: exec installs what is kept, as it is
    kept.unlink()  # as for a container created before the runtime kept its filter
    assert "Function not implemented" in mkdir_error()  # compiled again from the config


def test_memory_hog_is_oom_killed_under_a_memory_limit(cli, make_bundle, run):
    # tail keeps the last "line" of /dev/zero, which never ends: memory grows until the kill.
    bundle = make_bundle(["tail", "/dev/zero"])
    limit = 32 * 1024 * 1024
    bundle.config["linux"]["resources"]["memory"] = {"limit": limit, "swap": limit}
    code, _out, err = run(bundle)
    assert code == 128 + 9, err  # killed by SIGKILL


def test_fork_bomb_stops_at_the_pids_limit(cli, make_bundle):
    # The inner shell dies at its first failed fork; pid 1 then becomes sleep without forking.
    bomb = "n=0; while [ $n -lt 40 ]; do sleep 300 & n=$((n+1)); done"
    bundle = make_bundle(["sh", "-c", f"sh -c '{bomb}'; exec sleep 300"])
    bundle.config["linux"]["resources"]["pids"] = {"limit": 12}
    bundle.write()
    assert cli("run", "--detach", "--bundle", bundle.path, bundle.id).returncode == 0
    # 12 = pid 1 + the inner shell + 10 sleeps; the 11th sleep cannot fork, the inner
    # shell exits, and pid 1 plus 10 sleeps remain.
    deadline = time.monotonic() + 10
    while (count := len(json.loads(cli("ps", "--format", "json", bundle.id).stdout))) != 11:
        assert time.monotonic() < deadline, f"{count} processes in the container"
        time.sleep(0.05)
    time.sleep(0.2)
    assert len(json.loads(cli("ps", "--format", "json", bundle.id).stdout)) == 11


def test_read_only_root_refuses_writes(cli, make_bundle, run):
    bundle = make_bundle(["touch", "/written"])
    bundle.config["root"]["readonly"] = True
    code, _out, err = run(bundle)
    assert code != 0 and "Read-only file system" in err
    assert not os.path.exists(os.path.join(bundle.rootfs, "written"))


def test_masked_paths_read_empty(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "wc -c < /proc/keys; ls -A /proc/acpi | wc -l"])
    code, out, err = run(bundle)
    assert code == 0, err
    assert out.split() == ["0", "0"]


def test_process_sees_only_its_own_fds(cli, make_bundle):
    bundle = make_bundle(["ls", "/proc/self/fd"])
    extra = os.open("/dev/null", os.O_RDONLY)  # inheritable by the runtime: must not reach the container
    try:
        result = cli("run", "--bundle", bundle.path, bundle.id, pass_fds=(extra,))
    finally:
        os.close(extra)
    assert result.returncode == 0, result.stderr
    assert sorted(int(fd) for fd in result.stdout.split()) == [0, 1, 2, 3]  # 3: ls's own directory


def _state(cli, container_id: str) -> dict:
    import json

    result = cli("state", container_id)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def sleeper(cli, make_bundle):
    bundle = make_bundle(["sleep", "300"])
    result = cli("run", "--detach", "--bundle", bundle.path, bundle.id)
    assert result.returncode == 0, result.stderr
    return bundle
