"""The macvlan and ipvlan drivers: each endpoint a sub-interface of a parent interface of the host.

    host: <parent> (the user's, e.g. eth1; or dy-d<11 hex>, a dummy Dockyard makes when no parent is given)
      ├─ macvlan/ipvlan ─▶ container A: eth0 (address/prefix, default route via the network's gateway)
      └─ macvlan/ipvlan ─▶ container B: eth0

As docker's drivers: the gateway is a router on the parent's network, not an
address of the host, so nothing is added to the host and no NAT or isolation
rules apply; a network without a parent gets a dummy parent and is internal. A
macvlan endpoint has docker's MAC (02:42:<ip>), an ipvlan one shares its parent's.
Modes: macvlan_mode bridge (default), private, vepa, passthru; ipvlan_mode l2
(default), l3, l3s. The host itself cannot reach macvlan containers through the
parent (the kernel's rule): containers on one parent reach each other.

The sub-interface is created directly in the container's namespace (under its name
there, with its MAC); it lives and dies with that namespace, so detach deletes it there.
"""

from __future__ import annotations

from dockyard.core.network import Attachment, NetworkLinks
from dockyard.errors import InvalidParameter, NotFound, Unsupported
from dockyard.network import interfaces
from dockyard.network.netlink import IPRoute, NetlinkError

_EEXIST, _EOPNOTSUPP = 17, 95
MODES = {
    "macvlan": ("bridge", "private", "vepa", "passthru"),
    "ipvlan": ("l2", "l3", "l3s"),
}


def dummy_parent(network_id: str) -> str:
    return "dy-d" + network_id[:11]


def check_options(driver: str, options: dict[str, str]) -> tuple[str, str]:
    """(parent, mode) from a network's -o parent= and -o macvlan_mode= / ipvlan_mode=."""
    mode = options.get(f"{driver}_mode") or MODES[driver][0]
    if mode not in MODES[driver]:
        raise InvalidParameter(f"{driver} mode {mode!r} is not one of {', '.join(MODES[driver])}")
    parent = options.get("parent", "")
    if "." in parent:
        raise InvalidParameter(f"VLAN sub-interfaces as parent ({parent}) are not supported")
    return parent, mode


class SubInterfaceDriver:
    """The NetworkDriver of macvlan or ipvlan networks (kind), dockyard.core.network."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def create(self, links: NetworkLinks) -> None:
        with IPRoute() as ipr:
            if links.device == dummy_parent(links.id):
                try:
                    ipr.link("add", ifname=links.device, kind="dummy", mtu=links.mtu)
                except NetlinkError as exc:
                    if exc.code == _EOPNOTSUPP:
                        raise Unsupported("this kernel has no dummy interfaces: give the network a parent") from None
                    if exc.code != _EEXIST:
                        raise
                ipr.link("set", index=interfaces.tag(ipr, links.device, links.owner), state="up")
            elif not ipr.link_lookup(ifname=links.device):
                raise NotFound(f"-o parent interface was not found on the host: {links.device}")

    def delete(self, links: NetworkLinks) -> None:
        if links.device == dummy_parent(links.id):
            interfaces.delete_link(links.device)

    def attach(self, links: NetworkLinks, netns_path: str, attachment: Attachment) -> None:
        if self.kind == "macvlan":
            extra = {"macvlan_mode": links.mode, "address": attachment.mac}
        else:  # an ipvlan interface shares its parent's MAC
            extra = {"ipvlan_mode": MODES["ipvlan"].index(links.mode)}
        with IPRoute() as ipr, interfaces.namespace_fd(netns_path) as fd:
            parent = ipr.link_lookup(ifname=links.device)
            if not parent:
                raise NotFound(f"-o parent interface was not found on the host: {links.device}")
            try:
                ipr.link("add", ifname=attachment.ifname, kind=self.kind, link=parent[0], mtu=attachment.mtu,
                         net_ns_fd=fd, **extra)  # fmt: skip
            except NetlinkError as exc:
                if exc.code == _EOPNOTSUPP:
                    raise Unsupported(f"this kernel has no {self.kind} interfaces") from None
                raise
        try:
            interfaces.configure_inside(netns_path, attachment)
        except BaseException:
            interfaces.delete_inside(netns_path, ifname=attachment.ifname)
            raise

    def detach(self, links: NetworkLinks, netns_path: str, endpoint_id: str) -> None:
        interfaces.delete_inside(netns_path, endpoint_id)
