"""The bridge driver: a Linux bridge per network and a veth pair per endpoint, through netlink (pyroute2).

    host namespace                         container's namespace (handle under the exec root)
    bridge <name> (gateway/prefix, up)
      └─ dy-v<endpoint>  ◀── veth ──▶  eth0 (address/prefix, 02:42:<ip> MAC, default route via gateway)

Names carry dy- so leaks are easy to find: user networks' bridges are dy-<12 hex of
the network>, host ends dy-v<11 hex of the endpoint>; the peer is created directly in
the container's namespace under its name there, with its MAC. When a container's
namespace goes, the kernel deletes its veth pairs with it (in the background): a
stopping container need not wait for that, and a host end still there from the
endpoint's previous run is deleted before the next attach.

The host end's bridge port is in hairpin mode, so a container reaches its own
published ports through the host's address (what docker does without its userland proxy).

At docker's default MTU the links run at the largest MTU a veth takes and the container's default
routes at docker's 1500 (network.tuning.bridge_mtu): containers of one network exchange 64 KiB
packets, as host loopback does, while what leaves the network is sized as under docker.
"""

from __future__ import annotations

import contextlib
import socket

from dockyard.core.network import Attachment, NetworkLinks
from dockyard.errors import Conflict, Internal
from dockyard.network import interfaces, tuning
from dockyard.network.netlink import IPRoute, NetlinkError

_EEXIST = 17
HOST_PREFIX = "dy-v"


def host_end(endpoint_id: str) -> str:
    return HOST_PREFIX + endpoint_id[:11]


class BridgeDriver:
    """The NetworkDriver of bridge networks (dockyard.core.network)."""

    def create(self, links: NetworkLinks) -> None:
        """The bridge up with the gateway's addresses only (created if absent; gateways of an earlier --bip go)."""
        mtu = tuning.bridge_mtu(links.mtu)
        # A tuned bridge is made without an MTU: it follows its ports (a bridge without ports refuses a large one).
        size = {} if mtu.beyond else {"mtu": mtu.link}
        with IPRoute() as ipr:
            try:
                ipr.link("add", ifname=links.device, kind="bridge", **size)
            except NetlinkError as exc:
                if exc.code != _EEXIST:
                    raise Internal(f"creating bridge {links.device}: {exc}") from exc
            index = interfaces.tag(ipr, links.device, links.owner)
            interfaces.only_address(ipr, index, socket.AF_INET, links.gateway)
            interfaces.only_address(ipr, index, socket.AF_INET6, links.gateway6)
            ipr.link("set", index=index, state="up")

    def delete(self, links: NetworkLinks) -> None:
        interfaces.delete_link(links.device)

    def attach(self, links: NetworkLinks, netns_path: str, attachment: Attachment) -> None:
        host = host_end(attachment.endpoint_id)
        mtu = tuning.bridge_mtu(attachment.mtu)
        with IPRoute() as ipr, interfaces.namespace_fd(netns_path) as fd:
            bridge_index = ipr.link_lookup(ifname=links.device)
            if not bridge_index:
                raise Internal(f"bridge {links.device} does not exist")
            peer = {"ifname": attachment.ifname, "net_ns_fd": fd, "mtu": mtu.link, "address": attachment.mac}
            for retry in (True, False):
                try:
                    ipr.link("add", ifname=host, kind="veth", peer=peer, mtu=mtu.link)
                    break
                except NetlinkError as exc:
                    if not (retry and exc.code == _EEXIST):
                        raise Conflict(f"creating veth {host}: {exc}") from exc
                    interfaces.delete_link(host)  # the previous run's, its namespace not yet cleaned up
            try:
                index = interfaces.tag(ipr, host, links.owner)
                ipr.link("set", index=index, master=bridge_index[0])
                ipr.brport("set", index=index, mode=1)  # hairpin
                ipr.link("set", index=index, state="up")
                interfaces.configure_inside(netns_path, attachment, route_mtu=mtu.beyond)
            except BaseException:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", ifname=host)  # the peer goes with it, wherever it is
                raise

    def detach(self, links: NetworkLinks, netns_path: str, endpoint_id: str) -> None:
        """Deleting the host end deletes both ends, wherever the other is."""
        interfaces.delete_link(host_end(endpoint_id))
