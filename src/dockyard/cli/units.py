"""The value syntaxes of docker's flags: byte sizes, Go durations, ports, key=value lists, env files."""

from __future__ import annotations

from dockyard.cli.flags import UsageError


def ram_bytes(text: str) -> int:
    """go-units RAMInBytes ("512m", "1.5g", "2GiB"), a usage error when unreadable."""
    from dockyard import units

    try:
        return units.ram_in_bytes(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def duration_ns(text: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms", "0") in nanoseconds, a usage error when unreadable."""
    from dockyard import units

    try:
        return units.go_duration_ns(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def key_values(values: list[str]) -> dict[str, str]:
    """k=v flags (--label, --log-opt, --sysctl): a bare k maps to ""."""
    result = {}
    for value in values:
        key, _, val = value.partition("=")
        result[key] = val
    return result


def env_file_lines(path: str) -> list[str]:
    """docker's env-file: KEY=value lines, # comments and blank lines skipped, bare KEY from our environment."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    return [line.lstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def port_range(text: str, what: str) -> tuple[int, int]:
    first, dash, last = text.partition("-")
    try:
        low, high = int(first), int(last) if dash else int(first)
    except ValueError:
        raise UsageError(f"invalid {what}: {text}") from None
    if not 0 <= low <= high <= 65535:
        raise UsageError(f"invalid {what}: {text}")
    return low, high


def parse_publish(spec: str) -> list[tuple[str, str, str]]:
    """-p [ip:][hostPort:]containerPort[/proto] (ranges allowed) -> [(container "80/tcp", host ip, host port)]."""
    rest, _, proto = spec.partition("/")
    proto = proto or "tcp"
    ip = ""
    if rest.startswith("["):
        ip, _, rest = rest[1:].partition("]")
        rest = rest.removeprefix(":")
    parts = rest.split(":")
    if len(parts) > 3:
        raise UsageError(f"invalid port format: {spec}")
    if len(parts) == 3:
        ip, parts = parts[0], parts[1:]
    host, container = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    if not container:
        raise UsageError(f"no port specified: {spec}<empty>")
    low, high = port_range(container, "containerPort")
    if host:
        host_low, host_high = port_range(host, "hostPort")
        if host_high - host_low != high - low and host_low != host_high:
            raise UsageError(f"invalid ranges specified for container and host Ports: {container} and {host}")
    mappings = []
    for offset, port in enumerate(range(low, high + 1)):
        if not host:
            host_port = ""
        elif host_low == host_high and high != low:
            host_port = host  # docker passes one host port for a container range as a range to pick from
        else:
            host_port = str(host_low + offset)
        mappings.append((f"{port}/{proto}", ip, host_port))
    return mappings
