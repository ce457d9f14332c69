"""The seccomp compiler, checked by running its BPF in a small interpreter.

The interpreter below executes classic BPF the way the kernel's seccomp does (loads from
struct seccomp_data, AND, forward jumps, return) and also checks what the kernel's verifier
checks. `reference()` is a direct reading of the profile semantics documented in
dockyard.kernel.seccomp; hypothesis compares the two on random profiles and random calls.
"""

from __future__ import annotations

import errno
import functools
import os
import random
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel import seccomp
from dockyard.kernel.seccomp import compile_filter
from dockyard.kernel.syscalls import TABLES

# <linux/seccomp.h> and <linux/audit.h>, restated so the test does not trust the module's copy.
KILL_THREAD, KILL_PROCESS, TRAP, ERRNO, TRACE, LOG, ALLOW = (
    0,
    0x80000000,
    0x00030000,
    0x00050000,
    0x7FF00000,
    0x7FFC0000,
    0x7FFF0000,
)
ACTION_VALUES = {
    "SCMP_ACT_KILL": KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": KILL_PROCESS,
    "SCMP_ACT_TRAP": TRAP,
    "SCMP_ACT_ERRNO": ERRNO,
    "SCMP_ACT_TRACE": TRACE,
    "SCMP_ACT_LOG": LOG,
    "SCMP_ACT_ALLOW": ALLOW,
}
AUDIT = {
    "SCMP_ARCH_X86_64": 0xC000003E,
    "SCMP_ARCH_X86": 0x40000003,
    "SCMP_ARCH_X32": 0xC000003E,
    "SCMP_ARCH_AARCH64": 0xC00000B7,
    "SCMP_ARCH_ARM": 0x40000028,
}
LOW_ONLY = {"SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_ARM"}
X32_BIT = 0x40000000
M32 = 0xFFFFFFFF
M64 = 2**64 - 1
X86_64, X86, X32 = "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"
AARCH64, ARM = "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"
NR = TABLES[X86_64]


# ---- building profiles ------------------------------------------------------------------------------------


def rule(names: str | list[str], action: str, **fields: object) -> dict:
    return {"names": [names] if isinstance(names, str) else names, "action": action, **fields}


def arg(index: int, op: str, value: int, value_two: int | None = None) -> dict:
    out = {"index": index, "op": f"SCMP_CMP_{op}", "value": value}
    if value_two is not None:
        out["valueTwo"] = value_two
    return out


def profile(*entries: dict, arches: list[str] | None = None) -> dict:
    spec: dict = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(entries)}
    if arches is not None:
        spec["architectures"] = arches
    return spec


# ---- a classic BPF interpreter with the kernel's seccomp checks ----------------------------------

LD, AND, JA, JEQ, JGT, JGE, RET = 0x20, 0x54, 0x05, 0x15, 0x25, 0x35, 0x06
SECCOMP_DATA = struct.Struct("<IIQ6Q")  # nr, arch, instruction_pointer, args[6]


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    assert len(program) % 8 == 0 and program
    return [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]


@functools.lru_cache(maxsize=16)
def verify(program: bytes) -> list[tuple[int, int, int, int]]:
    """What the kernel's bpf_check_classic and seccomp_check_filter reject, as assertions."""
    insns = decode(program)
    assert len(insns) <= 4096
    for pc, (code, jt, jf, k) in enumerate(insns):
        if code == LD:
            assert k % 4 == 0 and k < SECCOMP_DATA.size, f"{pc}: load outside seccomp_data"
        elif code == JA:
            assert pc + 1 + k < len(insns), f"{pc}: ja out of the program"
        elif code in (JEQ, JGT, JGE):
            assert pc + 1 + max(jt, jf) < len(insns), f"{pc}: jump out of the program"
        else:
            assert code in (AND, RET), f"{pc}: opcode {code:#x}"
    assert insns[-1][0] == RET, "the last instruction must return"
    return insns


