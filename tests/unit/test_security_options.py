"""--security-opt entries and docker's seccomp profile format, resolved for one container."""

from __future__ import annotations

import json

import pytest

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.runtime import container_spec, default_seccomp, seccomp_profile, security_opts
from dockyard.runtime.security_opts import SecurityOptions

X86_64 = {"machine": "x86_64", "kernel": "6.1.0-13-amd64"}


def to_oci(profile: dict, caps: list[str] = (), **host) -> dict:
    return seccomp_profile.to_oci(profile, list(caps), **{**X86_64, **host})


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], SecurityOptions()),
        (["no-new-privileges"], SecurityOptions(no_new_privileges=True)),
        (["no-new-privileges=false"], SecurityOptions()),
        (["no-new-privileges:true"], SecurityOptions(no_new_privileges=True)),
        (["seccomp=unconfined"], SecurityOptions(seccomp="unconfined")),
        (["seccomp:{}"], SecurityOptions(seccomp="{}")),
        (["apparmor=unconfined", "label=disable", "label=type:svirt_t", "disable"], SecurityOptions()),
        (["systempaths=unconfined"], SecurityOptions(unconfined_system_paths=True)),
    ],
)
def test_security_options_are_read_as_dockerd_reads_them(options, expected):
    assert security_opts.parse(options) == expected


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nonsense", 'invalid --security-opt 1: "nonsense"'),
        ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
        ("colour=blue", 'invalid --security-opt 2: "colour=blue"'),
        ("systempaths=confined", 'invalid --security-opt 2: "systempaths=confined"'),
        ("apparmor=docker-default", 'apparmor profile "docker-default" cannot be applied'),
    ],
)
def test_bad_security_options_are_refused_with_dockerd_s_message(option, message):
    with pytest.raises(InvalidParameter, match=message):
        security_opts.parse([option])


def test_includes_and_excludes_follow_caps_arches_and_kernel():
    rules = [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
        {"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
        {"names": ["c"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["SCMP_ARCH_AARCH64"]}},
        {"names": ["d"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["SCMP_ARCH_AARCH64"]}},
        {"names": ["e"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.2"}},
        {"names": ["f"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
        {"name": "g", "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
    ]  # fmt: skip
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}

    def kept(caps, **host):
        return [name for rule in to_oci(profile, caps, **host)["syscalls"] for name in rule["names"]]

    assert kept([]) == ["b", "d", "g"]
    assert kept(["CAP_SYS_ADMIN"]) == ["d", "g"]
    assert kept(["CAP_SYS_ADMIN", "CAP_BPF"]) == ["a", "d", "g"]
    assert kept([], machine="aarch64", kernel="6.2.1") == ["b", "c", "e", "g"]
    assert kept([], kernel="4.4.0") == ["b", "d", "f", "g"]
    assert to_oci(profile)["syscalls"][-1] == {
        "names": ["g"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
    }  # fmt: skip


def test_the_arch_map_entry_of_the_native_arch_gives_the_arches():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
    }
    assert to_oci(profile) == {
        "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [],
    }  # fmt: skip
    assert to_oci(profile, machine="aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("{not json", "Decoding seccomp profile failed"),
        ("[]", "Decoding seccomp profile failed: the profile must be a JSON object"),
        ("{}", "defaultAction is required"),
        ('{"defaultAction": "SCMP_ACT_SOMETIMES"}', 'seccomp.defaultAction: unknown action "SCMP_ACT_SOMETIMES"'),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{}]}',
         "use either 'architectures' or 'archMap'"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_LOG"}]}',
         "use either 'name' or 'names'"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_LOG",'
         ' "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', r"seccomp.syscalls\[0\].args\[0\].index"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG",'
         ' "includes": {"minKernel": "new"}}]}', "invalid kernel version 'new'"),
    ],
)  # fmt: skip
def test_a_bad_profile_is_refused_at_create_with_the_field_it_got_wrong(profile, message):
    with pytest.raises(InvalidParameter, match=message):
        seccomp_profile.check(profile, [])


def test_unknown_syscall_names_are_accepted_as_runc_skips_them():
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]})  # fmt: skip
    seccomp_profile.check(text, [])


def test_notify_needs_an_agent_dockyard_does_not_have():
    with pytest.raises(Unsupported):
        seccomp_profile.check('{"defaultAction": "SCMP_ACT_NOTIFY"}', [])


def test_the_default_profile_is_an_allowlist_that_caps_extend():
    plain = default_seccomp.profile(list(container_spec.DOCKER_CAPS))
    admin = default_seccomp.profile([*container_spec.DOCKER_CAPS, "CAP_SYS_ADMIN"])
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["defaultErrnoRet"] == 1

    def unconditional(spec):
        return {n for rule in spec["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" and "args" not in rule
                for n in rule["names"]}  # fmt: skip

    assert {"read", "execve", "chroot"} <= unconditional(plain)
    assert not {"mount", "unshare", "clone", "clone3", "keyctl", "swapon"} & unconditional(plain)
    assert {"mount", "unshare", "clone", "clone3"} <= unconditional(admin)
    assert "keyctl" not in unconditional(admin)
    assert "chroot" not in unconditional(default_seccomp.profile(["CAP_CHOWN"]))


def test_the_spec_follows_the_security_options(tmp_path):
    def spec(*options, privileged=False, **paths):
        host_config = {"SecurityOpt": list(options), "Privileged": privileged, **paths}
        return container_spec.build(container_id="c" * 64, container_dir=str(tmp_path), rootfs=str(tmp_path),
                                    image_config={"Cmd": ["true"]}, config={}, host_config=host_config,
                                    hostname="c" * 12, netns_path=None)  # fmt: skip

    assert spec()["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "seccomp" not in spec("seccomp=unconfined")["linux"]
    assert "seccomp" not in spec(privileged=True)["linux"]
    custom = spec('seccomp={"defaultAction": "SCMP_ACT_LOG"}')["linux"]["seccomp"]
    assert custom["defaultAction"] == "SCMP_ACT_LOG"
    assert spec("no-new-privileges")["process"]["noNewPrivileges"] is True
    assert spec()["process"]["noNewPrivileges"] is False
    assert spec("systempaths=unconfined")["linux"]["maskedPaths"] == []
    assert "/proc/timer_list" in spec()["linux"]["maskedPaths"]
    assert spec(MaskedPaths=["/proc/keys"], ReadonlyPaths=[])["linux"]["maskedPaths"] == ["/proc/keys"]
