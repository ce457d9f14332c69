"""Socket facts the socket module does not give."""

from __future__ import annotations

import array
import fcntl
import socket
import struct
import termios

# <linux/sockios.h>, <net/if.h>: struct ifreq is a 16-byte name and, here, a short of flags in a 24-byte union.
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = struct.Struct("16sh22x")


def unread_bytes(fd: int) -> int:
    """Bytes written to a connected socket that its peer has not taken yet (SIOCOUTQ).

    For a unix socket they leave the count when the peer reads them; for TCP when it acknowledges them.
    """
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.TIOCOUTQ, count, True)  # SIOCOUTQ has TIOCOUTQ's number
    return count[0]


def set_link_up(name: str) -> None:
    """Set the interface name up in the calling thread's network namespace (SIOCSIFFLAGS).

    Two ioctls on a datagram socket: for lo in a new namespace this is what `ip link set lo up` does, at a
    fraction of the cost of a netlink client (whose set-up alone takes milliseconds).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        request = bytearray(_IFREQ.pack(name.encode(), 0))
        fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request, True)
        _, flags = _IFREQ.unpack(request)
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, _IFREQ.pack(name.encode(), flags | _IFF_UP))