def run(program: bytes, arch: int, nr: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """The SECCOMP_RET_* value the program returns for one system call."""
    insns = verify(program)
    data = SECCOMP_DATA.pack(nr & M32, arch, 0, *args)
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == RET:
            return k
        if code == LD:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == AND:
            acc &= k
        elif code == JA:
            pc += k
        else:
            taken = {JEQ: acc == k, JGT: acc > k, JGE: acc >= k}[code]
            pc += jt if taken else jf
        pc += 1


# ---- the semantics, read straight from the profile ------------------------------------------------


def action_value(name: str, errno_ret: int | None) -> int:
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        return ACTION_VALUES[name] | (1 if errno_ret is None else errno_ret)
    return ACTION_VALUES[name]


def holds(condition: dict, args: tuple[int, ...], low_only: bool) -> bool:
    width = M32 if low_only else M64
    arg = args[condition["index"]] & width
    value = condition["value"] & width
    two = condition.get("valueTwo", 0) & width
    return {
        "SCMP_CMP_EQ": arg == value,
        "SCMP_CMP_NE": arg != value,
        "SCMP_CMP_LT": arg < value,
        "SCMP_CMP_LE": arg <= value,
        "SCMP_CMP_GT": arg > value,
        "SCMP_CMP_GE": arg >= value,
        "SCMP_CMP_MASKED_EQ": arg & value == two,
    }[condition["op"]]


def enosys_stub(spec: dict, default: int, arch: int, nr: int) -> bool:
    """Whether runc's stub answers ENOSYS: nr is above every call the profile names for a listed arch."""
    if default & 0xFFFF0000 in (ACTION_VALUES["SCMP_ACT_ALLOW"], ACTION_VALUES["SCMP_ACT_LOG"],
                                ACTION_VALUES["SCMP_ACT_TRACE"]):  # fmt: skip
        return False
    for listed in dict.fromkeys(a for a in spec.get("architectures") or [] if a in AUDIT):
        if AUDIT[listed] != arch:
            continue
        top = max((TABLES[listed][n] for e in spec["syscalls"] for n in e["names"] if n in TABLES[listed]), default=0)
        in_mode = arch != AUDIT[X86_64] or bool(nr & X32_BIT) == (listed == X32)
        if top and in_mode and nr > top:
            return True
    return False


def reference(spec: dict, native: str, arch: int, nr: int, args: tuple[int, ...]) -> int:
    default = action_value(spec["defaultAction"], spec.get("defaultErrnoRet"))
    if enosys_stub(spec, default, arch, nr):
        return ACTION_VALUES["SCMP_ACT_ERRNO"] | errno.ENOSYS
    listed = {native, *(a for a in spec.get("architectures") or [] if a in AUDIT)}
    if arch == AUDIT[X86_64]:
        if nr == M32 and listed & {X86_64, X32}:
            return default  # -1, a tracer skipping the call, is no bad arch
        seccomp_arch = X32 if nr >= X32_BIT else X86_64  # libseccomp compares, not masks
    else:
        seccomp_arch = next((a for a in AUDIT if AUDIT[a] == arch), None)
    if seccomp_arch not in listed:
        return KILL_THREAD
    table = TABLES[seccomp_arch]
    rules = []
    for entry in spec.get("syscalls") or []:
        action = action_value(entry["action"], entry.get("errnoRet"))
        if action == default or not any(table.get(name) == nr for name in entry["names"]):
            continue
        conditions = entry.get("args") or []
        if len({c["index"] for c in conditions}) < len(conditions):
            rules += [(action, [c]) for c in conditions]
        else:
            rules.append((action, conditions))
    for action, conditions in rules:
        if not conditions:
            return action
    for action, conditions in rules:
        if all(holds(c, args, seccomp_arch in LOW_ONLY) for c in conditions):
            return action
    return default


# ---- random profiles ----------------------------------------------------------------------------

INTERESTING = [0, 1, 2, 8, 40, 0x7FFFFFFF, 0x80000000, M32, 1 << 32, 0x100000008, 0xFFFFFFFE << 32, M32 << 32, M64]
values = st.one_of(st.sampled_from(INTERESTING), st.integers(0, M64), st.integers(0, 300))
OPS = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"]
NAMES = sorted({*TABLES[X86_64], *TABLES[X32], *TABLES[AARCH64]} | {"not_a_syscall"})


@st.composite
def actions(draw: st.DrawFn, key: str = "action", errno_key: str = "errnoRet") -> dict:
    name = draw(st.sampled_from(sorted(ACTION_VALUES)))
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE") and draw(st.booleans()):
        return {key: name, errno_key: draw(st.sampled_from([0, 1, 13, 38, 0xFFFF]))}
    return {key: name}


conditions = st.fixed_dictionaries(
    {"index": st.integers(0, 5), "op": st.sampled_from(OPS), "value": values},
    optional={"valueTwo": values},
)


@st.composite
def profiles(draw: st.DrawFn) -> dict:
    pool = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=12, unique=True))
    entries = []
    for _ in range(draw(st.integers(0, 10))):
        entry = {"names": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4)), **draw(actions())}
        args = draw(st.lists(conditions, max_size=3))
        if args:
            entry["args"] = args
        entries.append(entry)
    spec = {**draw(actions("defaultAction", "defaultErrnoRet")), "syscalls": entries}
    spec["architectures"] = draw(st.lists(st.sampled_from([X86_64, X86, X32, AARCH64, ARM, "SCMP_ARCH_PPC64LE"])))
    return spec


