"""The /etc/hosts docker writes for each container (moby's libnetwork/etchosts); resolv.conf is resolvconf.py's."""

from __future__ import annotations

from dockyard.errors import InvalidParameter

_HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
)


def hosts(hostname: str, domainname: str, addresses: list[str], extra_hosts: list[tuple[str, str]]) -> str:
    """localhost lines, --add-host entries (name, address), then the container's own addresses and name."""
    lines = [_HOSTS_HEADER]
    lines += [f"{address}\t{name}\n" for name, address in extra_hosts]
    own = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    lines += [f"{address}\t{own}\n" for address in addresses]
    return "".join(lines)


def parse_extra_host(entry: str, host_gateway: str) -> tuple[str, str]:
    """--add-host "name:address" (also "name=address"); "host-gateway" is the default bridge's gateway.

    The name may be several, space-separated (a legacy link's "alias name id" line)."""
    separator = "=" if "=" in entry else ":"
    name, sep, address = entry.partition(separator)
    if not sep or not name or not address:
        raise InvalidParameter(f"invalid IP address in add-host: {entry!r}")
    if address == "host-gateway":
        address = host_gateway
    return name, address.strip("[]")
