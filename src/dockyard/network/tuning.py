"""Throughput settings of bridge-network links, measured in bench/bridge_tuning.py (docs/benchmarks.md).

Two ways past the 64 KiB packets that a veth and a bridge carry at docker's MTU of 1500, where
host loopback carries 64 KiB ones; br_netfilter and conntrack, which every bridged frame walks
too, measured as costing little (docs/networking.md, "Throughput").

`bridge_mtu`: the links (bridge, both veth ends) at the largest MTU a veth takes, the container's
default routes at docker's MTU. Containers of one network talk at 64 KiB packets (about 0.9 of
loopback instead of 0.6); to anything beyond the bridge a container's packets, its TCP MSS and its
path MTU stay as docker has them, because the route, not the device, gives them. Only when the
network's MTU is docker's default 1500 (an explicit 1500 is not told apart).

`tune_link`: BIG TCP, GSO/GRO limits above 64 KiB (IPv6 since Linux 5.19, IPv4 since 6.3): the
sender builds packets of up to `BIG_TCP_SIZE` at MTU 1500 (2-2.9x the default between containers).
But a packet routed out through a device with the usual limits is segmented in software to
MTU-sized frames on the way, which halved throughput to a peer beyond the host: for networks
without a way out (--internal) only. It belongs to each device, in whatever namespace it is: call
it on the host end of each veth, on the bridge once that end is its port, and on the container's
end inside its namespace. Kernels without the attributes ignore them (rtnetlink skips unknown
attributes of RTM_NEWLINK).
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from dockyard.errors import Internal
from dockyard.network.netlink import IPRoute, NetlinkError

DOCKER_MTU = 1500
LINK_MTU = 65535  # the most a veth takes (ETH_MAX_MTU); a bridge follows its ports
# 192 KiB, as Cilium uses. 512 KiB measured 1.1-1.3x faster still between containers, but a larger
# packet holds the CPU and the bridge longer before other flows' packets get their turn.
BIG_TCP_SIZE = 196608
LEGACY_SIZE = 65536  # GSO_LEGACY_MAX_SIZE: the limit without BIG TCP


@dataclass(frozen=True)
class BridgeMTU:
    """The MTUs of a bridge network's links: `link` for the bridge and both ends of each veth,
    `beyond` (None: the link's) as the mtu metric of the container's default routes (IPv4 and IPv6)."""

    link: int
    beyond: int | None = None


def bridge_mtu(mtu: int) -> BridgeMTU:
    """The MTUs for a network whose MTU is `mtu` (what inspect shows). Any MTU but docker's default is
    used as it is; docker's default is taken as "no MTU chosen" (the daemon cannot tell it from an
    explicit --mtu 1500 or com.docker.network.driver.mtu=1500: those get the tuned links too)."""
    if mtu != DOCKER_MTU:
        return BridgeMTU(mtu)
    return BridgeMTU(LINK_MTU, beyond=mtu)


# include/uapi/linux/if_link.h: IFLA_* attribute types. pyroute2 (0.9) names neither IPv4 one.
IFLA_GSO_MAX_SIZE = 41
IFLA_GRO_MAX_SIZE = 58
IFLA_GSO_IPV4_MAX_SIZE = 63
IFLA_GRO_IPV4_MAX_SIZE = 64

_RTM_NEWLINK = 16
_NLM_F_REQUEST_ACK = 0x1 | 0x4
_NLMSG_ERROR = 2
# struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
_NLMSGHDR = struct.Struct("=IHHII")
# struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }
_IFINFOMSG = struct.Struct("=BxHiII")
# struct nlattr { u16 len; u16 type; } followed by a u32 value
_NLATTR_U32 = struct.Struct("=HHI")


def setlink_message(index: int, size: int, seq: int = 1) -> bytes:
    """RTM_NEWLINK for the existing link `index` with all four GSO/GRO limits at `size`."""
    attrs = b"".join(
        _NLATTR_U32.pack(_NLATTR_U32.size, kind, size)
        for kind in (IFLA_GSO_MAX_SIZE, IFLA_GRO_MAX_SIZE, IFLA_GSO_IPV4_MAX_SIZE, IFLA_GRO_IPV4_MAX_SIZE)
    )
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), _RTM_NEWLINK, _NLM_F_REQUEST_ACK, seq, 0) + body


def ack_error(reply: bytes) -> int:
    """The errno of a netlink acknowledgement (0: done)."""
    _, kind, _, _, _ = _NLMSGHDR.unpack_from(reply)
    if kind != _NLMSG_ERROR:
        raise Internal(f"netlink: expected an acknowledgement, got message type {kind}")
    return -struct.unpack_from("=i", reply, _NLMSGHDR.size)[0]


def tune_link(ifname: str, size: int = BIG_TCP_SIZE) -> int:
    """Raise ifname's GSO/GRO limits (IPv4 and IPv6) to size, or to the most the device takes (its
    tso_max_size), in the calling thread's network namespace; returns the limit set, 0 when the kernel
    or the device allows no more than 64 KiB (then nothing changes)."""
    with IPRoute() as ipr:
        try:
            (link,) = ipr.link("get", ifname=ifname)
        except NetlinkError as exc:
            raise Internal(f"tuning {ifname}: {exc}") from exc
    # A bridge's tso_max_size is 64 KiB until its first port comes, then the least of its ports'.
    size = min(size, link.get_attr("IFLA_TSO_MAX_SIZE") or 0)  # absent before Linux 5.19: no BIG TCP
    if size <= LEGACY_SIZE:
        return 0
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:  # 0: NETLINK_ROUTE
        sock.bind((0, 0))
        sock.send(setlink_message(link["index"], size))
        error = ack_error(sock.recv(4096))
    if error:
        raise Internal(f"tuning {ifname}: setting GSO/GRO limits to {size}: {os.strerror(error)}")
    return size