def interesting_args(spec: dict) -> list[int]:
    """Values at and around every value a rule compares with."""
    found = set(INTERESTING)
    for entry in spec["syscalls"]:
        for c in entry.get("args", []):
            for v in (c["value"], c.get("valueTwo", 0)):
                found |= {v, (v + 1) & M64, (v - 1) & M64, v ^ (1 << 32), v & M32, v | (M32 << 32)}
    return sorted(found)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=profiles(), native=st.sampled_from([X86_64, AARCH64]), seed=st.integers(0, 2**32))
def test_random_profiles_behave_like_the_reference(spec, native, seed):
    # The calls come from a Random seeded by hypothesis: drawing each through hypothesis costs 20x
    # more, and the assertion message names the failing call anyway.
    rng = random.Random(seed)
    program = compile_filter(spec, native=native)
    candidates = interesting_args(spec)
    named = [name for entry in spec["syscalls"] for name in entry["names"]]
    for _ in range(60):
        seccomp_arch = rng.choice(sorted(AUDIT))
        arch = AUDIT[seccomp_arch] if rng.random() < 0.9 else 0x4000003E
        table = TABLES[seccomp_arch]
        nr = rng.choice(
            [
                rng.choice([table[n] for n in named if n in table] or [0]),
                rng.choice([0, M32, X32_BIT, X32_BIT - 1, 0x400]),
                rng.randrange(M32 + 1),
            ]
        )
        args = tuple(rng.choice(candidates) for _ in range(6))
        assert run(program, arch, nr, args) == reference(spec, native, arch, nr, args), (seccomp_arch, nr, args)


# ---- argument comparisons at their edges ----------------------------------------------------------

BOUNDARIES = [0, 1, 0xFFFFFFFE, M32, 1 << 32, (1 << 32) + 1, 0x1FFFFFFFF, 0xFFFFFFFE << 32, M32 << 32, M64 - 1, M64]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("value", BOUNDARIES)
@pytest.mark.parametrize("masked_bits", [0xF0000000F, 1 << 32], ids=["inside-mask", "outside-mask"])
def test_64_bit_comparisons_at_boundaries(op, value, masked_bits):
    # valueTwo only matters to MASKED_EQ: within the mask it can match, with a bit outside never.
    rule = {"index": 2, "op": op, "value": value, "valueTwo": value & masked_bits | masked_bits & (1 << 32)}
    spec = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_TRAP", "args": [rule]}],
    }
    program = compile_filter(spec, native=X86_64)
    for arg in {*BOUNDARIES, value, (value + 1) & M64, (value - 1) & M64, value ^ (1 << 32)}:
        args = (0, 0, arg, 0, 0, 0)
        expected = TRAP if holds(rule, args, low_only=False) else ALLOW
        assert run(program, AUDIT[X86_64], NR["getpid"], args) == expected, hex(arg)


