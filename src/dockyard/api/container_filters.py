"""docker ps's filters that are read once per list rather than per container: before, since, is-task,
publish and expose, with dockerd's meaning and errors (moby daemon/list.go, foldFilter)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.api.container_list import Entry
from dockyard.errors import Internal, InvalidParameter, NotFound


def window(entries: list[Entry], wanted: dict[str, list[str]]) -> list[Entry]:
    """before=: the containers created before the one named, since=: those created after it (newest first,
    neither bound listed). Like dockerd, both are applied to every container before any other filter (so a
    stopped bound also bounds `docker ps`), and since= bounds only what before= left."""
    before = _bound(entries, wanted.get("before", []))
    since = _bound(entries, wanted.get("since", []))
    if before is not None:
        entries = entries[entries.index(before) + 1 :]
    if since is not None and since in entries:
        entries = entries[: entries.index(since)]
    return entries


def _bound(entries: list[Entry], values: list[str]) -> Entry | None:
    """The container a before/since value names, by full ID or by name (as dockerd: no ID prefix); of
    several values the last counts."""
    found = None
    for value in values:
        name = value.removeprefix("/")
        found = next((e for e in entries if e.record.id == value), None) or next(
            (e for e in entries if e.record.name == name), None
        )
        if found is None:
            raise NotFound(f"No such container: {value}")
    return found


def is_task(wanted: dict[str, list[str]]) -> bool | None:
    """is-task=true/false (or 1/0): whether to list swarm tasks only, or none of them; None when not
    filtered. Dockyard runs no swarm tasks."""
    if "is-task" not in wanted:
        return None
    values = wanted["is-task"]
    truthy, falsy = bool({"1", "true"} & set(values)), bool({"0", "false"} & set(values))
    if not values:
        raise InvalidParameter("invalid filter 'is-task'")
    if truthy == falsy:
        raise InvalidParameter(f"invalid filter 'is-task=[{' '.join(values)}]'")
    return truthy


@dataclass(frozen=True)
class PortFilter:
    """publish= (a public port) and expose= (a container port) as port/proto ranges, matched against
    the ports a container's summary lists (dockerd matches its Summary.Ports too: a container that is
    not running has none)."""

    publish: tuple[tuple[str, int, int], ...]
    expose: tuple[tuple[str, int, int], ...]

    @classmethod
    def parse(cls, wanted: dict[str, list[str]]) -> PortFilter | None:
        if "publish" not in wanted and "expose" not in wanted:
            return None
        ranges = {key: tuple(_port_range(key, value) for value in wanted.get(key, [])) for key in ("publish", "expose")}
        return cls(ranges["publish"], ranges["expose"])

    def matches(self, entry: Entry) -> bool:
        return any(
            _within(self.publish, port["Type"], port.get("PublicPort", 0))
            or _within(self.expose, port["Type"], port["PrivatePort"])
            for port in entry.summary["Ports"]
        )


def _within(ranges: tuple[tuple[str, int, int], ...], proto: str, number: int) -> bool:
    return any(kind == proto and start <= number <= end for kind, start, end in ranges)


def _port_range(key: str, value: str) -> tuple[str, int, int]:
    """`80`, `80/udp`, `8000-8080/tcp` as (proto, start, end). dockerd answers a bad one with a plain
    error, hence a 500, and these messages (go-connections nat.SplitProtoPort, ParsePortRange)."""
    if ":" in value:
        raise Internal(f"filter for '{key}' should not contain ':': {value}")
    port, _, proto = value.partition("/")
    proto = proto.split("/")[0] or "tcp"
    try:
        if not port:
            raise ValueError("empty string specified for ports")
        if "-" not in port:
            return proto, _uint16(port), _uint16(port)
        first, last = port.split("-")[:2]
        start, end = _uint16(first), _uint16(last)
        if end < start:
            raise ValueError(f"invalid range specified for port: {port}")
        return proto, start, end
    except ValueError as exc:
        raise Internal(f"error while looking up for {key} {value}: {exc}") from None


def _uint16(text: str) -> int:
    """strconv.ParseUint(text, 10, 16), with its error messages."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 0xFFFF:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)
