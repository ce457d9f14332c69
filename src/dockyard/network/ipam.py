"""IP address management: which subnet a network gets, and which address an endpoint gets in it.

Pure logic over ipaddress objects; the caller passes what is in use (the host's
routes and addresses, the other networks, the addresses already handed out) and
records the answers. As dockerd's default IPAM:

- default address pools are (base, size) pairs (daemon.json "default-address-pools");
  a network without a subnet gets the first /size of the pools that overlaps
  nothing in use, so a host's VPN or corporate routes are never shadowed;
- the gateway is the subnet's first address unless given; addresses are handed out
  from ip-range (the whole subnet by default), lowest free first, never the network
  address, the broadcast address or the gateway;
- a static address (--ip) must lie in a subnet the user configured.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidParameter, PermissionDenied

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Pool:
    base: Network
    size: int  # the prefix length of each subnet cut from base

    @classmethod
    def parse(cls, entry: dict) -> Pool:
        """One default-address-pools entry: {"base": "10.10.0.0/16", "size": 24}; dockerd's messages."""
        base_text, size = entry.get("base", ""), entry.get("size", 0)
        try:
            if "/" not in base_text:  # Go's ParseCIDR wants a prefix; it keeps only the network's bits
                raise ValueError(base_text)
            base = ipaddress.ip_network(base_text, strict=False)
        except (TypeError, ValueError):
            raise InvalidParameter(f'invalid base pool "{base_text}": invalid CIDR address: {base_text}') from None
        whole = isinstance(size, int) and not isinstance(size, bool)
        if not whole or not base.prefixlen <= size <= base.max_prefixlen or size <= 0:
            raise InvalidParameter(f"invalid pools size: {size}")
        return cls(base, size)


# dockerd's defaults (libnetwork/ipamutils): 172.17-31.x.x/16, then 192.168.0.0/16 cut in /20s.
DEFAULT_POOLS: tuple[Pool, ...] = (
    *(Pool(ipaddress.ip_network(f"172.{n}.0.0/16"), 16) for n in range(17, 32)),
    Pool(ipaddress.ip_network("192.168.0.0/16"), 20),
)


def parse_network(text: str, what: str = "subnet") -> Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidParameter(f"invalid {what}: {text!r}") from None
        raise InvalidParameter(f"invalid {what} {text}: it should be {network}") from None


def parse_address(text: str, what: str = "address") -> Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"invalid {what}: {text!r}") from None


def _overlap(subnet: Network, used: dict[Network, str]) -> str | None:
    for other, owner in used.items():
        if other.version == subnet.version and subnet.overlaps(other):
            return f"{other} ({owner})"
    return None


def choose_subnet(pools: Iterable[Pool], used: dict[Network, str], version: int = 4) -> Network:
    """The first subnet of the pools overlapping nothing in used (subnet -> who holds it)."""
    for pool in pools:
        if pool.base.version != version:
            continue
        for subnet in pool.base.subnets(new_prefix=pool.size):
            if _overlap(subnet, used) is None:
                return subnet
    raise PermissionDenied(
        f"could not find an available, non-overlapping IPv{version} address pool among the defaults to assign "
        "to the network"
    )


def check_subnet(subnet: Network, used: dict[Network, str]) -> None:
    """Refuse a requested subnet that overlaps one in use, naming it (docker's 403)."""
    owner = _overlap(subnet, used)
    if owner is not None:
        raise PermissionDenied(
            f"invalid pool request: Pool overlaps with other one on this address space: {subnet} overlaps {owner}"
        )


@dataclass(frozen=True)
class AddressSpace:
    """One network's IPAM config: its subnet, gateway and the range addresses are handed out from."""

    subnet: Network
    gateway: Address
    ip_range: Network
    user_configured: bool  # the user gave the subnet: static addresses are allowed
    auxiliary: tuple[tuple[str, Address], ...] = ()  # --aux-address: (name, address) never handed out

    @classmethod
    def build(
        cls,
        subnet: Network,
        gateway: str = "",
        ip_range: str = "",
        *,
        user_configured: bool,
        auxiliary: dict[str, str] | None = None,
    ) -> AddressSpace:
        gw = parse_address(gateway, "gateway") if gateway else next(subnet.hosts())
        if gw not in subnet:
            raise InvalidParameter(f"gateway {gw} is not in subnet {subnet}")
        rng = parse_network(ip_range, "ip-range") if ip_range else subnet
        if not rng.subnet_of(subnet):  # type: ignore[arg-type]
            raise InvalidParameter(f"ip-range {rng} is not in subnet {subnet}")
        aux = tuple((name, parse_address(text, "auxiliary address")) for name, text in (auxiliary or {}).items())
        for name, address in aux:
            if address not in subnet:
                raise InvalidParameter(f"auxiliary address {name}={address} is not in subnet {subnet}")
        return cls(subnet, gw, rng, user_configured, aux)

    @property
    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{self.subnet.prefixlen}"

    def _reserved(self, address: Address) -> bool:
        if address in (self.gateway, self.subnet.network_address) or any(address == a for _, a in self.auxiliary):
            return True
        return self.subnet.version == 4 and address == self.subnet.broadcast_address and self.subnet.prefixlen < 31

    def allocate(self, allocated: set[Address], wanted: str = "") -> Address:
        """A free address: wanted if given (and valid), else the lowest free one of the range."""
        if wanted:
            if not self.user_configured:
                raise InvalidParameter(
                    "user specified IP address is supported only when connecting to networks with user "
                    "configured subnets"
                )
            address = parse_address(wanted, "IPv4 address")
            if address not in self.subnet:
                raise InvalidParameter(f"no configured subnet contains IP address {address}")
            if address in allocated or self._reserved(address):
                raise Conflict(f"Address already in use: {address}")
            return address
        # Walk the range rather than materialising it: a /8 has 16 million addresses.
        start = int(self.ip_range.network_address)
        for offset in range(self.ip_range.num_addresses):
            address = ipaddress.ip_address(start + offset)
            if address not in allocated and not self._reserved(address):
                return address
        raise Conflict(f"no available IP addresses on network with subnet {self.subnet}")


def mac_address(address: Address) -> str:
    """docker's MAC for an IPv4 endpoint: 02:42 followed by the four bytes of the address."""
    return ":".join(f"{b:02x}" for b in (0x02, 0x42, *address.packed[-4:]))
