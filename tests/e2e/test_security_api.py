"""--security-opt through the real docker CLI: the default seccomp allowlist, custom profiles,
no-new-privileges, apparmor, label and systempaths."""

from __future__ import annotations

import json


def run(daemon, *args: str, check: bool = True):
    return daemon.docker("run", "--rm", *args, check=check)


def test_ordinary_programs_work_and_what_docker_blocks_fails(busybox_daemon):
    d = busybox_daemon
    ok = run(d, "busybox", "sh", "-c", "ls / >/dev/null && ps >/dev/null && date >/dev/null && echo fine")
    assert ok.stdout == "fine\n"
    for command in (["unshare", "-U", "true"], ["unshare", "-m", "true"], ["mount", "-t", "tmpfs", "t", "/mnt"],
                    ["date", "-s", "2001-01-01"], ["swapon", "/etc/hostname"], ["reboot", "-f"]):  # fmt: skip
        refused = run(d, "busybox", *command, check=False)
        said = refused.stderr.lower()  # busybox mount words EPERM its own way; its date exits 0 all the same
        assert "operation not permitted" in said or "permission denied" in said, (command, refused.stderr)
    # A user namespace needs no capability: only the filter stands in the way.
    assert run(d, "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true").returncode == 0


def test_cap_add_privileged_and_unconfined_open_the_filter(busybox_daemon):
    d = busybox_daemon
    assert run(d, "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c", "unshare -m true && mount -t tmpfs t /tmp")
    for options in (["--privileged"], ["--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN"]):
        shown = run(d, *options, "busybox", "grep", "^Seccomp:", "/proc/self/status").stdout
        assert shown.split() == ["Seccomp:", "0"]


def test_a_custom_profile_from_a_file(busybox_daemon, tmp_path):
    d = busybox_daemon
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"name": "a_call_from_the_future", "action": "SCMP_ACT_ERRNO"}],
    }))  # fmt: skip
    refused = run(d, "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c", "mkdir /x; unshare -U true",
                  check=False)  # fmt: skip
    assert "can't create directory '/x': Permission denied" in refused.stderr
    assert refused.returncode == 0  # unshare is allowed by this profile, unlike docker's default


def test_bad_security_options_are_refused_at_create(busybox_daemon, tmp_path):
    d = busybox_daemon
    before = d.docker("ps", "-aq").stdout
    bad_action = tmp_path / "bad.json"
    bad_action.write_text('{"defaultAction": "SCMP_ACT_SOMETIMES"}')
    cases = [
        (["--security-opt", f"seccomp={bad_action}"], 'seccomp.defaultAction: unknown action "SCMP_ACT_SOMETIMES"'),
        (["--security-opt", "apparmor=docker-default"], "AppArmor is not enabled on this host"),
        (["--security-opt", "colour=blue"], 'invalid --security-opt 2: "colour=blue"'),
    ]
    for options, message in cases:
        result = d.docker("create", *options, "busybox", check=False)
        assert result.returncode != 0 and message in result.stderr, result.stderr
    assert d.docker("ps", "-aq").stdout == before


def test_no_new_privileges_apparmor_unconfined_label_and_systempaths(busybox_daemon):
    d = busybox_daemon
    shown = run(
        d,
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "label=disable",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ).stdout
    assert shown.split() == ["NoNewPrivs:", "1"]
    masked = "grep -c ' /proc/timer_list ' /proc/self/mounts"
    assert run(d, "busybox", "sh", "-c", masked).stdout == "1\n"
    assert (
        run(d, "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", masked, check=False).stdout == "0\n"
    )


# Outcomes both engines must agree on. dockerd 20.10's profile is older than docker 28's, so only
# calls whose treatment did not change between the two are compared.
_COMPARED = {
    "plain programs": "ls / >/dev/null && ps >/dev/null && date >/dev/null",
    "user namespace": "unshare -U true",
    "mount namespace": "unshare -m true",
    "mount": "mount -t tmpfs t /tmp",
    "swapon": "swapon /etc/hostname",
    "mkdir and chroot": "mkdir -p /tmp/r/bin && cp /bin/busybox /tmp/r/bin/ && chroot /tmp/r /bin/busybox true",
    "mknod": "mknod /tmp/n c 1 3",
}
_OPTIONS = {
    "default": [],
    "cap SYS_ADMIN": ["--cap-add", "SYS_ADMIN"],
    "unconfined": ["--security-opt", "seccomp=unconfined"],
}


def test_outcomes_agree_with_dockerd_20_10(busybox_daemon, dockerd, tmp_path):
    archive = str(tmp_path / "dy-busybox.tar")
    busybox_daemon.docker("save", "-o", archive, "busybox")
    dockerd.docker("load", "-i", archive)
    try:
        for options_name, options in _OPTIONS.items():
            for name, script in _COMPARED.items():
                ours = run(busybox_daemon, *options, "busybox", "sh", "-c", script, check=False).returncode
                theirs = dockerd.docker("run", "--rm", *options, "busybox", "sh", "-c", script, check=False)
                assert (ours == 0) == (theirs.returncode == 0), (options_name, name, ours, theirs.stderr)
    finally:
        dockerd.docker("rmi", "-f", "busybox", check=False)
