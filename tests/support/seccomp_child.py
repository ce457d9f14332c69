"""Filters installed into this host's kernel, in a child process.

Each call forks: the child sets no_new_privs, installs a filter, makes its calls and reports what
the kernel answered through a pipe, then exits. The parent (the test process) is never filtered.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable

from dockyard.kernel import libc
from dockyard.kernel.constants import PR_SET_NO_NEW_PRIVS
from dockyard.kernel.seccomp import compile_filter, install
from dockyard.kernel.syscalls import TABLES

# The raw syscall(2) of the C library: the tests call numbers no wrapper of ours names.
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long

NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(os.uname().machine)
NR = TABLES.get(NATIVE, {})


def in_filtered_child(
    spec: dict | None,
    calls: Callable[[], object],
    flags: list[str] | None = None,
    prepare: Callable[[], None] | None = None,
) -> tuple:
    """(wait status, what calls() returned) from a child that installed spec's filter first
    (after prepare(), if given, which runs unfiltered)."""
    program = compile_filter(spec) if spec is not None else None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read_end)
            if prepare is not None:
                prepare()
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


def raw(name: str, *args: int) -> int:
    """The syscall's return value or -errno, with every argument passed as a full 64-bit word."""
    return raw_nr(NR[name], *args)


def raw_nr(nr: int, *args: int) -> int:
    """raw() by number, for calls no table names."""
    result = _LIBC.syscall(nr, *(ctypes.c_ulong(a) for a in args))
    return -ctypes.get_errno() if result < 0 else result
