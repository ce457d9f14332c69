"""Netlink work the drivers share (pyroute2): addresses, configuring an interface inside a namespace,
the links a daemon made, the subnets the host already uses.

Every link Dockyard makes on the host carries its daemon's owner tag as the link's
alias (the kernel takes none in the creating message: it is set right after),
so reconciliation removes only the links of its own daemon. Interfaces inside a
container's namespace are created there directly (namespace_fd) and carry their
endpoint's id as alias, so that an endpoint's interface is found there again.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator

from dockyard.core.network import Attachment
from dockyard.kernel import netns, sockets
from dockyard.network.netlink import IPRoute, NetlinkError

_IFA_F_NODAD = 0x02
_RT_SCOPE_UNIVERSE = 0


def add_address(ipr: IPRoute, index: int, address: str, prefix: int) -> None:
    # IPv6 without duplicate address detection: the address is ours by allocation, and a tentative one
    # cannot be used for the first seconds of a container's life.
    flags = {"flags": _IFA_F_NODAD} if ":" in address else {}
    ipr.addr("add", index=index, address=address, prefixlen=prefix, **flags)


def only_address(ipr: IPRoute, index: int, family: int, cidr: str) -> None:
    """cidr the only global address of the family on the link ("": none); link-local ones are the kernel's."""
    wanted = None
    if cidr:
        address, _, prefix = cidr.partition("/")
        wanted = (str(ipaddress.ip_address(address)), int(prefix))
    present = False
    for entry in ipr.get_addr(index=index, family=family):
        found = (entry.get("IFA_ADDRESS"), entry["prefixlen"])
        if entry["scope"] != _RT_SCOPE_UNIVERSE:
            continue
        if found == wanted:
            present = True
        else:
            ipr.addr("del", index=index, address=found[0], prefixlen=found[1])
    if wanted and not present:
        add_address(ipr, index, *wanted)


@contextlib.contextmanager
def namespace_fd(netns_path: str) -> Iterator[int]:
    """An open descriptor of the namespace, for a creating message's IFLA_NET_NS_FD.

    Links are created directly inside the container's namespace: moving one there
    afterwards costs the kernel a network synchronisation (~30 ms here) per link."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def configure_inside(netns_path: str, attachment: Attachment, route_mtu: int | None = None) -> None:
    """Give the endpoint's interface (already in the namespace under its name) its addresses and routes;
    route_mtu: the default routes' mtu metric, where it is below the interface's."""
    netns.run_in_netns(netns_path, lambda: _configure_inside(attachment, route_mtu))


def _configure_inside(attachment: Attachment, route_mtu: int | None) -> None:
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        index = ipr.link_lookup(ifname=attachment.ifname)[0]
        ipr.link("set", index=index, ifalias=attachment.endpoint_id)
        for cidr in filter(None, (attachment.address, attachment.address6)):
            address, _, prefix = cidr.partition("/")
            add_address(ipr, index, address, int(prefix))
        ipr.link("set", index=index, state="up")
        metrics = {"metrics": {"mtu": route_mtu}} if route_mtu else {}
        if attachment.default_route and attachment.gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=attachment.gateway, oif=index, **metrics)
        if attachment.default_route and attachment.gateway6:
            ipr.route("add", dst="::/0", gateway=attachment.gateway6, oif=index, family=socket.AF_INET6, **metrics)


def delete_inside(netns_path: str, endpoint_id: str = "", ifname: str = "") -> None:
    """Delete an endpoint's interface in the namespace, found by its endpoint's id (its alias) or by name;
    nothing if the namespace or the interface is gone."""

    def delete() -> None:
        with IPRoute() as ipr:
            for link in ipr.get_links():
                if (endpoint_id and link.get("IFLA_IFALIAS") == endpoint_id) or link.get("IFLA_IFNAME") == ifname:
                    with contextlib.suppress(NetlinkError):
                        ipr.link("del", index=link["index"])

    with contextlib.suppress(FileNotFoundError):
        netns.run_in_netns(netns_path, delete)


def bring_up_loopback(netns_path: str) -> None:
    """lo up in a namespace without endpoints (network none), as docker leaves it."""

    netns.run_in_netns(netns_path, lambda: sockets.set_link_up("lo"))


def tag(ipr: IPRoute, name: str, owner: str) -> int:
    """The link's index, after giving it the owner tag."""
    index = ipr.link_lookup(ifname=name)[0]
    ipr.link("set", index=index, ifalias=owner)
    return index


def owned_links(owner: str) -> dict[str, str]:
    """The links this daemon made (their alias is owner): name -> kind ("bridge", "veth", "dummy")."""
    found = {}
    with IPRoute() as ipr:
        for link in ipr.get_links():
            if link.get("IFLA_IFALIAS") == owner:
                info = link.get("IFLA_LINKINFO")
                found[link.get("IFLA_IFNAME")] = info.get("IFLA_INFO_KIND") if info else ""
    return found


def delete_link(name: str) -> None:
    with IPRoute() as ipr, contextlib.suppress(NetlinkError):
        ipr.link("del", ifname=name)


def host_subnets(ignore_links: set[str]) -> dict:
    """The subnets the host already routes or holds addresses in (not counting ignore_links): subnet -> owner.

    Both families; link-local and multicast ranges are every link's and never in the way.
    """
    used: dict = {}
    with IPRoute() as ipr:
        names = {link["index"]: link.get("IFLA_IFNAME") for link in ipr.get_links()}
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in ipr.get_routes(family=family, table=254):
                dst, oif = route.get("RTA_DST"), route.get("RTA_OIF")
                if dst and names.get(oif) not in ignore_links:
                    _note(used, f"{dst}/{route['dst_len']}", f"route on {names.get(oif)}")
            for addr in ipr.get_addr(family=family):
                name = names.get(addr["index"])
                if name not in ignore_links and name != "lo":
                    _note(used, f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}", f"address on {name}")
    return used


def _note(used: dict, cidr: str, owner: str) -> None:
    network = ipaddress.ip_network(cidr, strict=False)
    if not (network.is_link_local or network.is_multicast):
        used.setdefault(network, owner)
