"""The default profile installed into this host's kernel: what a container may and may not call.

Every refused call is made with arguments the kernel itself would reject or that do no harm, so
that an allowed call answers with something other than the filter's EPERM (EINVAL, EFAULT...).
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from dockyard.kernel import constants as k
from dockyard.kernel import libc
from dockyard.runtime.container_spec import DOCKER_CAPS
from dockyard.runtime.default_seccomp import CLONE_NAMESPACE_FLAGS, profile
from support.seccomp_child import NATIVE, NR, in_filtered_child, raw, raw_nr

pytestmark = [
    pytest.mark.skipif(NATIVE is None, reason="no syscall table for this host"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the capability checks behind the filter need root"),
]
CLONE_NEWUSER, CLONE_NEWUTS, SIGCHLD = 0x10000000, 0x04000000, 17
AF_UNIX, AF_VSOCK, SOCK_STREAM = 1, 40, 1
BOGUS_CLOCK = 0x7FFF


def run_with(caps: list[str], calls, prepare=None) -> object:
    status, report = in_filtered_child(profile(caps), calls, prepare=prepare)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    return report["result"]


def test_ordinary_programs_run_under_the_default_profile(tmp_path):
    (tmp_path / "file").write_text("hello")

    def calls():
        done = subprocess.run(["sh", "-c", "ls / >/dev/null && date >/dev/null && cat $0", tmp_path / "file"],
                              capture_output=True, text=True)  # fmt: skip
        return [done.returncode, done.stdout, sorted(os.listdir(tmp_path)), raw("personality", 0xFFFFFFFF) >= 0]

    assert run_with(list(DOCKER_CAPS), calls) == [0, "hello", ["file"], True]


def test_what_docker_s_profile_blocks_fails_with_eperm():
    def calls():
        return {
            "unshare": raw("unshare", CLONE_NEWUSER),
            "mount": raw("mount", 0, 0, 0, 0, 0),
            "umount2": raw("umount2", 0, 0),
            "keyctl": raw("keyctl", 0, 0),
            "add_key": raw("add_key", 0, 0, 0, 0, 0),
            "reboot": raw("reboot", 0, 0, 0, 0),
            "swapon": raw("swapon", 0, 0),
            "kexec_load": raw("kexec_load", 0, 0, 0, 0),
            "clock_settime": raw("clock_settime", BOGUS_CLOCK, 0),
            "settimeofday": raw("settimeofday", 0, 0),
            "process_vm_readv": raw("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0),
            "init_module": raw("init_module", 0, 0, 0),
            "bpf": raw("bpf", 0, 0, 0),
            "userfaultfd": raw("userfaultfd", 0),
            "io_uring_setup": raw("io_uring_setup", 0, 0),
            "clone with a namespace flag": raw("clone", SIGCHLD | CLONE_NEWUTS, 0, 0, 0, 0),
            "personality change": raw("personality", 0x0040000),  # ADDR_NO_RANDOMIZE
            "vsock": raw("socket", AF_VSOCK, SOCK_STREAM, 0),
        }

    refused = run_with(list(DOCKER_CAPS), calls)
    assert refused == dict.fromkeys(refused, -errno.EPERM)


def test_calls_the_list_does_not_name_are_refused():
    newer = max(NR.values()) + 1  # a call newer than every table: unknown to the profile

    def calls():
        return [raw_nr(newer), raw("clone3", 0, 0), raw("io_uring_setup", 0, 0)]

    # As with docker 28 and runc: ENOSYS above the profile's last call (the C library falls back,
    # as it does for clone3), EPERM for a known call the list leaves out.
    assert run_with(list(DOCKER_CAPS), calls) == [-errno.ENOSYS, -errno.ENOSYS, -errno.EPERM]


def test_a_capability_opens_its_group():
    def calls():
        return {
            "CAP_SYS_ADMIN": [raw("unshare", CLONE_NEWUTS), raw("mount", 0, 0, 0, 0, 0)],
            "CAP_SYS_TIME": [raw("clock_settime", BOGUS_CLOCK, 0)],
            "CAP_SYS_PTRACE": [raw("process_vm_readv", os.getpid(), 0, 0, 0, 0, 0)],
            "CAP_SYS_BOOT": [raw("reboot", 0, 0, 0, 0)],
        }

    default = run_with(list(DOCKER_CAPS), calls)
    opened = {cap: run_with([*DOCKER_CAPS, cap], calls)[cap] for cap in default}
    assert default == {cap: [-errno.EPERM] * len(results) for cap, results in default.items()}
    assert opened == {
        "CAP_SYS_ADMIN": [0, -errno.EFAULT],
        "CAP_SYS_TIME": [-errno.EINVAL],
        "CAP_SYS_PTRACE": [0],
        "CAP_SYS_BOOT": [-errno.EINVAL],  # wrong magic numbers: the kernel, not the filter, says no
    }


def test_clone_flags_are_checked_but_plain_forks_pass():
    assert CLONE_NAMESPACE_FLAGS & CLONE_NEWUSER

    def calls():
        child = subprocess.run(["true"])
        return [child.returncode, raw("clone", SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0)]

    assert run_with(list(DOCKER_CAPS), calls) == [0, -errno.EPERM]


def test_unix_sockets_and_ptrace_stay_available():
    def calls():
        fd = raw("socket", AF_UNIX, SOCK_STREAM, 0)
        os.close(fd)
        return [fd > 0, raw("ptrace", 0xFFFF, 0, 0, 0)]  # nothing traced: the kernel answers ESRCH

    assert run_with(list(DOCKER_CAPS), calls) == [True, -errno.ESRCH]


def read_only_copy(rootfs: str, where: str):
    """A prepare step: rootfs bound read-only on where, in a mount namespace of the child's own, with
    a tmpfs on its /dev. The rootfs is the tests' shared cache: nothing run in it may write there
    (apt and dpkg create /dev/null as a file when it is missing)."""

    def prepare() -> None:
        libc.unshare(k.CLONE_NEWNS)
        libc.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
        libc.mount(rootfs, where, None, k.MS_BIND | k.MS_REC)
        libc.mount(None, where, None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY)
        libc.mount("tmpfs", os.path.join(where, "dev"), "tmpfs", 0, "mode=755")

    return prepare


def test_debian_s_tools_run_under_the_default_profile(debian_rootfs, tmp_path):
    # chroot is in the profile for holders of CAP_SYS_CHROOT, one of docker's default capabilities.
    script = "apt-get --version | head -1 && dpkg --version | head -1 && dpkg -l | grep -c '^ii' && ls -l /etc | wc -l"
    where = str(tmp_path / "dy-debian")
    os.mkdir(where)

    def calls():
        done = subprocess.run(["chroot", where, "sh", "-c", script], capture_output=True, text=True,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
        return [done.returncode, done.stdout.splitlines(), done.stderr]

    code, lines, stderr = run_with(list(DOCKER_CAPS), calls, prepare=read_only_copy(debian_rootfs, where))
    assert code == 0, stderr
    assert lines[0].startswith("apt ") and "dpkg" in lines[1] and int(lines[2]) > 50 and int(lines[3]) > 20
    assert os.listdir(os.path.join(debian_rootfs, "dev")) == []
