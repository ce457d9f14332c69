"""Published ports: what the user asked for, in the Engine API's shapes, and the host ports that serve it.

Three shapes meet here, all docker's:

- the CLI's ``-p [ip:][hostPort:]containerPort[/proto]`` (ranges allowed on both
  sides), which :func:`parse_publish` turns into the API's shapes exactly as the
  docker CLI does (go-connections ``nat.ParsePortSpecs``): a range is expanded into
  one key per container port, a host range against a single container port stays
  a range the daemon picks one port from;
- the API's ``ExposedPorts`` ``{"80/tcp": {}}`` and ``HostConfig.PortBindings``
  ``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`` with ``PublishAllPorts``
  (``-P``), which :func:`port_requests` normalises into :class:`PortRequest`;
- the resolved :class:`PortMapping` list, which :func:`api_ports` shapes into
  ``NetworkSettings.Ports`` for inspect, ``ps`` and ``docker port`` (and
  :func:`mappings_from_api` reads back).

:class:`PortAllocator` turns requests into mappings as dockerd's portallocator
does: a missing host port is taken from the kernel's ``ip_local_port_range``,
counting on from the last port handed out; a port is refused with docker's
"Bind for 0.0.0.0:8080 failed: port is already allocated" when a Dockyard
container holds it (0.0.0.0 overlaps every address of the same family). Each
mapping also holds a bound, never listening socket on its host address and port
(``HostPortSocket``): a host process that already uses the port makes the
publish fail up front, and no host process or outgoing connection can take the
port while a container has it (what docker's port reservation does without its
userland proxy). Reading the kernel's port range and binding sockets are the
only kernel contacts of this module.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dockyard.errors import Conflict, InvalidParameter

LOCAL_PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
# dockerd's fallback when the kernel's range cannot be read.
FALLBACK_RANGE = (49153, 65535)
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


# --- the API's shapes -------------------------------------------------------------------------


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


def _host_ip(text: str) -> str:
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
            host_ip = _host_ip(binding.get("HostIp", ""))
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
                    requests.append(PortRequest(low + offset, proto, host_ip, pinned, pinned))
                else:
                    requests.append(PortRequest(low + offset, proto, host_ip, host_low, host_high))
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
            mappings.append(PortMapping(port, proto, _host_ip(entry.get("HostIp", "")) or ANY_V4, host_port))
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
    host_ip, host_port, container = _split_spec(rest)
    if host_ip:
        host_ip = _host_ip(host_ip)
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
        result.append((f"{low + offset}/{proto}", {"HostIp": host_ip, "HostPort": port_text}))
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


# --- host port allocation ---------------------------------------------------------------------


def kernel_port_range(path: str = LOCAL_PORT_RANGE) -> tuple[int, int]:
    """The kernel's ephemeral range, where dockerd takes its random host ports from."""
    try:
        with open(path) as f:
            low, high = (int(field) for field in f.read().split())
    except (OSError, ValueError):
        return FALLBACK_RANGE
    return low, high


_SOCKET_TYPES = {
    Proto.TCP: (socket.SOCK_STREAM, socket.IPPROTO_TCP),
    Proto.UDP: (socket.SOCK_DGRAM, socket.IPPROTO_UDP),
    Proto.SCTP: (socket.SOCK_STREAM, socket.IPPROTO_SCTP),
}


class HostPortSocket:
    """A bound, never listening socket that keeps a host port for one mapping; OSError when the host has it."""

    def __init__(self, mapping: PortMapping) -> None:
        family = socket.AF_INET6 if ":" in mapping.host_ip else socket.AF_INET
        kind, proto = _SOCKET_TYPES[mapping.proto]
        try:
            self._socket: socket.socket | None = socket.socket(family, kind, proto)
        except OSError as exc:
            if exc.errno != errno.EPROTONOSUPPORT:
                raise
            # A kernel without SCTP sockets still forwards SCTP (conntrack and NAT know it), and
            # no host process can hold an SCTP port there, so there is nothing to keep.
            self._socket = None
            return
        try:
            if family == socket.AF_INET6:
                # "::" reserves the IPv6 port only; 0.0.0.0 is a mapping of its own, as in docker.
                self._socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            self._socket.bind((mapping.host_ip, mapping.host_port))
        except OSError:
            self._socket.close()
            raise

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


Reserve = Callable[[PortMapping], HostPortSocket]


