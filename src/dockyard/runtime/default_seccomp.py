"""The seccomp filter a container gets unless it is privileged or asks for `seccomp=unconfined`.

Docker's default profile is an allowlist of ~350 calls. This one is the other
way round, and smaller: it refuses (EPERM) the calls docker's documentation
lists as blocked by its default profile ("Significant syscalls blocked by the
default profile"), unless the container holds the capability that makes the
call legitimate, as docker's profile does for the same groups. Calls added to
the kernel later are therefore allowed here where docker would refuse them: an
allowlist of our own is the follow-up (noted in docs/engine.md).
"""

from __future__ import annotations

import os

# capability that lets a container make these calls (None: never)
_GATED: dict[str | None, tuple[str, ...]] = {
    None: (
        "create_module", "get_kernel_syms", "query_module", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
        "vm86", "vm86old", "lookup_dcookie", "add_key", "request_key", "keyctl", "userfaultfd", "perf_event_open",
    ),
    "CAP_SYS_ADMIN": (
        "mount", "umount", "umount2", "unshare", "setns", "pivot_root", "swapon", "swapoff", "quotactl", "bpf",
        "fanotify_init", "name_to_handle_at", "open_by_handle_at", "clone3",
    ),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_BOOT": ("reboot", "kexec_load", "kexec_file_load"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "adjtimex"),
    "CAP_SYS_PTRACE": ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_NICE": ("get_mempolicy", "set_mempolicy", "mbind", "move_pages"),
}  # fmt: skip

_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def profile(capabilities: list[str]) -> dict:
    """linux.seccomp for a container holding these capabilities."""
    refused = [name for cap, names in _GATED.items() if cap not in capabilities for name in names]
    # clone3 cannot be filtered on its flags (they sit in a struct): refuse it with ENOSYS, so that
    # the C library falls back to clone, as docker's profile does.
    enosys = ["clone3"] if "clone3" in refused else []
    rules = [{"names": [n for n in refused if n not in enosys], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    if enosys:
        rules.append({"names": enosys, "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": _ARCHES.get(os.uname().machine, []),
        "syscalls": rules,
    }
