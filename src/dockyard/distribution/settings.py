"""The daemon's registry settings: which registries may be reached over plain HTTP, and the mirrors.

As dockerd's registry service (moby registry/config.go, 20.10):

    --insecure-registry NAME    host[:port] (an "http://" or "https://" before it is dropped, any other
                                scheme refused) or a CIDR; 127.0.0.0/8 is always added, so that a
                                registry on this host needs no TLS
    --registry-mirror URL       http(s)://host[:port][/], nothing after it; kept with one trailing "/"

A registry is insecure when its name is one of the named ones, or when an address of its host lies in
one of the CIDRs. The settings only hold names and networks: resolving a host is the caller's business,
so that the answer stays pure (and testable) here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LOCALHOST = ipaddress.ip_network("127.0.0.0/8")
_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_PORT = re.compile(rf"{_COMPONENT}(?:\.{_COMPONENT})*(?::[0-9]+)?")  # the reference grammar's domain
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class RegistrySettings:
    insecure_networks: tuple[Network, ...] = (LOCALHOST,)
    insecure_names: tuple[str, ...] = ()  # host[:port], as given
    mirrors: tuple[str, ...] = ()  # URLs ending in "/"

    @classmethod
    def parse(cls, insecure: Iterable[str] = (), mirrors: Iterable[str] = ()) -> RegistrySettings:
        """The settings from the daemon's lists; InvalidParameter with dockerd's message for a bad entry."""
        networks: list[Network] = []
        names: list[str] = []
        for entry in [*insecure, str(LOCALHOST)]:
            network_or_name = _insecure_entry(entry)
            if isinstance(network_or_name, str):
                names.append(network_or_name)
            elif network_or_name not in networks:
                networks.append(network_or_name)
        return cls(tuple(networks), tuple(dict.fromkeys(names)), tuple(dict.fromkeys(map(mirror, mirrors))))

    def is_insecure(self, registry: str, addresses: Iterable[str] = ()) -> bool:
        """Whether registry (host[:port]) may be reached over plain HTTP or with any certificate. addresses:
        its host's addresses as resolved by the caller; an IP literal host needs none."""
        if registry in self.insecure_names:
            return True
        host, _ = _split_host_port(registry)
        found: list[Address] = []
        for text in [*addresses, host]:
            try:
                found.append(ipaddress.ip_address(text))
            except ValueError:
                continue  # a name, not an address: only its resolved addresses count
        return any(address in network for address in found for network in self.insecure_networks)

    def info(self) -> dict:
        """`docker info`'s RegistryConfig (the Engine API's RegistryServiceConfig, 1.50: dockerd 20.10's two
        AllowNondistributableArtifacts lists are gone from it)."""
        return {
            "InsecureRegistryCIDRs": [str(network) for network in self.insecure_networks],
            "IndexConfigs": {
                name: {"Name": name, "Mirrors": [], "Secure": False, "Official": False} for name in self.insecure_names
            },
            "Mirrors": list(self.mirrors),
        }


def _insecure_entry(entry: str) -> Network | str:
    if entry.startswith("-") or entry.endswith("-"):
        raise InvalidParameter(f"invalid index name ({entry}). Cannot begin or end with a hyphen")
    name = entry
    for scheme in ("http://", "https://"):  # dockerd drops these (with a warning): the name is what counts
        if name.lower().startswith(scheme):
            name = name[len(scheme) :]
            break
    else:
        if "://" in name:
            raise InvalidParameter(f"insecure registry {entry} should not contain '://'")
    if "/" in name:
        try:
            return ipaddress.ip_network(name, strict=False)  # Go's ParseCIDR: 10.1.2.3/16 is 10.1.0.0/16
        except ValueError:
            pass
    problem = _host_port_problem(name)
    if problem:
        raise InvalidParameter(f"insecure registry {name} is not valid: {problem}")
    return name


def _host_port_problem(text: str) -> str:
    host, port = _split_host_port(text)
    if not _HOST_PORT.fullmatch(text) and not _is_address(host):
        return f'invalid host "{host}"'
    if port and not (port.isdigit() and int(port) <= 65535):
        return f'invalid port "{port}"'
    return ""


def _split_host_port(text: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with text itself as the host where it fails (no port, an IPv6 address)."""
    if text.startswith("["):
        close = text.find("]")
        if close > 0 and text[close + 1 : close + 2] == ":":
            return text[1:close], text[close + 2 :]
        return text, ""
    host, colon, port = text.rpartition(":")
    if not colon or ":" in host:
        return text, ""
    return host, port


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def mirror(url: str) -> str:
    """A registry mirror's URL checked as dockerd's ValidateMirror, with one trailing "/"."""
    scheme = _SCHEME.match(url)
    if scheme is None and ":" in url.partition("/")[0]:
        raise InvalidParameter(f'invalid mirror: "{url}" is not a valid URI')  # Go's url.Parse refuses it
    if scheme is None or scheme.group().lower() not in ("http:", "https:"):
        found = scheme.group()[:-1] if scheme else ""
        raise InvalidParameter(f'invalid mirror: unsupported scheme "{found}" in "{url}"')
    rest = url[scheme.end() :].removeprefix("//")
    authority, _, path = rest.partition("/")
    if path or "?" in rest or "#" in rest:
        raise InvalidParameter(f'invalid mirror: path, query, or fragment at end of the URI "{url}"')
    if "@" in authority:
        user = authority.rpartition("@")[0].partition(":")[0]
        shown = f"{scheme.group()}//{user}:xxxxx@{authority.rpartition('@')[2]}"
        raise InvalidParameter(f'invalid mirror: username/password not allowed in URI "{shown}"')
    return url.removesuffix("/") + "/"
