"""Control-file access and value checks shared by the v1 and v2 writers.

Every failure names the OCI field and the control file, e.g.
"linux.resources.memory.limit: write memory.limit_in_bytes: Invalid argument":
EINVAL and ERANGE (the kernel refused the value) become InvalidParameter,
anything else stays an OSError with the errno.
"""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidParameter

_WRITE = os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC  # O_TRUNC: harmless on cgroupfs, needed on fake trees


def write(path: str, data: str) -> None:
    fd = os.open(path, _WRITE)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def failure(exc: OSError, field: str, what: str) -> Exception:
    """The error to raise for exc, naming the field and what was done."""
    if exc.errno in (errno.EINVAL, errno.ERANGE):
        return InvalidParameter(f"{field}: {what}: {os.strerror(exc.errno)}")
    return OSError(exc.errno, f"{field}: {what}: {os.strerror(exc.errno or 0)}")


def put(directory: str, name: str, value: object, field: str) -> None:
    """Write value to the control file name, translating errors (see the module doc)."""
    try:
        write(f"{directory}/{name}", str(value))
    except OSError as exc:
        raise failure(exc, field, f"write {name}") from None


def read_int(path: str) -> int | None:
    """An integer control file; None for "max" and for a missing file."""
    try:
        text = read(path).strip()
    except FileNotFoundError:
        return None
    return None if text == "max" else int(text)


def read_keyed(path: str) -> dict[str, int]:
    """A flat keyed file ("key value" lines: memory.stat, cpu.stat, memory.events)."""
    values = {}
    try:
        text = read(path)
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.isdigit():
            values[key] = int(value)
    return values


def integer(value: object, field: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{field}: must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidParameter(f"{field}: must be at least {minimum}, not {value}")
    return value


def text(value: object, field: str) -> str:
    if not isinstance(value, str) or "\n" in value:
        raise InvalidParameter(f"{field}: must be a single-line string, not {value!r}")
    return value


def section(resources: dict, key: str, field: str, kind: type = dict):
    value = resources[key]
    if not isinstance(value, kind):
        raise InvalidParameter(f"{field}: must be {'an object' if kind is dict else 'an array'}")
    return value


def device_numbers(entry: object, field: str) -> str:
    """ "major:minor" of a blockIO device entry."""
    if not isinstance(entry, dict):
        raise InvalidParameter(f"{field}: must be an object")
    major = integer(entry.get("major"), f"{field}.major", 0)
    minor = integer(entry.get("minor"), f"{field}.minor", 0)
    return f"{major}:{minor}"


# Device rules: (allow, type "a"/"c"/"b", major or -1 for any, minor or -1, access bits).
ACCESS_BITS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD/READ/WRITE, reused as a bit set


def device_rules(rules: object, field: str) -> list[tuple[bool, str, int, int, int]]:
    if not isinstance(rules, list):
        raise InvalidParameter(f"{field}: must be an array")
    parsed = []
    for i, rule in enumerate(rules):
        where = f"{field}[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("allow"), bool):
            raise InvalidParameter(f"{where}: must be an object with a boolean 'allow'")
        kind = rule.get("type") or "a"
        if kind not in ("a", "c", "b"):
            raise InvalidParameter(f"{where}.type: must be 'a', 'c' or 'b', not {kind!r}")
        major = rule.get("major")
        minor = rule.get("minor")
        major = -1 if major is None or major == -1 else integer(major, f"{where}.major", 0)
        minor = -1 if minor is None or minor == -1 else integer(minor, f"{where}.minor", 0)
        access = rule.get("access") or "rwm"
        if not isinstance(access, str) or not set(access) <= set(ACCESS_BITS):
            raise InvalidParameter(f"{where}.access: must be a combination of 'r', 'w' and 'm', not {access!r}")
        bits = 0
        for letter in access:
            bits |= ACCESS_BITS[letter]
        parsed.append((rule["allow"], kind, major, minor, bits))
    return parsed
