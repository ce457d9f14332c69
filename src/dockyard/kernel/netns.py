"""Network namespaces held by a bind-mounted handle, as `ip netns add` keeps them.

A container's network namespace must exist before its runtime starts (the
runtime joins it by path, config.json's linux.namespaces) and outlive nothing:
the handle is a file under the exec root on which /proc/thread-self/ns/net is
bind-mounted; unmounting and unlinking it frees the namespace once no process
uses it.

unshare and setns change only the calling thread's namespace, so each is done in
a thread of its own that moves back (or simply ends) before anything else runs
on it: the daemon's other threads never leave the host's namespace.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from dockyard.kernel import constants as k
from dockyard.kernel import libc

T = TypeVar("T")
_OWN = "/proc/thread-self/ns/net"


def _in_thread(func: Callable[[], T]) -> T:
    result: list = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(func())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run, name="dy-netns")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def create(path: str) -> None:
    """A new, empty network namespace (only a down lo) held at path, which must not exist."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)

    def make() -> None:
        own = os.open(_OWN, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.unshare(k.CLONE_NEWNET)
            try:
                libc.mount(_OWN, path, None, k.MS_BIND)
            finally:
                libc.setns(own, k.CLONE_NEWNET, _OWN)
        finally:
            os.close(own)

    try:
        _in_thread(make)
    except BaseException:
        os.unlink(path)
        raise


def remove(path: str) -> None:
    """Drop the handle at path (absent is fine): the namespace goes when its last process has gone."""
    with contextlib.suppress(OSError):
        libc.umount2(path, k.MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def is_handle(path: str) -> bool:
    """Whether path is a live namespace handle (a bind mount of an nsfs file), not a stale empty file."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def run_inside(path: str, func: Callable[[], T]) -> T:
    """func() in a thread that has joined the namespace at path; sockets it opens stay bound to that namespace."""

    def enter() -> T:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(target, k.CLONE_NEWNET, path)
        finally:
            os.close(target)
        # No way back is needed: the thread ends with func and never runs anything else.
        return func()

    return _in_thread(enter)
