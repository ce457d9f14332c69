"""Compiled filters installed into this host's kernel.

Each test forks: the child sets no_new_privs, installs a filter, makes its calls and reports what
the kernel answered through a pipe, then exits. The parent (the test process) is never filtered.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
from collections.abc import Callable

import pytest

from dockyard.kernel import libc
from dockyard.kernel.constants import PR_SET_NO_NEW_PRIVS
from dockyard.kernel.seccomp import compile_filter, install
from dockyard.kernel.syscalls import TABLES

NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(os.uname().machine)
pytestmark = pytest.mark.skipif(NATIVE is None, reason="no syscall table for this host")
NR = TABLES.get(NATIVE, {})


def in_filtered_child(spec: dict | None, calls: Callable[[], object], flags: list[str] | None = None) -> tuple:
    """(wait status, what calls() returned) from a child that installed spec's filter first."""
    program = compile_filter(spec) if spec is not None else None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read_end)
            libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
            if program is not None:
                install(program, flags)
            report = {"result": calls()}
        except BaseException as exc:
            report, code = {"error": f"{type(exc).__name__}: {exc}", "errno": getattr(exc, "errno", None)}, 1
        try:
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    return status, json.loads(data) if data else None


_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long


def raw(name: str, *args: int) -> int:
    """The syscall's return value or -errno, with every argument passed as a full 64-bit word."""
    result = _LIBC.syscall(NR[name], *(ctypes.c_ulong(a) for a in args))
    return -ctypes.get_errno() if result < 0 else result


def allow_all_but(*entries: dict) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(entries)}


def test_a_denied_syscall_returns_the_profile_errno(tmp_path):
    spec = allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS})
    target = tmp_path / "made"

    def calls():
        try:
            os.mkdir(target)
        except OSError as exc:
            return exc.errno
        return 0

    status, report = in_filtered_child(spec, calls)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == {"result": errno.ENOSYS}
    assert not target.exists()


def test_allowed_syscalls_still_work(tmp_path):
    spec = allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES})
    (tmp_path / "file").write_text("hello")

    def calls():
        with open(tmp_path / "file") as f:
            return [os.getppid(), f.read()]

    status, report = in_filtered_child(spec, calls)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == {"result": [os.getpid(), "hello"]}


def test_an_argument_rule_tells_personality_queries_from_changes():
    query, per_linux32 = 0xFFFFFFFF, 8
    spec = allow_all_but(
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EACCES,
            "args": [{"index": 0, "value": query, "op": "SCMP_CMP_NE"}],
        }
    )
    status, report = in_filtered_child(spec, lambda: [raw("personality", query), raw("personality", per_linux32)])
    assert os.WIFEXITED(status), report
    current, changed = report["result"]
    assert current >= 0
    assert changed == -errno.EACCES


def test_the_kernel_sees_the_high_half_of_64_bit_arguments():
    # getpid ignores its arguments, but the filter sees all 64 bits of each register.
    spec = allow_all_but(
        {
            "names": ["getpid"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 42,
            "args": [{"index": 0, "value": 0x1_0000_0005, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["getppid"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 43,
            "args": [{"index": 1, "value": 0x1_0000_0000, "op": "SCMP_CMP_GE"}],
        },
    )

    def calls():
        return [
            raw("getpid", 5),
            raw("getpid", 0x1_0000_0005),
            raw("getppid", 0, 0xFFFF_FFFF),
            raw("getppid", 0, 1 << 32),
        ]

    status, report = in_filtered_child(spec, calls)
    assert os.WIFEXITED(status), report
    pid_plain, pid_high, ppid_below, ppid_at = report["result"]
    assert pid_plain > 0 and ppid_below == os.getpid()
    assert (pid_high, ppid_at) == (-42, -43)


def test_kill_process_ends_the_child_with_sigsys():
    spec = allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"})
    status, report = in_filtered_child(spec, os.getppid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    assert report is None


def test_flags_are_passed_to_the_kernel():
    spec = allow_all_but({"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7})
    flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    status, report = in_filtered_child(spec, lambda: raw("getpid"), flags)
    assert os.WIFEXITED(status), report
    assert report == {"result": -7}


def test_a_docker_like_profile_loads_and_filters():
    denied = {"mount", "umount2", "unshare", "setns", "reboot", "personality", "clone", "clone3", "kexec_load"}
    spec = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] if NATIVE == "SCMP_ARCH_X86_64" else ["SCMP_ARCH_ARM"],
        "syscalls": [
            {"names": sorted(set(NR) - denied), "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
            },
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
        ],
    }
    clone_newuts = 0x04000000

    def calls():
        return [raw("unshare", clone_newuts), raw("clone3", 0, 0), raw("personality", 0xFFFFFFFF) >= 0, os.getpid() > 0]

    status, report = in_filtered_child(spec, calls)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, report
    assert report == {"result": [-errno.EPERM, -errno.ENOSYS, True, True]}


def test_a_program_the_kernel_rejects_is_an_oserror_naming_the_step():
    load_without_return = bytes.fromhex("2000000000000000")
    status, report = in_filtered_child(None, lambda: install(load_without_return))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1
    assert report["errno"] == errno.EINVAL
    assert report["error"].startswith("OSError: [Errno 22] seccomp install: Invalid argument")


def test_the_kernel_accepts_long_jumps_through_trampolines():
    names = sorted(NR, key=NR.get)[:200]
    spec = allow_all_but(
        *(
            {
                "names": [name],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 100 + i,
                "args": [{"index": 0, "value": NR[name] << 32 | i, "op": "SCMP_CMP_EQ"}],
            }
            for i, name in enumerate(names)
        )
    )
    program = compile_filter(spec)
    opcodes = {int.from_bytes(program[i : i + 2], "little") for i in range(0, len(program), 8)}
    assert 0x05 in opcodes and len(program) // 8 > 1000  # BPF_JMP | BPF_JA: some jumps needed a trampoline
    i = names.index("getpid")

    def calls():
        return [raw("getpid", NR["getpid"] << 32 | i), raw("getpid", i)]

    status, report = in_filtered_child(spec, calls)
    assert os.WIFEXITED(status), report
    assert report["result"][0] == -(100 + i)
    assert report["result"][1] > 0
