"""Device access control on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program.

cgroup v2 has no devices.allow/deny files. The kernel instead runs a BPF program
attached to the cgroup on every open/mknod of a device node and allows the access
when it returns 1. The program is built here from the OCI rule list, loaded with
bpf(BPF_PROG_LOAD) and attached with bpf(BPF_PROG_ATTACH).

The program sees struct bpf_cgroup_dev_ctx:

    struct bpf_cgroup_dev_ctx {
        __u32 access_type;   /* (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_* */
        __u32 major;
        __u32 minor;
    };

Semantics match v1's list applied in order on a deny-all start: the last rule
that matches decides. So rules are emitted last to first, each jumping to the
next on a mismatch and returning its verdict on a match; falling off the end
returns 0 (deny). An allow rule matches when the request's access bits are a
subset of the rule's; a deny rule when they share any bit.
"""

from __future__ import annotations

import ctypes  # only for buffers whose addresses go into a bpf_attr; the call is libc.bpf
import os
import struct

from dockyard.kernel import libc

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6  # attach type
BPF_F_ALLOW_MULTI = 2

DEV_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR

# Opcodes (struct bpf_insn: u8 code, u4 dst_reg | u4 src_reg << 4, s16 off, s32 imm).
LDX_W = 0x61  # dst = *(u32 *)(src + off)
MOV_X = 0xBF  # dst = src (64-bit)
MOV_K = 0xB7  # dst = imm
AND_K = 0x57  # dst &= imm
RSH_K = 0x77  # dst >>= imm
JNE_K = 0x55  # if dst != imm: pc += off
JEQ_K = 0x15  # if dst == imm: pc += off
EXIT = 0x95

# Registers after the prologue.
R_TYPE, R_ACCESS, R_MAJOR, R_MINOR = 3, 4, 5, 6


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> tuple:
    return (code, dst, src, off, imm)


def build_program(rules: list[tuple[bool, str, int, int, int]]) -> list[tuple]:
    """Instructions for rules as parsed by common.device_rules: (allow, type, major, minor, access bits)."""
    program = [
        insn(LDX_W, 2, 1, 0),  # r2 = ctx->access_type
        insn(MOV_X, R_TYPE, 2),
        insn(AND_K, R_TYPE, imm=0xFFFF),  # r3 = device type
        insn(MOV_X, R_ACCESS, 2),
        insn(RSH_K, R_ACCESS, imm=16),  # r4 = requested access
        insn(LDX_W, R_MAJOR, 1, 4),  # r5 = ctx->major
        insn(LDX_W, R_MINOR, 1, 8),  # r6 = ctx->minor
    ]
    for allow, kind, major, minor, bits in reversed(rules):
        block = _rule_block(allow, kind, major, minor, bits)
        program += block
        if len(block) == 2:
            return program  # matched unconditionally: anything after would be unreachable, which the verifier refuses
    program += [insn(MOV_K, 0, imm=0), insn(EXIT)]
    return program


def _rule_block(allow: bool, kind: str, major: int, minor: int, bits: int) -> list[tuple]:
    # Each test is (instructions before the jump, jump opcode, register, immediate).
    tests = []
    if kind != "a":
        tests.append(([], JNE_K, R_TYPE, DEV_TYPES[kind]))
    if major >= 0:
        tests.append(([], JNE_K, R_MAJOR, major))
    if minor >= 0:
        tests.append(([], JNE_K, R_MINOR, minor))
    if bits != 7:
        mask = (~bits & 7) if allow else bits
        setup = [insn(MOV_X, 0, R_ACCESS), insn(AND_K, 0, imm=mask)]
        # allow: a requested bit outside the rule's -> next; deny: no shared bit -> next
        tests.append((setup, JNE_K if allow else JEQ_K, 0, 0))
    verdict = [insn(MOV_K, 0, imm=1 if allow else 0), insn(EXIT)]
    length = sum(len(setup) + 1 for setup, *_ in tests) + len(verdict)
    block: list[tuple] = []
    for setup, code, reg, imm in tests:
        block += setup
        block.append(insn(code, reg, off=length - len(block) - 1, imm=imm))
    return block + verdict


def encode(program: list[tuple]) -> bytes:
    return b"".join(struct.pack("<BBhi", code, dst | src << 4, off, imm) for code, dst, src, off, imm in program)


def load(program: list[tuple]) -> int:
    """bpf(BPF_PROG_LOAD); returns the program fd. A refusal carries the verifier's log."""
    code = ctypes.create_string_buffer(encode(program), len(program) * 8)
    license_text = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(72)
    # union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level,
    # log_size, log_buf, kern_version, prog_flags, prog_name[16], prog_ifindex, expected_attach_type
    struct.pack_into(
        "<IIQQ",
        attr,
        0,
        BPF_PROG_TYPE_CGROUP_DEVICE,
        len(program),
        ctypes.addressof(code),
        ctypes.addressof(license_text),
    )
    struct.pack_into("16s", attr, 48, b"dockyard_dev")  # at most 15 characters: the kernel wants a NUL in 16
    struct.pack_into("<I", attr, 68, BPF_CGROUP_DEVICE)
    try:
        return libc.bpf(BPF_PROG_LOAD, attr, "bpf BPF_PROG_LOAD device filter")
    except OSError as exc:
        first = exc
    struct.pack_into("<IIQ", attr, 24, 1, len(log), ctypes.addressof(log))  # again, with the verifier's log
    try:
        return libc.bpf(BPF_PROG_LOAD, attr, "bpf BPF_PROG_LOAD device filter")
    except OSError:
        detail = log.value.decode(errors="replace").strip().splitlines()
        raise OSError(first.errno, f"{first.strerror}: {' / '.join(detail[-3:])}") from None


def attached(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached to the cgroup."""
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(32)
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), len(ids))
    libc.bpf(BPF_PROG_QUERY, attr, "bpf BPF_PROG_QUERY")
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[: min(count, len(ids))])


def _attach_cmd(cmd: int, cgroup_fd: int, prog_fd: int, flags: int, what: str) -> None:
    attr = ctypes.create_string_buffer(20)
    struct.pack_into("<IIII", attr, 0, cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags)
    libc.bpf(cmd, attr, what)


def install(cgroup_dir: str, rules: list[tuple[bool, str, int, int, int]]) -> None:
    """Replace the cgroup's device programs by one built from rules.

    Attached with BPF_F_ALLOW_MULTI, as runc and systemd do, so nested cgroups may
    add their own; the old programs are detached only after the new one is in
    place, so there is no moment without a filter.
    """
    prog_fd = load(build_program(rules))
    cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = attached(cgroup_fd)
        _attach_cmd(BPF_PROG_ATTACH, cgroup_fd, prog_fd, BPF_F_ALLOW_MULTI, "bpf BPF_PROG_ATTACH")
        for prog_id in old:
            attr = ctypes.create_string_buffer(12)
            struct.pack_into("<I", attr, 0, prog_id)
            try:
                old_fd = libc.bpf(BPF_PROG_GET_FD_BY_ID, attr, "bpf BPF_PROG_GET_FD_BY_ID")
            except FileNotFoundError:
                continue  # detached meanwhile
            try:
                _attach_cmd(BPF_PROG_DETACH, cgroup_fd, old_fd, 0, "bpf BPF_PROG_DETACH")
            finally:
                os.close(old_fd)
    finally:
        os.close(cgroup_fd)
        os.close(prog_fd)