def test_equal_compares_the_high_half_on_64_bit_arches():
    spec = profile(rule("getpid", "SCMP_ACT_ERRNO", errnoRet=42, args=[arg(0, "EQ", 0x100000005)]))
    program = compile_filter(spec, native=X86_64)
    assert run(program, AUDIT[X86_64], NR["getpid"], (0x100000005, 0, 0, 0, 0, 0)) == ERRNO | 42
    assert run(program, AUDIT[X86_64], NR["getpid"], (5, 0, 0, 0, 0, 0)) == ALLOW
    assert run(program, AUDIT[X86_64], NR["getpid"], (0x200000005, 0, 0, 0, 0, 0)) == ALLOW


def test_32_bit_arches_compare_only_the_low_half_like_libseccomp():
    spec = profile(rule("getpid", "SCMP_ACT_ERRNO", errnoRet=42, args=[arg(0, "EQ", 0x100000005)]), arches=[X86])
    program = compile_filter(spec, native=X86_64)
    assert run(program, AUDIT[X86], TABLES[X86]["getpid"], (5, 0, 0, 0, 0, 0)) == ERRNO | 42


def test_masked_eq_takes_the_mask_from_value_and_the_result_from_value_two():
    clone_ns_flags = 0x7E020000  # docker's rule: clone only without namespace flags
    spec = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [arg(0, "MASKED_EQ", clone_ns_flags, 0)]}
        ],
    }
    program = compile_filter(spec, native=X86_64)
    assert run(program, AUDIT[X86_64], NR["clone"], (0x01200011, 0, 0, 0, 0, 0)) == ALLOW  # fork()'s flags
    assert run(program, AUDIT[X86_64], NR["clone"], (0x10000000, 0, 0, 0, 0, 0)) == ERRNO | 1  # CLONE_NEWUSER
    assert run(program, AUDIT[X86_64], NR["clone"], (0x1_0000_0000, 0, 0, 0, 0, 0)) == ALLOW


# ---- rule combination -----------------------------------------------------------------------------


def test_a_rule_without_args_makes_the_syscall_unconditional_whatever_the_order():
    conditional = rule("getpid", "SCMP_ACT_ERRNO", errnoRet=5, args=[arg(0, "EQ", 1)])
    unconditional = rule("getpid", "SCMP_ACT_TRAP")
    for entries in ([conditional, unconditional], [unconditional, conditional]):
        program = compile_filter(profile(*entries), native=X86_64)
        for first in (0, 1):
            assert run(program, AUDIT[X86_64], NR["getpid"], (first, 0, 0, 0, 0, 0)) == TRAP


def test_the_first_unconditional_rule_wins():
    spec = profile(rule("getpid", "SCMP_ACT_TRAP"), rule("getpid", "SCMP_ACT_LOG"))
    assert run(compile_filter(spec, native=X86_64), AUDIT[X86_64], NR["getpid"]) == TRAP


def test_args_of_one_rule_must_all_hold_and_rules_are_alternatives():
    spec = profile(
        rule("getpid", "SCMP_ACT_TRAP", args=[arg(0, "EQ", 1), arg(1, "EQ", 2)]),
        rule("getpid", "SCMP_ACT_LOG", args=[arg(2, "EQ", 3)]),
    )
    program = compile_filter(spec, native=X86_64)
    call = lambda *args: run(program, AUDIT[X86_64], NR["getpid"], (*args, 0, 0, 0))  # noqa: E731
    assert call(1, 2, 0) == TRAP
    assert call(1, 0, 3) == LOG
    assert call(1, 2, 3) == TRAP  # spec order
    assert call(1, 0, 0) == ALLOW


def test_an_index_named_twice_splits_the_rule_like_runc():
    spec = profile(rule("getpid", "SCMP_ACT_TRAP", args=[arg(0, "EQ", 1), arg(0, "EQ", 2)]))
    program = compile_filter(spec, native=X86_64)
    for first, expected in ((1, TRAP), (2, TRAP), (3, ALLOW)):
        assert run(program, AUDIT[X86_64], NR["getpid"], (first, 0, 0, 0, 0, 0)) == expected


def test_a_rule_repeating_the_default_action_shadows_nothing():
    spec = profile(rule("getpid", "SCMP_ACT_ALLOW"), rule("getpid", "SCMP_ACT_ERRNO", errnoRet=7))
    assert run(compile_filter(spec, native=X86_64), AUDIT[X86_64], NR["getpid"]) == ERRNO | 7


