"""Host ports for published container ports, as dockerd's portallocator hands them out.

:class:`PortAllocator` turns requests into mappings: a missing host port is taken
from the kernel's ``ip_local_port_range``, counting on from the last port handed
out; a port is refused with docker's "Bind for 0.0.0.0:8080 failed: port is
already allocated" when a Dockyard container holds it (0.0.0.0 overlaps every
address of the same family). Each mapping also holds a socket bound to its host
address and port (:class:`HostPortSocket`, listening for TCP as docker-proxy's
does): a host process that already uses the port makes the publish fail up
front, and no host process or outgoing connection can take the port while a
container has it. Where the kernel cannot serve a mapping, the userland proxy
(proxy.py) relays from that socket. Reading the kernel's port range and binding
sockets are the only kernel contacts here.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Iterable, Sequence

from dockyard.errors import Conflict, InvalidParameter
from dockyard.network.ports import ANY_V4, ANY_V6, PortMapping, PortRequest, Proto

LOCAL_PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
# dockerd's fallback when the kernel's range cannot be read.
FALLBACK_RANGE = (49153, 65535)


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
    """The socket that keeps a host port for one mapping; OSError when the host has it."""

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
            if mapping.proto == Proto.TCP:
                # As docker-proxy's: SO_REUSEADDR so that connections the userland proxy relayed, left in
                # TIME_WAIT, do not keep the port from a container started next; and listening, because
                # only a listening socket keeps other SO_REUSEADDR sockets off the port. Nothing reaches
                # it that the firewall DNATs.
                self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((mapping.host_ip, mapping.host_port))
            if mapping.proto == Proto.TCP:
                self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise

    @property
    def socket(self) -> socket.socket | None:
        """The bound socket (the userland proxy listens on it), None where the kernel has no such sockets."""
        return self._socket

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


Reserve = Callable[[PortMapping], HostPortSocket]
Wildcards = Callable[[PortRequest], Sequence[str]]


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
        self, owner: str, requests: Sequence[PortRequest], wildcards: Wildcards = lambda request: (ANY_V4,)
    ) -> list[PortMapping]:
        """Mappings for every request, or Conflict/InvalidParameter and nothing held. Adds to what owner holds.

        A request without HostIp is published on each of wildcards(request) ("0.0.0.0" and
        usually "::") with one host port, as dockerd does.
        """
        with self._lock:
            return self._allocate(owner, requests, wildcards)

    def restore(self, owner: str, mappings: Sequence[PortMapping]) -> None:
        """Hold exactly these mappings for owner, instead of what it held (after a daemon restart).

        Conflict if another owner has one of them; owner then holds nothing.
        """
        pinned = [PortRequest(m.container_port, m.proto, m.host_ip, m.host_port, m.host_port) for m in mappings]
        with self._lock:
            self._drop(owner, self._owners.pop(owner, []))
            self._allocate(owner, pinned, lambda request: ())

    def release(self, owner: str) -> list[PortMapping]:
        """Give back everything owner holds; what it held (empty if nothing)."""
        with self._lock:
            held = self._owners.pop(owner, [])
            self._drop(owner, held)
            return [mapping for mapping, _ in held]

    def held(self, owner: str) -> list[PortMapping]:
        with self._lock:
            return [mapping for mapping, _ in self._owners.get(owner, [])]

    def reservation(self, owner: str, mapping: PortMapping) -> HostPortSocket:
        """What holds the host port of one of owner's mappings; KeyError if owner does not hold it."""
        with self._lock:
            for held_mapping, held in self._owners.get(owner, []):
                if held_mapping == mapping:
                    return held
        raise KeyError(mapping)

    def _allocate(self, owner: str, requests: Sequence[PortRequest], wildcards: Wildcards) -> list[PortMapping]:
        held: list[tuple[PortMapping, HostPortSocket]] = []
        try:
            for request in requests:
                held += self._allocate_one(owner, request, wildcards(request))
        except BaseException:
            self._drop(owner, held)
            raise
        self._owners.setdefault(owner, []).extend(held)
        return [mapping for mapping, _ in held]

    def _allocate_one(
        self, owner: str, request: PortRequest, wildcards: Sequence[str]
    ) -> list[tuple[PortMapping, HostPortSocket]]:
        host_ips = [request.host_ip] if request.host_ip else list(wildcards)
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
