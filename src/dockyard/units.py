"""Sizes and durations for people, as docker's go-units writes and reads them.

    human_size(2_025_000)        "2.025MB"   (decimal, 4 significant digits: images, df)
    human_size(4096, 3)          "4.1kB"     (ps -s, images SIZE use 3)
    bytes_size(1_572_864)        "1.5MiB"    (binary: stats memory)
    human_duration(90)           "About a minute"
    ram_in_bytes("512m")         536870912   (--memory, --shm-size)
    from_human_size("1.5GB")     1500000000
    go_duration_ns("1m30s")      90000000000  (--health-interval, --since 10m, HEALTHCHECK --interval)
    go_bool("false")             False       (--live-restore=false, driver options, --security-opt)

The daemon writes "Up 3 minutes" with these and the CLI "3 weeks ago"; both
import this module, which imports nothing.
"""

from __future__ import annotations

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision (HumanSize when precision is 4): "%.*g" of the size in kB, MB…"""
    # Python's %g with a precision is Go's %g with one: same rounding, same trailing-zero removal.
    value, unit = _scaled(float(size), 1000.0, _DECIMAL_UNITS)
    return f"{value:.{precision}g}{unit}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits ("1.5MiB", "7.77GiB")."""
    value, unit = _scaled(float(size), 1024.0, _BINARY_UNITS)
    return f"{value:.4g}{unit}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration of a duration in seconds ("Less than a second", "3 weeks")."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration_ns(text: str) -> int:
    """Go's time.ParseDuration ("30s", "1m30s", "500ms", "0") in nanoseconds; ValueError with Go's message."""
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{text}"')
    total, number, i = 0, "", 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = next((u for u in ("ns", "us", "µs", "ms", "s", "m", "h") if text.startswith(u, i)), None)
        if unit is None or not number:
            raise ValueError(f'time: invalid duration "{text}"')
        total += int(float(number) * _DURATION_UNITS[unit])
        number, i = "", i + len(unit)
    if number:
        raise ValueError(f'time: missing unit in duration "{text}"')
    return total


_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip


def go_bool(text: str) -> bool:
    """Go's strconv.ParseBool; ValueError with Go's message."""
    try:
        return _GO_BOOLS[text]
    except KeyError:
        raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax') from None


_DECIMAL_MULTIPLIERS = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_BINARY_MULTIPLIERS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: "1.5GB" -> 1500000000 (decimal); ValueError as go-units' message."""
    return _parse_size(text, _DECIMAL_MULTIPLIERS)


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: "512m", "1.5g", "1024k", "2GiB" -> bytes (binary); ValueError when unreadable."""
    return _parse_size(text, _BINARY_MULTIPLIERS)


def _parse_size(text: str, multipliers: dict[str, int]) -> int:
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{text}'")
    if text[sep] == " ":
        number, suffix = text[:sep], text[sep + 1 :]
    else:
        number, suffix = text[: sep + 1], text[sep + 1 :]
    try:
        size = float(number)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    # "b", or a unit optionally followed by "b" or "ib" ("k", "kb", "kib"), in any case.
    suffix = suffix.lower()
    if suffix == "b":
        return int(size)
    if len(suffix) > 3 or suffix[0] not in multipliers or suffix[1:] not in ("", "b", "ib"):
        raise ValueError(f"invalid suffix: '{suffix}'")
    return int(size * multipliers[suffix[0]])