def test_errno_and_trace_default_to_eperm_and_errno_ret_sets_the_data():
    spec = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [rule("getpid", "SCMP_ACT_TRACE"), rule("getppid", "SCMP_ACT_TRACE", errnoRet=9)],
    }
    program = compile_filter(spec, native=X86_64)
    assert run(program, AUDIT[X86_64], NR["getpid"]) == TRACE | 1
    assert run(program, AUDIT[X86_64], NR["getppid"]) == TRACE | 9
    assert run(program, AUDIT[X86_64], NR["gettid"]) == ERRNO | 1
    spec["defaultErrnoRet"] = 38
    assert run(compile_filter(spec, native=X86_64), AUDIT[X86_64], NR["gettid"]) == ERRNO | 38


def test_unknown_names_are_skipped():
    spec = profile(rule(["no_such_call", "getpid"], "SCMP_ACT_TRAP"), rule("arm_fadvise64_64", "SCMP_ACT_LOG"))
    program = compile_filter(spec, native=X86_64)
    assert run(program, AUDIT[X86_64], NR["getpid"]) == TRAP


# ---- architectures ------------------------------------------------------------------------------


def test_an_unlisted_arch_is_killed_and_a_listed_one_uses_its_own_numbers():
    spec = profile(rule("getpid", "SCMP_ACT_TRAP"))
    native_only = compile_filter(spec, native=X86_64)
    assert run(native_only, AUDIT[X86], TABLES[X86]["getpid"]) == KILL_THREAD
    assert run(native_only, 0x12345678, 0) == KILL_THREAD
    with_x86 = compile_filter({**spec, "architectures": [X86]}, native=X86_64)
    assert run(with_x86, AUDIT[X86], TABLES[X86]["getpid"]) == TRAP
    assert run(with_x86, AUDIT[X86], NR["getpid"]) == ALLOW  # 39 is umount on i386


def test_x32_calls_are_killed_unless_x32_is_listed():
    spec = profile(rule("getpid", "SCMP_ACT_TRAP"))
    x32_getpid = TABLES[X32]["getpid"]
    assert x32_getpid == X32_BIT | NR["getpid"]
    without = compile_filter(spec, native=X86_64)
    assert run(without, AUDIT[X86_64], x32_getpid) == KILL_THREAD
    assert run(without, AUDIT[X86_64], X32_BIT + 600) == KILL_THREAD
    assert run(without, AUDIT[X86_64], M32) == ALLOW  # -1: a tracer skipping the call
    with_x32 = compile_filter({**spec, "architectures": [X86_64, X32]}, native=X86_64)
    assert run(with_x32, AUDIT[X86_64], x32_getpid) == TRAP
    assert run(with_x32, AUDIT[X86_64], X32_BIT + 600) == ALLOW
    assert run(with_x32, AUDIT[X86_64], NR["getpid"]) == TRAP


def test_aarch64_host_filters_arm_with_its_private_calls():
    spec = profile(rule(["set_tls", "getpid"], "SCMP_ACT_TRAP"), arches=[ARM])
    program = compile_filter(spec, native=AARCH64)
    assert run(program, AUDIT[ARM], 0x0F0005) == TRAP
    assert run(program, AUDIT[ARM], TABLES[ARM]["getpid"]) == TRAP
    assert run(program, AUDIT[AARCH64], TABLES[AARCH64]["getpid"]) == TRAP
    assert run(program, AUDIT[X86_64], NR["getpid"]) == KILL_THREAD


def test_arches_no_host_here_can_run_are_accepted_and_ignored():
    spec = profile(rule("getpid", "SCMP_ACT_TRAP"), arches=["SCMP_ARCH_S390X", "SCMP_ARCH_PPC64LE"])
    assert compile_filter(spec, native=X86_64) == compile_filter(
        profile(rule("getpid", "SCMP_ACT_TRAP")), native=X86_64
    )


# ---- size ---------------------------------------------------------------------------------------

# Calls docker's default profile leaves to capabilities or denies, plus those with argument rules.
DENIED = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "clone",
    "clone3",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "personality",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "socket",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "syslog",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
}


