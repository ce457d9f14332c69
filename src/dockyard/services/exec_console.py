"""The terminal of a `docker exec -t`: a console socket for the runtime, then the pty master as asyncio streams.

`dockyard-runtime exec --console-socket PATH` connects to PATH and its init sends
the pty master over it (SCM_RIGHTS, dockyard.runtime.console); the daemon keeps
the master for the exec's life: output is read from it, input and window sizes
are written to it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import tempfile

from dockyard.runtime.console import receive_master

_RECEIVE_TIMEOUT = 30.0


class ExecConsole:
    def __init__(self, exec_root: str) -> None:
        # Under the exec root, not the container's directory: a unix socket's path is at most 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="dy-console-", dir=exec_root)
        self.path = os.path.join(self.dir, "sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.listener.setblocking(False)

    async def receive(self) -> int:
        """The pty master, once the runtime has made the exec's terminal."""
        loop = asyncio.get_running_loop()
        connection, _ = await loop.sock_accept(self.listener)
        with connection:
            connection.settimeout(_RECEIVE_TIMEOUT)
            return await loop.run_in_executor(None, receive_master, connection)

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _MasterProtocol(asyncio.StreamReaderProtocol):
    """A pty master's reading end: the EIO that follows the last process's exit is its end of file.

    Passed on as an error, it would make the reader raise at once and drop what it still buffers
    (the last lines of a short exec).
    """

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(None if isinstance(exc, OSError) and exc.errno == errno.EIO else exc)


async def master_streams(master: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio streams over a pty master (each on a copy of the fd; the caller keeps and closes its own).

    The reader ends once every process holding the terminal has exited.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: _MasterProtocol(reader), os.fdopen(os.dup(master), "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(os.dup(master), "wb", buffering=0)
    )
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)