class PortAllocator:
    """Host ports for published container ports: allocate all of a container's at once, release them together.

    Thread-safe. ``reserve`` holds the host port outside Dockyard's bookkeeping (a
    bound socket by default; tests of the pure logic pass their own).
    """

    def __init__(self, port_range: tuple[int, int] | None = None, reserve: Reserve = HostPortSocket) -> None:
        self.range = port_range or kernel_port_range()
        self._reserve = reserve
        self._lock = threading.Lock()
        self._owners: dict[str, list[tuple[PortMapping, HostPortSocket]]] = {}
        self._taken: dict[tuple[Proto, int], dict[str, str]] = {}  # (proto, port) -> host_ip -> owner
        self._last: dict[Proto, int] = {}

    def allocate(
        self, owner: str, requests: Sequence[PortRequest], any_addresses: Sequence[str] = (ANY_V4,)
    ) -> list[PortMapping]:
        """Mappings for every request, or Conflict/InvalidParameter and nothing held. Adds to what owner holds.

        A request without HostIp is published on each of any_addresses ("0.0.0.0", and "::"
        for a container with an IPv6 address) with one host port, as dockerd does.
        """
        with self._lock:
            return self._allocate(owner, requests, any_addresses)

    def restore(self, owner: str, mappings: Sequence[PortMapping]) -> None:
        """Hold exactly these mappings for owner, instead of what it held (after a daemon restart).

        Conflict if another owner has one of them; owner then holds nothing.
        """
        pinned = [PortRequest(m.container_port, m.proto, m.host_ip, m.host_port, m.host_port) for m in mappings]
        with self._lock:
            self._drop(owner, self._owners.pop(owner, []))
            self._allocate(owner, pinned, (ANY_V4,))

    def release(self, owner: str) -> list[PortMapping]:
        """Give back everything owner holds; what it held (empty if nothing)."""
        with self._lock:
            held = self._owners.pop(owner, [])
            self._drop(owner, held)
            return [mapping for mapping, _ in held]

    def held(self, owner: str) -> list[PortMapping]:
        with self._lock:
            return [mapping for mapping, _ in self._owners.get(owner, [])]

    def _allocate(self, owner: str, requests: Sequence[PortRequest], any_addresses: Sequence[str]) -> list[PortMapping]:
        held: list[tuple[PortMapping, HostPortSocket]] = []
        try:
            for request in requests:
                held += self._allocate_one(owner, request, any_addresses)
        except BaseException:
            self._drop(owner, held)
            raise
        self._owners.setdefault(owner, []).extend(held)
        return [mapping for mapping, _ in held]

    def _allocate_one(
        self, owner: str, request: PortRequest, any_addresses: Sequence[str]
    ) -> list[tuple[PortMapping, HostPortSocket]]:
        host_ips = [request.host_ip] if request.host_ip else list(any_addresses)
        if request.host_low:
            candidates: Sequence[int] = range(request.host_low, request.host_high + 1)
        else:
            low, high = self.range
            start = self._last.get(request.proto, high) + 1
            start = low if not low <= start <= high else start
            candidates = [*range(start, high + 1), *range(low, start)]
        for port in candidates:
            mappings = [PortMapping(request.container_port, request.proto, ip, port) for ip in host_ips]
            if any(self._holder(mapping) is not None for mapping in mappings):
                continue
            held: list[tuple[PortMapping, HostPortSocket]] = []
            try:
                for mapping in mappings:
                    held.append((mapping, self._reserve(mapping)))
            except OSError as exc:
                for _, reservation in held:
                    reservation.close()
                in_use = exc.errno == errno.EADDRINUSE
                if in_use and len(candidates) > 1:
                    continue  # a host process has this one: try the next
                # Go's wording, as dockerd prints it ("cannot assign requested address" for a HostIp
                # that is not the host's).
                reason = (exc.strerror or str(exc)).lower()
                target = f"{mappings[len(held)]}:{request.container_port}/{request.proto}"
                kind = Conflict if in_use else InvalidParameter
                raise kind(f"failed to bind host port for {target}: {reason}") from None
            if not request.host_low:
                self._last[request.proto] = port
            for mapping in mappings:
                self._taken.setdefault((request.proto, port), {})[mapping.host_ip] = owner
            return held
        if request.host_low:
            ports = str(request.host_low)
            if request.host_high != request.host_low:
                ports += f"-{request.host_high}"
            shown = f"[{host_ips[0]}]" if ":" in host_ips[0] else host_ips[0]
            raise Conflict(f"Bind for {shown}:{ports} failed: port is already allocated")
        raise Conflict(f"all ports are allocated for {request.proto} in {self.range[0]}-{self.range[1]}")

    def _holder(self, mapping: PortMapping) -> str | None:
        """Who holds a port that overlaps mapping: the same address, or the family's any-address on either side."""
        holders = self._taken.get((mapping.proto, mapping.host_port), {})
        v6 = ":" in mapping.host_ip
        for host_ip, owner in holders.items():
            if (":" in host_ip) != v6:
                continue
            if host_ip == mapping.host_ip or {host_ip, mapping.host_ip} & {ANY_V4, ANY_V6}:
                return owner
        return None

    def _drop(self, owner: str, held: Iterable[tuple[PortMapping, HostPortSocket]]) -> None:
        for mapping, reservation in held:
            reservation.close()
            holders = self._taken.get((mapping.proto, mapping.host_port), {})
            if holders.get(mapping.host_ip) == owner:
                del holders[mapping.host_ip]
            if not holders:
                self._taken.pop((mapping.proto, mapping.host_port), None)
