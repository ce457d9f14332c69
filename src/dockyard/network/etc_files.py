"""The /etc/hosts and /etc/resolv.conf docker writes for each container (moby's libnetwork/etchosts, resolvconf).

resolv.conf: the host's file with its loopback name servers dropped (they are
unreachable from the container's namespace), --dns / --dns-search / --dns-option
replacing the host's lines of that kind. On a network with the embedded DNS server
the container asks 127.0.0.11, which forwards what it cannot answer to the servers
the container would otherwise have used; docker records them in an ExtServers comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EMBEDDED_DNS = "127.0.0.11"
# What docker falls back on when the host has no usable name server.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")

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
    """--add-host "name:address" (also "name=address"); "host-gateway" is the default bridge's gateway."""
    separator = "=" if "=" in entry else ":"
    name, sep, address = entry.partition(separator)
    if not sep or not name or not address:
        from dockyard.errors import InvalidParameter

        raise InvalidParameter(f"invalid IP address in add-host: {entry!r}")
    if address == "host-gateway":
        address = host_gateway
    return name, address.strip("[]")


@dataclass(frozen=True)
class ResolvConf:
    nameservers: list[str]
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> ResolvConf:
        nameservers, search, options = [], [], []
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "nameserver" and len(fields) > 1:
                nameservers.append(fields[1])
            elif fields[0] in ("search", "domain"):
                search = fields[1:]
            elif fields[0] == "options":
                options += fields[1:]
        return cls(nameservers, search, options)


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def upstream_servers(host: ResolvConf, dns: list[str]) -> list[str]:
    """The name servers a container uses (or the embedded server forwards to): --dns, else the host's
    non-loopback ones, else docker's fallback."""
    if dns:
        return list(dns)
    usable = [server for server in host.nameservers if not _loopback(server)]
    return usable or list(FALLBACK_NAMESERVERS)


def resolv_conf(host: ResolvConf, *, dns: list[str], search: list[str], options: list[str], embedded: bool) -> str:
    servers = upstream_servers(host, dns)
    wanted_search = search if search else host.search
    wanted_search = [] if wanted_search == ["."] else wanted_search
    wanted_options = options if options else host.options
    lines = [f"nameserver {server}" for server in ([EMBEDDED_DNS] if embedded else servers)]
    if wanted_search:
        lines.append("search " + " ".join(wanted_search))
    if wanted_options:
        lines.append("options " + " ".join(wanted_options))
    if embedded:
        lines += ["", "# Based on host file: '/etc/resolv.conf' (internal resolver)",
                  f"# ExtServers: [{' '.join(servers)}]"]  # fmt: skip
    return "\n".join(lines) + "\n"
