"""Seccomp: compile an OCI ``linux.seccomp`` object to classic BPF, and install it.

The program the kernel runs on every system call of the container (``struct seccomp_data`` in,
a ``SECCOMP_RET_*`` value out) is laid out like this:

    ld   [4]                                  seccomp_data.arch
    jeq  AUDIT_ARCH_X86_64 ? x86_64 : next    one compare per listed audit arch,
    jeq  AUDIT_ARCH_I386   ? i386   : next    the native one first
    ret  KILL_THREAD                          no listed arch: libseccomp's "bad arch"
  x86_64:
    ld   [0]                                  seccomp_data.nr
    jge  0x40000065 ? ... : next              binary search over ranges of nr that
    jge  0x12f      ? ... : next              share an outcome; each leaf jumps to a
    ...                                       return or to its syscall's arg checks
  personality, rule 1 (args[0] == 8):
    ld   [20]                                 args[0], high word
    jeq  0 ? next : rule 2
    ld   [16]                                 args[0], low word
    jeq  8 ? ret ALLOW : rule 2
  personality, rule 2: ...                    the last rule fails to the default
  i386:
    ld   [0] ...
  ret ALLOW, ret ERRNO|1 ...                  returns, copied near far-away jumps

The assembler writes the program back to front, so every jump target already exists when the
jump is written. Classic BPF's conditional jumps reach only 255 instructions forward; a target
further away is reached through a trampoline placed right behind the jump (``ja``, 32-bit
offset), or through a copy of the ``ret`` it leads to, which costs the same one instruction.

What the filter does, matching runc with libseccomp where the two could differ:

- An action equal to the default action (errno included) is dropped, as runc does, so such a rule
  never shadows another rule for the same syscall.
- A rule without ``args`` makes its syscall's action unconditional: the first such rule wins and
  every conditional rule for that syscall is ignored (libseccomp's database does the same).
  Otherwise the conditional rules are tried in spec order and the first whose conditions all
  hold decides; if none does, the default action applies.
- Several ``args`` in one rule must all hold. If one rule names the same argument index twice,
  runc turns each condition into a rule of its own (so they are OR-ed); so does this compiler.
- ``SCMP_CMP_MASKED_EQ`` holds when ``arg & value == valueTwo``.
- Arguments are compared as 64-bit unsigned values on x86_64 and aarch64. On x86, x32 and arm,
  whose arguments are 32-bit for libseccomp, only the low 32 bits of the argument and of the
  rule's values are compared, as libseccomp does.
- Unless the default action lets calls through (ALLOW, LOG, TRACE), a call numbered above every
  call the profile names for an arch it lists gets ENOSYS, as runc's stub in front of libseccomp's
  filter answers: a call newer than the profile looks absent, so the C library can fall back.
  x86_64 and x32 numbers are told apart by ``__X32_SYSCALL_BIT``, as runc does.
- A syscall name the arch's table lacks is skipped for that arch, like libseccomp's "no such
  syscall"; a name no table knows at all (a typo, or a call newer than the table) is skipped too,
  as runc only logs those. The tables come from kernel headers, see scripts/gen_syscalls.py.
- The native arch is always filtered. A syscall made under an arch that is not listed gets
  KILL_THREAD, libseccomp's default bad-arch action. x32 calls arrive as AUDIT_ARCH_X86_64 with
  ``__X32_SYSCALL_BIT`` set in ``nr``: with SCMP_ARCH_X32 listed they are looked up in the x32
  table; without it they get KILL_THREAD, except ``nr == -1`` (a tracer skipping the call), which
  gets the default action, exactly as libseccomp's x86_64 filter does.
- Arches the OCI spec names but no x86_64 or aarch64 host can execute (mips, ppc, s390, riscv...)
  are accepted and ignored: the kernel never reports them here, so filtering them changes nothing.
"""

from __future__ import annotations

import errno
import os
import struct
from bisect import bisect_right

from dockyard.errors import InvalidParameter, Unsupported

# seccomp(2) return values, <linux/seccomp.h>: the action in the high 16 bits, data in the low.
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000

