"""How long a daemon shutting down without live restore waits for its containers (dockerd's shutdown-timeout).

Each container gets `docker stop` (its stop signal, SIGKILL after its own stop timeout); the daemon waits
for them all, at most the shutdown timeout, which dockerd raises to every container's stop timeout plus
5 s. What has not stopped by then is left behind: the daemon exits anyway ("force shutdown").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

DEFAULT_SHUTDOWN_TIMEOUT = 15  # seconds, dockerd's
DEFAULT_STOP_TIMEOUT = 10  # a container's without StopTimeout
_GRACE = 5


def wait_limit(shutdown_timeout: int, stop_timeouts: Iterable[int]) -> float | None:
    """dockerd's Daemon.shutdownTimeout: seconds, or None (no limit) when the daemon's or any container's
    timeout is negative."""
    if shutdown_timeout < 0:
        return None
    limit = shutdown_timeout
    for stop_timeout in stop_timeouts:
        if stop_timeout < 0:
            return None
        limit = max(limit, stop_timeout + _GRACE)
    return limit


def run_all(tasks: Sequence[Callable[[], None]], limit: float | None) -> int:
    """Run the tasks at once and wait for them, at most limit seconds (None: as long as they take); the number
    still running. Their threads are daemon threads: a process that gives up on them can still exit."""
    threads = [threading.Thread(target=task, name=f"dy-shutdown-{i}", daemon=True) for i, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    deadline = None if limit is None else time.monotonic() + limit
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in threads)
