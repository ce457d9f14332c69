"""config.json settings, each observed from inside a real container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_user_groups_and_umask(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "id; umask"])
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 20], "umask": 0o027}
    code, out, err = run(bundle)
    assert code == 0, err
    ids, umask = out.splitlines()
    assert ids.startswith("uid=1000 gid=1001 groups=")
    assert {g.split("(")[0] for g in ids.split("groups=")[1].split(",")} == {"5", "20"}
    assert umask == "0027"


def test_env_cwd_and_rlimits(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "echo $GREETING; pwd; ulimit -n; ulimit -Hn"])
    process = bundle.config["process"]
    process["env"].append("GREETING=hello there")
    process["cwd"] = "/tmp"
    process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 600}]
    code, out, err = run(bundle)
    assert (code, out.splitlines()) == (0, ["hello there", "/tmp", "512", "600"]), err


def test_rlimit_above_the_hard_maximum_is_clamped_with_a_warning(cli, make_bundle, run):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    bundle = make_bundle(["sh", "-c", "ulimit -Hn"])
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard * 4, "hard": hard * 4}]
    code, out, err = run(bundle)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the hard limit is unlimited here: nothing to clamp")
    assert code == 0, err
    assert int(out) <= hard
    assert "clamped" in err


def test_oom_score_adj(cli, make_bundle, run):
    bundle = make_bundle(["cat", "/proc/self/oom_score_adj"])
    bundle.config["process"]["oomScoreAdj"] = 500
    code, out, err = run(bundle)
    assert (code, out.strip()) == (0, "500"), err


def test_sysctl_domainname_and_readonly_paths(cli, make_bundle, run):
    domain = "/proc/sys/kernel/domainname"
    script = f"cat /proc/sys/net/ipv4/ip_forward {domain}; echo x > {domain}; echo status=$?"
    bundle = make_bundle(["sh", "-c", script])
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    bundle.config["domainname"] = "dy.example"
    _code, out, err = run(bundle)
    lines = out.splitlines()
    assert lines[:2] == ["1", "dy.example"], (out, err)
    assert "status=1" in out and "Read-only file system" in err  # /proc/sys is a read-only path


def test_bind_mounts_with_options_and_sized_tmpfs(cli, make_bundle, tmp_path, run):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in").write_text("from the host\n")
    script = "cat /data/in; touch /data/out; echo ro=$?; echo x > /scratch/x; df -k /scratch | tail -1"
    bundle = make_bundle(["sh", "-c", script])
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind", "ro"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=1777"]},
    ]
    code, out, err = run(bundle)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "from the host"
    assert lines[1] == "ro=1" and not (shared / "out").exists()
    assert lines[2].split()[1] == "2048"  # 1K-blocks of a 2 MiB tmpfs


def test_configured_device_is_created(cli, make_bundle, run):
    bundle = make_bundle(["ls", "-l", "/dev/dy-null"])
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/dy-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 0, "gid": 0}
    ]
    code, out, err = run(bundle)
    assert code == 0, err
    assert out.startswith("crw-------") and "1,   3" in out


def test_joins_a_network_namespace_by_path(cli, make_bundle, run):
    first = make_bundle(["sleep", "60"])
    assert cli("run", "--detach", "--bundle", first.path, first.id).returncode == 0
    import json

    pid = json.loads(cli("state", first.id).stdout)["pid"]
    second = make_bundle(["readlink", "/proc/self/ns/net"])
    for ns in second.config["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = f"/proc/{pid}/ns/net"
    code, out, err = run(second)
    assert code == 0, err
    assert out.strip() == os.readlink(f"/proc/{pid}/ns/net")


def test_no_pivot_still_isolates_the_root(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "ls -A /; echo marker > /from-inside"])
    code, out, err = run(bundle, "--no-pivot")
    assert code == 0, err
    assert set(out.split()) == set(os.listdir(bundle.rootfs)) - {"from-inside"}  # its / is the rootfs
    assert Path(bundle.rootfs, "from-inside").read_text() == "marker\n"


def test_preserve_fds_passes_the_named_descriptors(cli, make_bundle, run):
    bundle = make_bundle(["sh", "-c", "cat <&3"])
    read_end, write_end = os.pipe()
    os.write(write_end, b"through fd 3\n")
    os.close(write_end)
    bundle.write()
    command = [sys.executable, "-m", "dockyard.runtime.cli", "--root", bundle.path + "/state",
               "run", "--preserve-fds", "1", "--bundle", bundle.path, bundle.id]  # fmt: skip
    try:
        # --preserve-fds counts from fd 3: put our pipe there for the runtime
        shell = ["bash", "-c", f'exec 3<&{read_end}; exec "$@"', "bash", *command]
        result = subprocess.run(shell, capture_output=True, timeout=60, pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"through fd 3\n"


def test_run_with_a_terminal_and_no_console_socket_proxies_stdio(cli, make_bundle):
    bundle = make_bundle(["sh", "-c", "tty; read line; echo got $line"])
    bundle.config["process"]["terminal"] = True
    bundle.write()
    result = cli("run", "--bundle", bundle.path, bundle.id, input=b"hello\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.replace(b"\r", b"").split(b"\n")
    assert b"/dev/pts/0" in lines and b"got hello" in lines  # the pty also echoes what we typed


def test_the_container_sees_its_own_cgroup_and_limits(make_bundle, run):
    from dockyard.kernel.cgroups import read_layout

    layout = read_layout()
    if not any("memory" in h.controllers for h in layout.hierarchies if h.version == 1):
        pytest.skip("needs the cgroup v1 memory controller (this test reads memory.limit_in_bytes)")
    bundle = make_bundle(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/proc/self/cgroup"])
    bundle.config["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    code, out, err = run(bundle)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == str(64 * 1024 * 1024)
    assert all(line.endswith(":/") for line in lines[1:])  # a cgroup namespace rooted at its own cgroup


def test_apparmor_and_selinux_are_refused_where_the_host_has_neither(make_bundle, run):
    if os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("this host has AppArmor")
    bundle = make_bundle(["true"])
    bundle.config["process"]["apparmorProfile"] = "docker-default"
    code, _out, err = run(bundle)
    assert code == 1 and "process.apparmorProfile: AppArmor is not enabled on this host" in err
