"""The last steps before the container's process runs: identity, limits, exec.

Order matters and follows runc's init:
    rlimits, oom_score_adj           while still privileged
    find the executable              so "not found" is reported by create, not lost after start
    ── wait for start ──
    bounding set                     while CAP_SETPCAP is still effective
    supplementary groups, gid, uid   keeping permitted caps across setuid (PR_SET_KEEPCAPS)
    capset, ambient
    no_new_privs
    seccomp                          last before exec, so the fewest syscalls follow it
                                     (but before dropping CAP_SYS_ADMIN when no_new_privs is off)
    execve
"""

from __future__ import annotations

import os

from dockyard.kernel import caps, libc
from dockyard.kernel import constants as k

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecError(OSError):
    """The process could not be started; the message follows runc's wording,
    which docker turns into exit codes (127 not found, 126 not executable)."""


def env_path(env: list[str]) -> str:
    for entry in env:
        if entry.startswith("PATH="):
            return entry[5:]
    return DEFAULT_PATH


def find_executable(name: str, env: list[str]) -> str:
    candidates = [name] if "/" in name else [os.path.join(d or ".", name) for d in env_path(env).split(":")]
    denied = None
    for path in candidates:
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = path
        elif "/" in name and os.path.isdir(path):
            raise ExecError(13, f'exec: "{name}": is a directory: permission denied')
    if denied:
        raise ExecError(13, f'exec: "{name}": permission denied')
    if "/" in name:
        raise ExecError(2, f'exec: "{name}": stat {name}: no such file or directory')
    raise ExecError(2, f'exec: "{name}": executable file not found in $PATH')


def set_rlimits(rlimits: list[dict], warn) -> None:
    if not rlimits:
        return
    import resource  # already imported by init.preload, before any namespace changed

    for rlimit in rlimits:
        kind = getattr(resource, rlimit["type"], None)
        if kind is None:
            raise OSError(22, f"process.rlimits: unknown rlimit {rlimit['type']}")
        soft, hard = rlimit["soft"], rlimit["hard"]
        try:
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError):
            # Without CAP_SYS_RESOURCE the hard limit cannot rise: clamp to what we have.
            current_hard = resource.getrlimit(kind)[1]
            clamped = (min(soft, current_hard), min(hard, current_hard))
            warn(f"{rlimit['type']} {soft}/{hard} exceeds the allowed maximum; clamped to {clamped[0]}/{clamped[1]}")
            resource.setrlimit(kind, clamped)


def set_oom_score_adj(value: int) -> None:
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))


def become(process: dict, seccomp_program: bytes | None, seccomp_flags: list[str]) -> None:
    """Switch to the process's user, capabilities and seccomp filter."""
    user = process.get("user", {})
    capabilities = process.get("capabilities")
    no_new_privs = process.get("noNewPrivileges", False)
    if seccomp_program is not None and not no_new_privs:
        _install_seccomp(seccomp_program, seccomp_flags)
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    if capabilities is not None:
        # Needs CAP_SETPCAP in the effective set, which setuid below may clear.
        last = caps.last_cap()
        caps.drop_bounding(caps.to_mask(capabilities.get("bounding", [])), last)
        libc.prctl(k.PR_SET_KEEPCAPS, 1)
    os.setgroups(user.get("additionalGids", []))
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if capabilities is not None:
        libc.prctl(k.PR_SET_KEEPCAPS, 0)
        libc.capset(
            caps.to_mask(capabilities.get("effective", [])),
            caps.to_mask(capabilities.get("permitted", [])),
            caps.to_mask(capabilities.get("inheritable", [])),
        )
        caps.raise_ambient(caps.to_mask(capabilities.get("ambient", [])), last)
    if no_new_privs:
        libc.prctl(k.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp_program is not None:
            _install_seccomp(seccomp_program, seccomp_flags)
    if "umask" in user:
        os.umask(user["umask"])


def _install_seccomp(program: bytes, flags: list[str]) -> None:
    from dockyard.kernel import seccomp

    seccomp.install(program, flags)


def close_extra_fds(keep_below: int) -> None:
    """Mark every fd from keep_below up close-on-exec: none of the runtime's leaks in."""
    try:
        libc.cloexec_from(keep_below)
        return
    except OSError:
        pass  # an older kernel: walk the table instead
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= keep_below:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the fd listdir itself used, already closed


def execute(path: str, process: dict) -> None:
    os.execve(path, process["args"], _environment(process.get("env", [])))


def _environment(env: list[str]) -> dict[str, str]:
    result = {}
    for entry in env:
        key, _, value = entry.partition("=")
        result[key] = value
    return result