ACTIONS = {
    "SCMP_ACT_KILL": RET_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS,
    "SCMP_ACT_TRAP": RET_TRAP,
    "SCMP_ACT_ERRNO": RET_ERRNO,
    "SCMP_ACT_TRACE": RET_TRACE,
    "SCMP_ACT_LOG": RET_LOG,
    "SCMP_ACT_ALLOW": RET_ALLOW,
}
_TAKES_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")  # without errnoRet they return EPERM, as in runc

OPERATORS = ("EQ", "NE", "LT", "LE", "GT", "GE", "MASKED_EQ")  # each prefixed with SCMP_CMP_

# AUDIT_ARCH_* from <linux/audit.h>: the ELF machine | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCH_ARM = 0x40000028
X32_SYSCALL_BIT = 0x40000000

# seccomp arch -> (the arch value in seccomp_data, arguments compared on their low 32 bits only)
ARCHES = {
    "SCMP_ARCH_X86_64": (AUDIT_ARCH_X86_64, False),
    "SCMP_ARCH_X86": (AUDIT_ARCH_I386, True),
    "SCMP_ARCH_X32": (AUDIT_ARCH_X86_64, True),
    "SCMP_ARCH_AARCH64": (AUDIT_ARCH_AARCH64, False),
    "SCMP_ARCH_ARM": (AUDIT_ARCH_ARM, True),
}
_FOREIGN_ARCHES = frozenset(
    (
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_LOONGARCH64",
        "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH",
        "SCMP_ARCH_SHEB",
    )
)
_NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}

# seccomp(2) SECCOMP_SET_MODE_FILTER flags by their OCI names.
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    # Only changes how a notify listener's target waits; there is no listener without
    # SCMP_ACT_NOTIFY, and the kernel rejects the flag without SECCOMP_FILTER_FLAG_NEW_LISTENER.
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 0,
}
SECCOMP_SET_MODE_FILTER = 1
BPF_MAXINSNS = 4096  # the kernel's limit for one classic BPF program
_INSTALL_HINTS = {
    errno.EACCES: " (no_new_privs is not set and the process lacks CAP_SYS_ADMIN)",
    errno.EINVAL: " (the kernel rejected the program or one of the flags)",
    errno.ENOMEM: " (the filters already installed plus this one exceed the kernel's total)",
}

# Classic BPF opcodes, <linux/filter.h>: class | size | mode, class | op | source.
_LD = 0x20  # BPF_LD | BPF_W | BPF_ABS
_AND = 0x54  # BPF_ALU | BPF_AND | BPF_K
_JA = 0x05  # BPF_JMP | BPF_JA
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGT = 0x25  # BPF_JMP | BPF_JGT | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_MAX_JUMP = 255  # jt and jf are one byte each
_INSN = struct.Struct("=HBBI")  # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }

# struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. Every arch we
# filter is little-endian, so an argument's low word comes first.
_NR = 0
_ARCH = 4
_ARGS = 16
_M32 = 0xFFFFFFFF


def compile_filter(spec: dict, path: str = "linux.seccomp", *, native: str | None = None) -> bytes:
    """The packed ``struct sock_filter[]`` for an OCI ``linux.seccomp`` object.

    ``native`` is the seccomp arch always filtered, by default this host's. Raises InvalidParameter
    naming the offending field, Unsupported for SCMP_ACT_NOTIFY or an unknown host arch.
    """
    if not isinstance(spec, dict):
        raise InvalidParameter(f"{path}: must be an object")
    default = _action(spec, "defaultAction", "defaultErrnoRet", path)
    arches = _arches(spec.get("architectures"), native or _native_arch(), f"{path}.architectures")
    flag_bits(spec.get("flags"), f"{path}.flags")
    rules = _rules(spec.get("syscalls"), default, path)

    from dockyard.kernel.syscalls import TABLES

    tops = _enosys_tops(spec, default, TABLES)
    blocks = []
    for audit in dict.fromkeys(ARCHES[arch][0] for arch in arches):
        members = [arch for arch in arches if ARCHES[arch][0] == audit]
        enosys = _enosys_ranges(audit, {arch: top for arch, top in tops.items() if ARCHES[arch][0] == audit})
        blocks.append((audit, _intervals(audit, members, rules, default, TABLES, enosys)))
    program = _Assembler(default).program(blocks)
    count = len(program) // _INSN.size
    if count > BPF_MAXINSNS:
        raise InvalidParameter(
            f"{path}: the filter needs {count} BPF instructions, over the kernel's limit of {BPF_MAXINSNS}"
        )
    return program


