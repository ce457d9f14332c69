"""Doing something inside another network namespace from the daemon.

setns(2) moves only the calling thread, and an object such as a socket stays in
the namespace it was created in for its whole life, whichever thread uses it
later. So the daemon opens sockets "inside" a container by running the opening
code in a thread that has joined the container's network namespace.

Network namespaces are also held by a bind-mounted handle, as `ip netns add` keeps
them: a container's must exist before its runtime starts (the runtime joins it by
path, config.json's linux.namespaces), so create() bind-mounts a fresh namespace's
/proc/thread-self/ns/net on a file under the exec root; remove() unmounts and
unlinks it, and the namespace goes once no process uses it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from dockyard.kernel import libc
from dockyard.kernel.constants import CLONE_NEWNET, MNT_DETACH, MS_BIND

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
    return _in_own_thread(lambda: _call_in(path, function))


def _in_own_thread(function: Callable[[], T]) -> T:
    outcome: list = []

    def inside() -> None:
        try:
            outcome.append((True, function()))
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


def create(path: str) -> None:
    """A new, empty network namespace (only a down lo) held at path, which must not exist."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)

    def make() -> None:
        own = os.open(_OWN, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.unshare(CLONE_NEWNET)
            try:
                libc.mount(_OWN, path, None, MS_BIND)
            finally:
                libc.setns(own, CLONE_NEWNET, _OWN)
        finally:
            os.close(own)

    try:
        _in_own_thread(make)  # for the reason run_in_netns gives
    except BaseException:
        os.unlink(path)
        raise


def remove(path: str) -> None:
    """Drop the handle at path (absent is fine): the namespace goes when its last process has gone."""
    with contextlib.suppress(OSError):
        libc.umount2(path, MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
