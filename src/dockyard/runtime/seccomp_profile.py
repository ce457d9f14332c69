"""Docker's seccomp profile format, made into the OCI ``linux.seccomp`` of one container.

A docker profile (what ``--security-opt seccomp=profile.json`` sends, and what our own default is
written in) differs from the OCI object in a few fields, which this module resolves for the
container's capabilities, this host's architecture and its kernel version, as dockerd does:

- ``archMap``: [{architecture, subArchitectures}]; the entry for the native arch gives the arches
  filtered. ``architectures`` is the plain OCI list; a profile may give one or the other.
- ``syscalls[]``: ``name`` (one) or ``names``; ``includes`` / ``excludes`` with ``caps``,
  ``arches`` and ``minKernel``. A rule is kept when every include holds (all its caps held, the
  native arch listed, the kernel at least minKernel) and no exclude does (any cap held, the arch
  listed, the kernel at least minKernel).
- ``defaultErrnoRet``, ``errnoRet``, ``args``, ``flags``, ``listenerPath`` pass through as they are.

Syscall names the kernel tables do not know are kept: the compiler skips them, as runc does
(a profile written for a newer kernel still loads). Everything else is checked by compiling the
result, so that a bad profile is refused at create with the field it got wrong.
"""

from __future__ import annotations

import json
import os
import re

from dockyard.errors import InvalidParameter

_NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
_PASSED_THROUGH = ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata")


def load(text: str) -> dict:
    """A profile from its JSON text, as --security-opt seccomp=<json> carries it."""
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidParameter(f"Decoding seccomp profile failed: {exc}") from None
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: the profile must be a JSON object")
    return profile


def to_oci(profile: dict, capabilities: list[str], *, machine: str | None = None, kernel: str | None = None) -> dict:
    """linux.seccomp for a container holding these capabilities, on this host (or the machine and
    kernel release given); the fields docker's format adds are checked, the rest is check()'s."""
    native = _NATIVE.get(machine or os.uname().machine, "")
    version = kernel_version(kernel or os.uname().release)
    if "defaultAction" not in profile:
        raise InvalidParameter("seccomp profile: defaultAction is required")
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidParameter(
            "'architectures' and 'archMap' were specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    result: dict = {"defaultAction": profile["defaultAction"]}
    result["architectures"] = _arches(profile, native)
    for key in _PASSED_THROUGH:
        if profile.get(key) is not None:
            result[key] = profile[key]
    syscalls = profile.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidParameter("seccomp profile: syscalls must be a list")
    held = set(capabilities)
    result["syscalls"] = [
        _rule(entry, i)
        for i, entry in enumerate(syscalls)
        if _applies(entry, i, held, native, version)
    ]  # fmt: skip
    return result


def check(text: str, capabilities: list[str]) -> None:
    """Refuse a profile that would fail at start: bad JSON, an unknown action, arch or operator."""
    from dockyard.kernel.seccomp import compile_filter

    compile_filter(to_oci(load(text), capabilities), "seccomp")


def kernel_version(release: str) -> tuple[int, int]:
    """(major, minor) of a kernel release such as "6.18.44-fc" or a profile's minKernel "4.8"."""
    match = re.match(r"(\d+)\.(\d+)", release)
    if match is None:
        raise InvalidParameter(f"seccomp profile: invalid kernel version {release!r}: it must be major.minor")
    return int(match[1]), int(match[2])


def _arches(profile: dict, native: str) -> list[str]:
    if profile.get("architectures"):
        return list(profile["architectures"])
    arch_map = profile.get("archMap") or []
    if not isinstance(arch_map, list):
        raise InvalidParameter("seccomp profile: archMap must be a list")
    for entry in arch_map:
        if isinstance(entry, dict) and entry.get("architecture") == native:
            return [native, *(entry.get("subArchitectures") or [])]
    return []


def _applies(entry: object, i: int, held: set[str], native: str, version: tuple[int, int]) -> bool:
    if not isinstance(entry, dict):
        raise InvalidParameter(f"seccomp profile: syscalls[{i}] must be an object")
    includes, excludes = _filter(entry, "includes", i), _filter(entry, "excludes", i)
    if includes.get("caps") and not set(includes["caps"]) <= held:
        return False
    if includes.get("arches") and native not in includes["arches"]:
        return False
    if includes.get("minKernel") and version < kernel_version(includes["minKernel"]):
        return False
    if excludes.get("caps") and set(excludes["caps"]) & held:
        return False
    if excludes.get("arches") and native in excludes["arches"]:
        return False
    return not (excludes.get("minKernel") and version >= kernel_version(excludes["minKernel"]))


def _filter(entry: dict, key: str, i: int) -> dict:
    value = entry.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"seccomp profile: syscalls[{i}].{key} must be an object")
    return value


def _rule(entry: dict, i: int) -> dict:
    if entry.get("name") and entry.get("names"):
        raise InvalidParameter(
            f"seccomp profile: syscalls[{i}]: use either 'name' or 'names' in a rule, not both"
        )  # fmt: skip
    names = [entry["name"]] if entry.get("name") else entry.get("names")
    rule = {"names": names, "action": entry.get("action")}
    for key in ("errnoRet", "args"):
        if entry.get(key) is not None:
            rule[key] = entry[key]
    return rule
