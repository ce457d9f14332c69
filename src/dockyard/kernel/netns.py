"""Doing something inside another network namespace from the daemon.

setns(2) moves only the calling thread, and an object such as a socket stays in
the namespace it was created in for its whole life, whichever thread uses it
later. So the daemon opens sockets "inside" a container by running the opening
code in a thread that has joined the container's network namespace.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from dockyard.kernel import libc
from dockyard.kernel.constants import CLONE_NEWNET

T = TypeVar("T")

_OWN = "/proc/thread-self/ns/net"


def run_in_netns(path: str, function: Callable[[], T]) -> T:
    """function() run in the network namespace at path (a bind-mounted handle or a
    /proc/<pid>/ns/net); its result, or its exception re-raised here. Blocks: call it
    from a worker thread (asyncio.to_thread), not on the event loop.

    It runs in a thread of its own rather than in the caller's or a pool's: the
    thread goes back to its original namespace afterwards, but should that ever
    fail it ends anyway, so no thread of the daemon is left in a container's
    namespace to open the next socket there by mistake.
    """
    outcome: list = []

    def inside() -> None:
        try:
            outcome.append((True, _call_in(path, function)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=inside, name="dockyard-netns", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _call_in(path: str, function: Callable[[], T]) -> T:
    own = os.open(_OWN, os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(target, CLONE_NEWNET, path)
        finally:
            os.close(target)
        try:
            return function()
        finally:
            libc.setns(own, CLONE_NEWNET, _OWN)
    finally:
        os.close(own)