def install(program: bytes, flags: list[str] | None = None) -> None:
    """Install a compiled filter on the calling thread (all threads with TSYNC).

    The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Failures are OSError naming the
    step ("seccomp install: ..."); an unknown flag name is InvalidParameter.
    """
    bits = flag_bits(flags, "linux.seccomp.flags")
    if not program or len(program) % _INSN.size:
        raise InvalidParameter(f"seccomp install: {len(program)} bytes is not a whole number of BPF instructions")
    from dockyard.kernel import libc

    try:
        result = libc.seccomp_set_filter(bits, program)
    except OSError as exc:
        hint = _INSTALL_HINTS.get(exc.errno, "")
        raise OSError(exc.errno, f"seccomp install: {os.strerror(exc.errno)}{hint}") from exc
    if result:
        # With TSYNC the kernel answers with the id of a thread it could not synchronise.
        raise OSError(errno.ESRCH, f"seccomp install: thread {result} could not take the filter (TSYNC)")


def flag_bits(flags: object, path: str) -> int:
    """The seccomp(2) flag bits for a list of OCI flag names."""
    if flags is None:
        return 0
    if not isinstance(flags, list):
        raise InvalidParameter(f"{path}: must be a list of flag names")
    bits = 0
    for i, name in enumerate(flags):
        if not isinstance(name, str) or name not in FLAGS:
            raise InvalidParameter(f"{path}[{i}]: unknown flag {_quote(name)} (known: {', '.join(FLAGS)})")
        bits |= FLAGS[name]
    return bits


# ---- reading the spec ---------------------------------------------------------------------------


def _native_arch() -> str:
    machine = os.uname().machine
    if machine not in _NATIVE:
        raise Unsupported(f"seccomp: no syscall table for this host's architecture {machine}")
    return _NATIVE[machine]


def _action(entry: dict, key: str, errno_key: str, path: str) -> int:
    """The SECCOMP_RET_* value for entry[key] and its errno, if any."""
    name = entry.get(key)
    if name is None:
        raise InvalidParameter(f"{path}.{key}: required")
    if name == "SCMP_ACT_NOTIFY":
        raise Unsupported(
            f"{path}.{key}: SCMP_ACT_NOTIFY needs a seccomp agent on listenerPath, which dockyard does not support"
        )
    if not isinstance(name, str) or name not in ACTIONS:
        raise InvalidParameter(f"{path}.{key}: unknown action {_quote(name)}")
    errno_ret = entry.get(errno_key)
    if errno_ret is None:
        return ACTIONS[name] | (errno.EPERM if name in _TAKES_ERRNO else 0)
    if name not in _TAKES_ERRNO:
        raise InvalidParameter(f"{path}.{errno_key}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {name}")
    return ACTIONS[name] | _uint(errno_ret, 0xFFFF, f"{path}.{errno_key}")


def _arches(names: object, native: str, path: str) -> list[str]:
    """The arches to filter, native first, in spec order, without repeats or foreign arches."""
    if names is None:
        names = []
    if not isinstance(names, list):
        raise InvalidParameter(f"{path}: must be a list of SCMP_ARCH_* names")
    arches = [native]
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidParameter(f"{path}[{i}]: unknown architecture {_quote(name)}")
        if name in ARCHES:
            if name not in arches:
                arches.append(name)
        elif name not in _FOREIGN_ARCHES:
            raise InvalidParameter(f"{path}[{i}]: unknown architecture {_quote(name)}")
    return arches