def docker_like_profile(*arch_names: str) -> dict:
    """Docker's default profile's shape: default ERRNO(EPERM), every harmless call allowed by name,
    and docker's argument rules for socket, personality, clone and clone3."""
    allowed = sorted(set().union(*(TABLES[a] for a in arch_names)) - DENIED)
    personalities = [0, 8, 0x20000, 0x20008, M32]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": list(arch_names),
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            rule("socket", "SCMP_ACT_ALLOW", args=[arg(0, "NE", 40)]),
            *(rule("personality", "SCMP_ACT_ALLOW", args=[arg(0, "EQ", p)]) for p in personalities),
            rule("clone", "SCMP_ACT_ALLOW", args=[arg(0, "MASKED_EQ", 0x7E020000, 0)]),
            rule("clone3", "SCMP_ACT_ERRNO", errnoRet=38),
        ],
    }


@pytest.mark.parametrize(("native", "arches"), [(X86_64, (X86_64, X86, X32)), (AARCH64, (AARCH64, ARM))])
def test_docker_like_profile_fits_well_under_the_kernel_limit(native, arches):
    spec = docker_like_profile(*arches)
    assert len(spec["syscalls"][0]["names"]) > 300
    program = compile_filter(spec, native=native)
    count = len(verify(program))
    print(f"{native}: {len(spec['syscalls'][0]['names'])} names allowed -> {count} BPF instructions")
    assert count < 1024
    for seccomp_arch in arches:
        table = TABLES[seccomp_arch]
        for name, nr in table.items():
            expected = reference(spec, native, AUDIT[seccomp_arch], nr, (0,) * 6)
            assert run(program, AUDIT[seccomp_arch], nr, (0,) * 6) == expected, name
    getpersonality = (M32, 0, 0, 0, 0, 0)
    assert run(program, AUDIT[native], TABLES[native]["personality"], getpersonality) == ALLOW
    assert run(program, AUDIT[native], TABLES[native]["personality"], (9, 0, 0, 0, 0, 0)) == ERRNO | 1
    assert run(program, AUDIT[native], TABLES[native]["clone3"]) == ERRNO | 38


def test_jumps_longer_than_255_go_through_trampolines():
    names = sorted(NR, key=NR.get)[:200]
    spec = profile(
        *(
            rule(name, "SCMP_ACT_ERRNO", errnoRet=i, args=[arg(i % 6, "GT", i << 32 | i)])
            for i, name in enumerate(names)
        )
    )
    program = compile_filter(spec, native=X86_64)
    insns = verify(program)
    assert len(insns) > 1000
    assert any(code == JA for code, *_ in insns)
    for i, name in enumerate(names):
        above, at = [0] * 6, [0] * 6
        above[i % 6], at[i % 6] = (i << 32 | i) + 1, i << 32 | i
        assert run(program, AUDIT[X86_64], NR[name], tuple(above)) == ERRNO | i, name
        assert run(program, AUDIT[X86_64], NR[name], tuple(at)) == ALLOW, name


def test_a_jump_needing_two_trampolines_keeps_the_first_in_reach():
    # Both targets just out of reach: the second trampoline pushes the first one a step further.
    asm = seccomp._Assembler(ALLOW)
    far, near = asm._ret(TRAP), asm._ret(LOG)
    for _ in range(255):
        asm._stmt(LD, 0)  # filler, never run
    asm._jump(JEQ, 7, near, far)
    asm._stmt(LD, 0)
    program = b"".join(struct.pack("=HBBI", *insn) for insn in reversed(asm.code))
    assert run(program, AUDIT[X86_64], 7) == LOG
    assert run(program, AUDIT[X86_64], 8) == TRAP


