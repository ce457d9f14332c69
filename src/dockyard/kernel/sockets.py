"""Socket facts the socket module does not give."""

from __future__ import annotations

import array
import fcntl
import termios


def unread_bytes(fd: int) -> int:
    """Bytes written to a connected socket that its peer has not taken yet (SIOCOUTQ).

    For a unix socket they leave the count when the peer reads them; for TCP when it acknowledges them.
    """
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.TIOCOUTQ, count, True)  # SIOCOUTQ has TIOCOUTQ's number
    return count[0]