def _rules(entries: object, default: int, path: str) -> list[tuple[list[str], int, tuple]]:
    """(names, action, conditions) per rule, in spec order, rules repeating the default dropped."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InvalidParameter(f"{path}.syscalls: must be a list")
    rules = []
    for i, entry in enumerate(entries):
        where = f"{path}.syscalls[{i}]"
        if not isinstance(entry, dict):
            raise InvalidParameter(f"{where}: must be an object")
        names = entry.get("names")
        if not isinstance(names, list) or not names:
            raise InvalidParameter(f"{where}.names: required, a non-empty list of syscall names")
        for j, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise InvalidParameter(f"{where}.names[{j}]: must be a syscall name")
        action = _action(entry, "action", "errnoRet", where)
        args = entry.get("args") or []
        if not isinstance(args, list):
            raise InvalidParameter(f"{where}.args: must be a list")
        conditions = tuple(_condition(arg, f"{where}.args[{j}]") for j, arg in enumerate(args))
        if action == default:
            continue
        indexes = [condition[0] for condition in conditions]
        if len(set(indexes)) == len(indexes):
            rules.append((names, action, conditions))
        else:
            # runc's rule: one index named twice means each condition is a rule of its own.
            rules.extend((names, action, (condition,)) for condition in conditions)
    return rules


def _condition(arg: object, path: str) -> tuple[int, str, int, int]:
    """(index, operator without SCMP_CMP_, value, valueTwo) for one entry of a rule's args."""
    if not isinstance(arg, dict):
        raise InvalidParameter(f"{path}: must be an object")
    index = _uint(arg.get("index"), 5, f"{path}.index")
    op = arg.get("op")
    if not isinstance(op, str) or not op.startswith("SCMP_CMP_") or op[9:] not in OPERATORS:
        raise InvalidParameter(f"{path}.op: unknown operator {_quote(op)}")
    value = _uint(arg.get("value"), 2**64 - 1, f"{path}.value")
    value_two = _uint(arg.get("valueTwo", 0), 2**64 - 1, f"{path}.valueTwo")
    return index, op[9:], value, value_two


def _uint(value: object, limit: int, path: str) -> int:
    if type(value) is not int or not 0 <= value <= limit:
        raise InvalidParameter(f"{path}: must be an integer from 0 to {limit}, not {_quote(value)}")
    return value