def test_a_filter_over_4096_instructions_is_refused():
    spec = profile(
        *(rule(name, "SCMP_ACT_TRAP", args=[arg(i, "EQ", nr << 32) for i in range(6)]) for name, nr in NR.items())
    )
    with pytest.raises(InvalidParameter, match=r"^linux\.seccomp: the filter needs \d+ BPF instructions.*4096"):
        compile_filter(spec, native=X86_64)


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"defaultAction": None}, "linux.seccomp.defaultAction: required"),
        ({"defaultAction": "SCMP_ACT_NOPE"}, 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
        ({"defaultAction": "SCMP_ACT_LOG", "defaultErrnoRet": 1}, "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO"),
        ({"defaultErrnoRet": -1}, "linux.seccomp.defaultErrnoRet: must be an integer from 0 to 65535, not -1"),
        ({"architectures": ["SCMP_ARCH_VAX"]}, 'linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_VAX"'),
        ({"flags": ["SECCOMP_FILTER_FLAG_TSYNC", "FAST"]}, 'linux.seccomp.flags[1]: unknown flag "FAST"'),
        ({"defaultAction": ["SCMP_ACT_ALLOW"]}, "linux.seccomp.defaultAction: unknown action ['SCMP_ACT_ALLOW']"),
        ({"architectures": [["SCMP_ARCH_X86"]]}, "linux.seccomp.architectures[0]: unknown architecture"),
        ({"flags": "SECCOMP_FILTER_FLAG_LOG"}, "linux.seccomp.flags: must be a list"),
        ({"flags": [{}]}, "linux.seccomp.flags[0]: unknown flag {}"),
        ({"syscalls": {}}, "linux.seccomp.syscalls: must be a list"),
        ({"syscalls": ["read"]}, "linux.seccomp.syscalls[0]: must be an object"),
        (
            {"syscalls": [rule("read", "SCMP_ACT_ALLOW", args={"index": 0})]},
            "linux.seccomp.syscalls[0].args: must be a list",
        ),
        ({"syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}, "linux.seccomp.syscalls[0].names: required"),
        ({"syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}]}, "syscalls[0].names[1]: must be a syscall"),
        ({"syscalls": [{"names": ["read"]}]}, "linux.seccomp.syscalls[0].action: required"),
        (
            {"syscalls": [rule("read", "SCMP_ACT_ALLOW"), rule("write", "SCMP_ACT_FOO")]},
            'linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO"',
        ),
        ({"syscalls": [rule("read", "SCMP_ACT_LOG", errnoRet=1)]}, "syscalls[0].errnoRet: only SCMP_ACT_ERRNO"),
        ({"syscalls": [rule("read", "SCMP_ACT_ERRNO", errnoRet=True)]}, "syscalls[0].errnoRet: must be an integer"),
        ({"syscalls": [rule("read", "SCMP_ACT_ALLOW", args=[arg(6, "EQ", 1)])]}, "args[0].index: must be an integer"),
        ({"syscalls": [rule("read", "SCMP_ACT_ALLOW", args=[arg(0, "EQ", 2**64)])]}, "args[0].value: must be"),
        (
            {"syscalls": [rule("read", "SCMP_ACT_ALLOW", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_IN"}])]},
            'syscalls[0].args[0].op: unknown operator "SCMP_CMP_IN"',
        ),
        ({"syscalls": [rule("read", "SCMP_ACT_ALLOW", args=[arg(0, "EQ", 1, -1)])]}, "args[0].valueTwo: must be"),
    ],
)
def test_bad_input_names_the_field(change, message):
    spec = {key: value for key, value in {"defaultAction": "SCMP_ACT_ERRNO", **change}.items() if value is not None}
    with pytest.raises(InvalidParameter) as caught:
        compile_filter(spec, native=X86_64)
    assert message in str(caught.value)


def test_the_path_prefix_is_the_callers():
    with pytest.raises(InvalidParameter, match=r"^profile\.defaultAction: required$"):
        compile_filter({}, "profile", native=X86_64)


@pytest.mark.parametrize("where", ["defaultAction", "action"])
def test_notify_is_unsupported(where):
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule("read", "SCMP_ACT_ERRNO")]}
    if where == "defaultAction":
        spec["defaultAction"] = "SCMP_ACT_NOTIFY"
    else:
        spec["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY"
    with pytest.raises(Unsupported, match="SCMP_ACT_NOTIFY needs a seccomp agent"):
        compile_filter(spec, native=X86_64)


def test_importing_the_module_stays_cheap():
    code = (
        "import sys; before = set(sys.modules); import dockyard.kernel.seccomp;"
        "heavy = {'ctypes', 'dockyard.kernel.syscalls', 'dataclasses', 'typing'} & (set(sys.modules) - before);"
        "sys.exit(str(heavy) if heavy else 0)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
