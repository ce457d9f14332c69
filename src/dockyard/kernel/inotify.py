"""inotify(7): being woken when a file changes, instead of polling it.

Python's os module has no inotify; kernel/libc.py makes the calls.
"""

from __future__ import annotations

import os
import select

from dockyard.kernel import libc

IN_MODIFY = 0x002
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


class DirectoryWatch:
    """Wakes a reader when a file in a directory is written, created or renamed into it.

    A directory, not a file: a log that rotates is a new file under the same name.
    Raises OSError when the kernel refuses an instance (fs.inotify.max_user_instances).
    """

    def __init__(self, directory: str) -> None:
        self.fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        try:
            libc.inotify_add_watch(self.fd, directory, IN_MODIFY | IN_CREATE | IN_MOVED_TO)
        except OSError:
            os.close(self.fd)
            raise

    def wait(self, timeout: float, *also: int) -> None:
        """Return when something changed since the last wait, when one of the fds also is readable,
        or after timeout seconds."""
        ready, _, _ = select.select([self.fd, *also], [], [], timeout)
        if self.fd in ready:
            try:
                while os.read(self.fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        os.close(self.fd)
