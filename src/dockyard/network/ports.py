"""Published ports in docker's shapes: what the user asked for, and what runs.

Three shapes meet here, all docker's:

- the CLI's ``-p [ip:][hostPort:]containerPort[/proto]`` (ranges allowed on both
  sides), which :func:`parse_publish` turns into the API's shapes exactly as the
  docker CLI does (go-connections ``nat.ParsePortSpecs``): a range is expanded into
  one key per container port, a host range against a single container port stays
  a range the daemon picks one port from;
- the API's ``ExposedPorts`` ``{"80/tcp": {}}`` and ``HostConfig.PortBindings``
  ``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`` with ``PublishAllPorts``
  (``-P``), which :func:`port_requests` normalises into :class:`PortRequest`;
- the resolved :class:`PortMapping` list (port_allocator.py makes it), which
  :func:`api_ports` shapes into ``NetworkSettings.Ports`` for inspect, ``ps`` and
  ``docker port`` (and :func:`mappings_from_api` reads back).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dockyard.errors import InvalidParameter

ANY_V4 = "0.0.0.0"
ANY_V6 = "::"


class Proto(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"


@dataclass(frozen=True)
class PortRequest:
    """One container port to publish on one host address; host_low..host_high is the acceptable host range.

    host_ip is "" for every address (docker's default); host_low == 0 asks for any free port.
    """

    container_port: int
    proto: Proto
    host_ip: str = ""
    host_low: int = 0
    host_high: int = 0


@dataclass(frozen=True)
class PortMapping:
    """A published port as it runs: host_ip:host_port on the host is container_port of the container."""

    container_port: int
    proto: Proto
    host_ip: str  # "0.0.0.0" (or "::") for every address of the family
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"

    def __str__(self) -> str:
        host = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{host}:{self.host_port}"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise ValueError(text)
    return int(text)


def _port_range(text: str) -> tuple[int, int]:
    """ "80" or "8000-8010" -> (low, high); ValueError on anything else."""
    low, sep, high = text.partition("-")
    first = _port(low)
    last = _port(high) if sep else first
    if last < first:
        raise ValueError(text)
    return first, last


def split_key(key: str) -> tuple[tuple[int, int], Proto]:
    """An ExposedPorts/PortBindings key, "80/tcp", "53/udp", "8000-8002" (tcp) -> ((low, high), proto)."""
    ports, _, proto = key.partition("/")
    try:
        return _port_range(ports), Proto(proto.lower() or "tcp")
    except ValueError:
        raise InvalidParameter(f"invalid port specification: {key!r}") from None


def host_ip(text: str) -> str:
    """An address as given in HostIp ("[::1]" too), normalised; "" for none; InvalidParameter if it is none."""
    text = (text or "").strip("[]")
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidParameter(f"invalid IP address: {text}") from None


def port_requests(
    port_bindings: Mapping[str, Sequence[Mapping[str, str]] | None] | None,
    exposed_ports: Iterable[str] = (),
    publish_all: bool = False,
) -> list[PortRequest]:
    """HostConfig.PortBindings (+ ExposedPorts with PublishAllPorts) -> what to publish, in a stable order.

    As dockerd: a binding without HostPort (or "0") gets any free port; a HostPort range
    against one container port means one free port of that range; a range key pairs
    with an equally long host range; with PublishAllPorts every exposed port that has
    no binding of its own is published on a free port of every address.
    """
    requests: list[PortRequest] = []
    bound: set[tuple[int, Proto]] = set()
    for key, bindings in sorted((port_bindings or {}).items()):
        (low, high), proto = split_key(key)
        for binding in bindings or ():
            address = host_ip(binding.get("HostIp", ""))
            host_port = (binding.get("HostPort") or "").strip()
            try:
                host_low, host_high = (0, 0) if host_port in ("", "0") else _port_range(host_port)
            except ValueError:
                raise InvalidParameter(f"invalid port specification: {host_port!r}") from None
            count = high - low + 1
            if host_low and count > 1 and host_high - host_low + 1 != count:
                raise InvalidParameter(
                    f"invalid ranges specified for container and host Ports: {low}-{high} and {host_port}"
                )
            for offset in range(count):
                if host_low and count > 1:
                    pinned = host_low + offset
                    requests.append(PortRequest(low + offset, proto, address, pinned, pinned))
                else:
                    requests.append(PortRequest(low + offset, proto, address, host_low, host_high))
                bound.add((low + offset, proto))
    if publish_all:
        exposed: set[tuple[int, Proto]] = set()
        for key in [*exposed_ports, *(port_bindings or {})]:
            (low, high), proto = split_key(key)
            exposed.update((port, proto) for port in range(low, high + 1))
        requests += [PortRequest(port, proto) for port, proto in sorted(exposed - bound)]
    return requests


def api_ports(mappings: Iterable[PortMapping], exposed_ports: Iterable[str] = ()) -> dict[str, list[dict] | None]:
    """NetworkSettings.Ports: every exposed port, null where nothing is published, as docker inspect shows it."""
    result: dict[str, list[dict] | None] = {}
    for key in exposed_ports:
        (low, high), proto = split_key(key)
        for port in range(low, high + 1):
            result.setdefault(f"{port}/{proto}", None)
    for mapping in mappings:
        entries = result.get(mapping.key) or []
        entries.append({"HostIp": mapping.host_ip, "HostPort": str(mapping.host_port)})
        result[mapping.key] = entries
    return result


def mappings_from_api(ports: Mapping[str, Sequence[Mapping[str, str]] | None] | None) -> list[PortMapping]:
    """NetworkSettings.Ports as api_ports() shaped them -> the mappings (to restore them after a daemon restart)."""
    mappings = []
    for key, entries in (ports or {}).items():
        (port, _), proto = split_key(key)
        for entry in entries or ():
            try:
                host_port = _port(entry.get("HostPort", ""))
            except ValueError:
                raise InvalidParameter(f"invalid port specification: {entry.get('HostPort')!r}") from None
            mappings.append(PortMapping(port, proto, host_ip(entry.get("HostIp", "")) or ANY_V4, host_port))
    return mappings


def parse_publish(specs: Iterable[str]) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """docker run -p values -> (ExposedPorts, PortBindings) exactly as the docker CLI sends them."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for key, binding in _parse_one(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append(binding)
    return exposed, bindings


def _parse_one(spec: str) -> list[tuple[str, dict[str, str]]]:
    rest, _, proto = spec.rpartition("/") if "/" in spec else (spec, "", "tcp")
    proto = proto.lower()
    if proto not in Proto.__members__.values():
        raise InvalidParameter(f"invalid proto: {proto}")
    address, host_port, container = _split_spec(rest)
    if address:
        address = host_ip(address)
    if not container:
        raise InvalidParameter(f"no port specified: {spec}<empty>")
    try:
        low, high = _port_range(container)
    except ValueError:
        raise InvalidParameter(f"invalid containerPort: {container}") from None
    host_low = host_high = 0
    if host_port:
        try:
            host_low, host_high = _port_range(host_port)
        except ValueError:
            raise InvalidParameter(f"invalid hostPort: {host_port}") from None
    count = high - low + 1
    if host_port and count > 1 and host_high - host_low + 1 != count:
        raise InvalidParameter(f"invalid ranges specified for container and host Ports: {container} and {host_port}")
    result = []
    for offset in range(count):
        if not host_port:
            port_text = ""
        elif count > 1:
            port_text = str(host_low + offset)
        else:
            port_text = host_port
        result.append((f"{low + offset}/{proto}", {"HostIp": address, "HostPort": port_text}))
    return result


def _split_spec(text: str) -> tuple[str, str, str]:
    """ "ip:host:container", "host:container", "container"; an IPv6 address is written in brackets."""
    if text.startswith("["):
        address, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise InvalidParameter(f"invalid IP address: {text}")
        host_port, _, container = rest[1:].rpartition(":")
        return address, host_port, container
    parts = text.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise InvalidParameter(f"invalid port format: {text}")
