"""The bridge driver: a Linux bridge per network and a veth pair per endpoint, through netlink (pyroute2).

    host namespace                         container's namespace (handle under the exec root)
    bridge <name> (gateway/prefix, up)
      └─ dy-v<endpoint>  ◀── veth ──▶  eth0 (address/prefix, 02:42:<ip> MAC, default route via gateway)

Names carry dy- so leaks are easy to find: user networks' bridges are dy-<12 hex of
the network>, host ends dy-v<11 hex of the endpoint>; the peer is created as
dy-p<11 hex> in the host namespace, then moved into the container's namespace and
renamed there.

The host end's bridge port is in hairpin mode, so a container reaches its own
published ports through the host's address (what docker does without its userland proxy).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.errors import Conflict, Internal
from dockyard.kernel import netns

_EEXIST, _ENODEV = 17, 19
_IFA_F_NODAD = 0x02
HOST_PREFIX = "dy-v"


def host_end(endpoint_id: str) -> str:
    return HOST_PREFIX + endpoint_id[:11]


@dataclass(frozen=True)
class Attachment:
    """What one endpoint looks like inside the container."""

    endpoint_id: str
    ifname: str  # eth0, eth1... in the container
    address: str  # with its prefix: 172.18.0.2/16
    gateway: str  # "" for none
    mac: str
    mtu: int
    default_route: bool  # whether this endpoint carries the container's default route
    address6: str = ""  # with its prefix, on a network with IPv6
    gateway6: str = ""


def ensure_bridge(name: str, gateway_cidr: str, mtu: int, *, owner: str, gateway6: str = "") -> None:
    """The bridge up with the gateway's address, and gateway6 (IPv6, with its prefix) if given; created if
    absent, other global addresses (gateways of an earlier --bip) removed.

    owner goes in the link's alias: reconciliation removes only the links of its own daemon.
    """
    with IPRoute() as ipr:
        try:
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
        except NetlinkError as exc:
            if exc.code != _EEXIST:
                raise Internal(f"creating bridge {name}: {exc}") from exc
        index = ipr.link_lookup(ifname=name)[0]
        ipr.link("set", index=index, ifalias=owner)  # the kernel takes no alias in the creating message
        _only_address(ipr, index, socket.AF_INET, gateway_cidr)
        _only_address(ipr, index, socket.AF_INET6, gateway6)
        ipr.link("set", index=index, state="up")


def _only_address(ipr: IPRoute, index: int, family: int, cidr: str) -> None:
    """cidr the only global address of the family on the link ("": none); link-local ones are the kernel's."""
    wanted = None
    if cidr:
        address, _, prefix = cidr.partition("/")
        wanted = (str(ipaddress.ip_address(address)), int(prefix))
    present = False
    for entry in ipr.get_addr(index=index, family=family):
        found = (entry.get("IFA_ADDRESS"), entry["prefixlen"])
        if entry["scope"] != 0:  # RT_SCOPE_UNIVERSE only: fe80:: stays
            continue
        if found == wanted:
            present = True
        else:
            ipr.addr("del", index=index, address=found[0], prefixlen=found[1])
    if wanted and not present:
        _add_address(ipr, index, *wanted)


def _add_address(ipr: IPRoute, index: int, address: str, prefix: int) -> None:
    # IPv6 without duplicate address detection: the address is ours by allocation, and a tentative one
    # cannot be used for the first seconds of a container's life.
    flags = {"flags": _IFA_F_NODAD} if ":" in address else {}
    ipr.addr("add", index=index, address=address, prefixlen=prefix, **flags)


def delete_bridge(name: str) -> None:
    delete_link(name)


def attach(bridge: str, netns_path: str, attachment: Attachment, *, owner: str) -> None:
    """Plug the container's namespace into bridge with a veth pair configured as attachment says."""
    host, peer = host_end(attachment.endpoint_id), "dy-p" + attachment.endpoint_id[:11]
    with IPRoute() as ipr:
        bridge_index = ipr.link_lookup(ifname=bridge)
        if not bridge_index:
            raise Internal(f"bridge {bridge} does not exist")
        try:
            ipr.link("add", ifname=host, kind="veth", peer={"ifname": peer, "mtu": attachment.mtu}, mtu=attachment.mtu)
        except NetlinkError as exc:
            raise Conflict(f"creating veth {host}: {exc}") from exc
        try:
            index = ipr.link_lookup(ifname=host)[0]
            ipr.link("set", index=index, master=bridge_index[0], ifalias=owner)
            ipr.brport("set", index=index, mode=1)  # hairpin
            ipr.link("set", index=index, state="up")
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ipr.link("set", index=ipr.link_lookup(ifname=peer)[0], net_ns_fd=fd)
            finally:
                os.close(fd)
            netns.run_in_netns(netns_path, lambda: _configure_inside(peer, attachment))
        except BaseException:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=host)  # the peer goes with it, wherever it is
            raise


def _configure_inside(peer: str, attachment: Attachment) -> None:
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        index = ipr.link_lookup(ifname=peer)[0]
        ipr.link("set", index=index, ifname=attachment.ifname, address=attachment.mac)
        for cidr in filter(None, (attachment.address, attachment.address6)):
            address, _, prefix = cidr.partition("/")
            _add_address(ipr, index, address, int(prefix))
        ipr.link("set", index=index, state="up")
        if attachment.default_route and attachment.gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=attachment.gateway, oif=index)
        if attachment.default_route and attachment.gateway6:
            ipr.route("add", dst="::/0", gateway=attachment.gateway6, oif=index, family=socket.AF_INET6)


def detach(endpoint_id: str) -> None:
    """Remove the endpoint's veth pair (absent is fine): deleting the host end deletes both."""
    delete_link(host_end(endpoint_id))


def owned_links(owner: str) -> dict[str, str]:
    """The links this daemon made (its alias is owner): name -> kind ("bridge" or "veth")."""
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


def bring_up_loopback(netns_path: str) -> None:
    """lo up in a namespace without endpoints (network none), as docker leaves it."""

    def up() -> None:
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

    netns.run_in_netns(netns_path, up)


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
