"""Writing a layer's small files in a helper thread, while the main thread parses the tar.

Applying a layer is two kinds of work: parsing tar headers and deciding what
each entry means (Python, holding the GIL), and creating files (system calls,
which on a real disk wait for the filesystem's journal far longer than they
compute). Doing them one after the other adds the two; handing the file
creations to one helper thread, in order, lets them overlap. Measured here on
the Debian image (bench/image_load.py), the parsing then hides behind the disk.

On tmpfs, where creating a file costs less than handing it over, the caller
passes threaded=False and files are written at once. Only regular files small
enough to hold in memory go to the helper; everything
that looks at the filesystem in the main thread first settles what is pending
at the paths it touches (settle(), settle_under(), drain()), so the main thread
never sees the tree in a state the tar order would not produce.
"""

from __future__ import annotations

import queue
import tarfile
import threading
from collections.abc import Callable

SMALL_FILE = 1 << 20  # larger files are streamed by the main thread
# Jobs travel in batches: one queue hand-over per file would cost more than a file on tmpfs.
_BATCH_FILES = 32
_BATCH_BYTES = 1 << 20
_QUEUE_DEPTH = 16  # batches in flight: at most ~16 MiB of file data held in memory

Job = tuple[str, tarfile.TarInfo, bytes]


class FileWriter:
    """A helper thread that writes (path, member, data) jobs in order with write_file.

    write_file(path, member, data) creates the file; an exception it raises is
    re-raised in the main thread by the next submit(), drain() or close().
    """

    def __init__(self, write_file: Callable[[str, tarfile.TarInfo, bytes], None], *, threaded: bool = True) -> None:
        self._write_file = write_file
        self.threaded = threaded  # False: submit() writes at once, in the caller's thread
        self._queue: queue.Queue[list[Job] | None] = queue.Queue(_QUEUE_DEPTH)
        self._batch: list[Job] = []
        self._batch_bytes = 0
        self._pending: dict[str, int] = {}  # path -> jobs for it not yet done
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dy-layer-files", daemon=True)
        if threaded:
            self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for path, member, data in batch:
                try:
                    if self._error is None:
                        self._write_file(path, member, data)
                except BaseException as exc:  # handed to the main thread
                    self._error = exc
            with self._lock:
                for path, _, _ in batch:
                    self._pending[path] -= 1
                    if not self._pending[path]:
                        del self._pending[path]
                if not self._pending:
                    self._idle.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, path: str, member: tarfile.TarInfo, data: bytes) -> None:
        if not self.threaded:
            self._write_file(path, member, data)
            return
        self._raise_error()
        with self._lock:
            self._pending[path] = self._pending.get(path, 0) + 1
        self._batch.append((path, member, data))
        self._batch_bytes += len(data)
        if len(self._batch) >= _BATCH_FILES or self._batch_bytes >= _BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._queue.put(self._batch)
            self._batch, self._batch_bytes = [], 0

    def drain(self) -> None:
        """Wait until every submitted file is written; raise the first error one met."""
        self._flush()
        with self._lock:
            while self._pending:
                self._idle.wait()
        self._raise_error()

    def settle(self, path: str) -> None:
        """Drain if a file is pending at path."""
        if path in self._pending:
            self.drain()

    def settle_under(self, directory: str) -> None:
        """Drain if a file is pending at directory or below it (before it is removed or resolved)."""
        prefix = directory.rstrip("/") + "/"
        with self._lock:
            busy = any(path == directory or path.startswith(prefix) for path in self._pending)
        if busy:
            self.drain()

    def close(self) -> None:
        """Stop the helper after the work in hand; errors are dropped (the caller is failing already)."""
        if self.threaded:
            self._flush()
            self._queue.put(None)
            self._thread.join()