def _quote(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


# ---- from rules to ranges of syscall numbers ----------------------------------------------------


def _outcomes(rules: list, table: dict[str, int], low_only: bool) -> dict[int, int | tuple]:
    """nr -> its outcome on one arch: a SECCOMP_RET_* value, or (low_only, ((action, conditions)...))."""
    fixed: dict[int, int] = {}
    conditional: dict[int, list] = {}
    for names, action, conditions in rules:
        for nr in {table[name] for name in names if name in table}:
            if nr in fixed:
                continue
            if conditions:
                conditional.setdefault(nr, []).append((action, conditions))
            else:
                fixed[nr] = action
    outcomes: dict[int, int | tuple] = {
        nr: (low_only, tuple(checks)) for nr, checks in conditional.items() if nr not in fixed
    }
    outcomes.update(fixed)
    return outcomes


def _enosys_tops(spec: dict, default: int, tables: dict) -> dict[str, int]:
    """arch -> the highest call number the profile names, for each arch it lists by name.

    runc answers ENOSYS for any call above it (a call newer than the profile, which the C library
    may then emulate or do without), unless the default action lets calls through anyway. Only
    arches the profile lists count, and only names known there, exactly as runc's stub does.
    """
    if default & 0xFFFF0000 in (RET_ALLOW, RET_LOG, RET_TRACE):
        return {}
    names = {name for entry in spec.get("syscalls") or [] for name in entry["names"]}
    tops = {}
    for arch in spec.get("architectures") or []:
        if arch in ARCHES:
            top = max((tables[arch][name] for name in names if name in tables[arch]), default=0)
            if top:
                tops[arch] = top
    return tops


def _enosys_ranges(audit: int, tops: dict[str, int]) -> list[tuple[int, int]]:
    """[(first, last)...] of the call numbers above the tops: x86_64 calls are those without
    __X32_SYSCALL_BIT, x32 calls those with it, as runc's stub tells them apart."""
    ranges = []
    for arch, top in tops.items():
        if audit != AUDIT_ARCH_X86_64:
            ranges.append((top + 1, _M32))
        elif arch == "SCMP_ARCH_X32":
            ranges += [(top + 1, 0x7FFFFFFF), (0xC0000000, _M32)]
        else:
            ranges += [(top + 1, X32_SYSCALL_BIT - 1), (0x80000000, 0xBFFFFFFF)]
    return [(first, last) for first, last in ranges if first <= last]


def _intervals(
    audit: int, members: list[str], rules: list, default: int, tables: dict, enosys: list[tuple[int, int]]
) -> list[tuple]:
    """[(first nr, outcome)...] covering 0..2**32-1 for one audit arch, neighbours merged; the
    enosys ranges answer ENOSYS before anything else, like runc's stub in front of the filter."""
    if audit == AUDIT_ARCH_X86_64:
        # x86_64 and x32 share the audit arch; the unlisted half is a bad arch, but nr -1 (a
        # tracer skipping the call) is not, as in libseccomp.
        x86_64 = default if "SCMP_ARCH_X86_64" in members else RET_KILL_THREAD
        x32 = default if "SCMP_ARCH_X32" in members else RET_KILL_THREAD
        base = [(0, x86_64), (X32_SYSCALL_BIT, x32), (_M32, default)]
    else:
        base = [(0, default)]
    points: dict[int, int | tuple] = {}
    for arch in members:
        points.update(_outcomes(rules, tables[arch], ARCHES[arch][1]))
    starts = [start for start, _ in base]
    bounds = set(starts) | set(points) | {nr + 1 for nr in points if nr < _M32}
    bounds |= {first for first, _ in enosys} | {last + 1 for _, last in enosys if last < _M32}
    intervals: list[tuple] = []
    for nr in sorted(bounds):
        if any(first <= nr <= last for first, last in enosys):
            outcome: int | tuple = RET_ERRNO | errno.ENOSYS
        elif nr in points:
            outcome = points[nr]
        else:
            outcome = base[bisect_right(starts, nr) - 1][1]
        if not intervals or intervals[-1][1] != outcome:
            intervals.append((nr, outcome))
    return intervals


# ---- the assembler ------------------------------------------------------------------------------


class _Assembler:
    """Classic BPF written back to front.

    A label is an instruction's distance from the program's end, so labels stay valid while code
    is prepended and every jump's offsets are final when it is written. Code only falls through
    from a load to the jump that tests it; everything else jumps, which is what lets a trampoline
    or a copied return be slipped in right behind any conditional jump.
    """

    def __init__(self, default: int) -> None:
        self.default = default
        self.code: list[tuple[int, int, int, int]] = []  # last instruction first
        self._rets: dict[int, int] = {}  # action -> its first return
        self._nearest: dict[int, int] = {}  # label -> its trampoline closest to the front
        self._checks: dict[tuple, int] = {}  # argument check -> its label

    def program(self, blocks: list[tuple[int, list]]) -> bytes:
        starts = []
        for _audit, intervals in reversed(blocks):
            self._goto(self._tree(intervals))
            starts.append(self._stmt(_LD, _NR))
        next_label = self._stmt(_RET, RET_KILL_THREAD)  # no listed arch matched
        for (audit, _intervals), start in zip(blocks[::-1], starts, strict=True):
            next_label = self._jump(_JEQ, audit, start, next_label)
        self._stmt(_LD, _ARCH)
        return b"".join(_INSN.pack(*insn) for insn in reversed(self.code))

    def _tree(self, intervals: list[tuple]) -> int:
        """Binary search for nr over the intervals: the upper half is written first, so it lands last."""
        if len(intervals) == 1:
            return self._outcome(intervals[0][1])
        middle = len(intervals) // 2
        upper = self._tree(intervals[middle:])
        lower = self._tree(intervals[:middle])
        return self._jump(_JGE, intervals[middle][0], upper, lower)

    def _outcome(self, outcome: int | tuple) -> int:
        if isinstance(outcome, int):
            return self._ret(outcome)
        label = self._checks.get(outcome)
        if label is None:
            label = self._checks[outcome] = self._rule_checks(*outcome)
        return label

    def _rule_checks(self, low_only: bool, rules: tuple) -> int:
        """Each rule's conditions in turn; a failed condition moves on to the next rule."""
        on_fail = self._ret(self.default)
        for action, conditions in reversed(rules):
            on_pass = self._ret(action)
            for condition in reversed(conditions):
                on_pass = self._condition(condition, low_only, on_pass, on_fail)
            on_fail = on_pass
        return on_fail

    def _condition(self, condition: tuple, low_only: bool, on_pass: int, on_fail: int) -> int:
        """Test one argument: the low word decides unless the high word already did."""
        index, op, value, value_two = condition
        offset = _ARGS + 8 * index
        mask = None
        if op == "MASKED_EQ":
            mask, value = value, value_two
        jump, pass_if_true = _LOW_TESTS[op]
        jt, jf = (on_pass, on_fail) if pass_if_true else (on_fail, on_pass)
        self._jump(jump, value & _M32, jt, jf)
        if mask is not None:
            self._stmt(_AND, mask & _M32)
        low = self._stmt(_LD, offset)
        if low_only:
            return low
        high = value >> 32
        if op in ("EQ", "NE", "MASKED_EQ"):
            if mask is not None and mask >> 32 == 0 and high == 0:
                return low  # (anything & 0) == 0: the high word cannot fail
            self._jump(_JEQ, high, low, on_pass if op == "NE" else on_fail)
            if mask is not None:
                self._stmt(_AND, mask >> 32)
        else:
            above, below = (on_pass, on_fail) if op in ("GT", "GE") else (on_fail, on_pass)
            if high == 0:  # nothing is below zero
                self._jump(_JEQ, 0, low, above)
            elif high == _M32:  # nothing is above the top
                self._jump(_JEQ, high, low, below)
            else:
                equal = self._jump(_JEQ, high, low, below)
                self._jump(_JGT, high, above, equal)
        return self._stmt(_LD, offset + 4)

    def _stmt(self, code: int, k: int) -> int:
        self.code.append((code, 0, 0, k))
        return len(self.code) - 1

    def _ret(self, action: int) -> int:
        label = self._rets.get(action)
        if label is None:
            label = self._rets[action] = self._stmt(_RET, action)
        return label

    def _jump(self, code: int, k: int, jt: int, jf: int) -> int:
        jt = self._reach(jt, spare=1)  # jf's trampoline, if any, will sit between
        jf = self._reach(jf, spare=0)
        at = len(self.code)
        self.code.append((code, at - jt - 1, at - jf - 1, k))
        return at

    def _goto(self, target: int) -> None:
        """Make target the next instruction, for a load about to fall through into it."""
        if target != len(self.code) - 1:
            self._trampoline(target)

    def _reach(self, target: int, spare: int) -> int:
        """target, or a stand-in for it, within a conditional jump's reach."""
        at = len(self.code) + spare
        if at - target - 1 <= _MAX_JUMP:
            return target
        near = self._nearest.get(target)
        if near is not None and at - near - 1 <= _MAX_JUMP:
            return near
        return self._trampoline(target)

    def _trampoline(self, target: int) -> int:
        code, _jt, _jf, k = self.code[target]
        if code != _RET:
            code, k = _JA, len(self.code) - target - 1
        # else: a copy of the return is as short as a jump to it, and one jump faster
        label = self._nearest[target] = self._stmt(code, k)
        return label


# operator -> (the low-word jump, whether its true branch means the condition holds)
_LOW_TESTS = {
    "EQ": (_JEQ, True),
    "NE": (_JEQ, False),
    "GT": (_JGT, True),
    "GE": (_JGE, True),
    "LT": (_JGE, False),
    "LE": (_JGT, False),
    "MASKED_EQ": (_JEQ, True),
}
