"""The runtime ↔ init synchronisation protocol.

One JSON object per line over a pair of pipes (pipes, not a socketpair: the
socket module costs milliseconds to import on the hot path).

`create` of a container that joins no namespace by path and has no user
namespace: the init is born by clone3(2) in its cgroup and its pid (and time)
namespace, which only a new process can enter, and needs no stage 1:

    runtime (P)                                   init (I)
    clone3 I ───────────────────────────────────▶ (pid 1 of a new pid ns)
    write the cgroup's limits                     unshare net, ipc, uts, mount
    "go" ───────────────────────────────────────▶ join the cgroup; unshare cgroup
    … then as below, from "mounts, devices"

Otherwise stage 1 joins and creates the namespaces, a user namespace first,
whose uid/gid maps only the runtime can write, and forks the init:

    runtime (P)                 stage 1 (S1)                   init (I)
    fork S1 ──────────────────▶ wait "go"
    write the cgroup's limits
    "go" ─────────────────────▶ join the cgroup
                                join namespaces by path
                                [new user ns: unshare]
    write uid/gid maps ◀─────── "userns"
    "ack" ────────────────────▶ unshare the other namespaces
                                fork I ──────────────────────▶ (pid 1 of a new pid ns)
    note I's pid ◀──────────── "pid" {pid of I}; exit
    "go" ──────────────────────────────────────────────────────▶ wait "go"
                                                               mounts, devices
    prestart, createRuntime ◀─────────────────────────────────── "hooks"
    "state" {state} ───────────────────────────────────────────▶ createContainer hooks
                                                               pivot_root, paths, hostname
    reap S1, write state.json ◀───────────────────────────────── "ready"
    exit                                                       block opening exec.fifo …

`exec` needs no stage 1: a pid namespace joined with setns only applies to the
caller's children, so the runtime joins it and clones the process there:

    runtime (P)                                   process (X)
    setns pid (for its children only)
    clone3 X ───────────────────────────────────▶ (in the container's pid ns and cgroup v2 dir)
                                                  join the v1 cgroups, then the namespaces
                                                  by path, user first; exec: the channel
    [started(pid)], wait for X ◀───────────────── closes (close-on-exec) — or "error"

Any stage may send "error" {message} instead; the runtime then tears down.
"""

from __future__ import annotations

import os

from dockyard import fastjson
from dockyard.errors import Internal


class Channel:
    """One end of the protocol: reads from one pipe, writes to the other."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._reader = os.fdopen(read_fd, "rb", buffering=4096)
        self.write_fd = write_fd

    @property
    def read_fd(self) -> int:
        return self._reader.fileno()

    def send(self, kind: str, **fields: object) -> None:
        fields["type"] = kind
        os.write(self.write_fd, fastjson.dumps(fields).encode() + b"\n")

    def receive(self) -> dict:
        line = self._reader.readline()
        if not line:
            raise EOFError("the other side of the sync channel closed")
        return fastjson.loads(line)

    def expect(self, kind: str) -> dict:
        message = self.receive()
        if message["type"] == "error":
            raise ChildError(message["message"])
        if message["type"] != kind:
            raise Internal(f"sync: expected {kind!r}, got {message['type']!r}")
        return message

    def close(self) -> None:
        self._reader.close()
        os.close(self.write_fd)


class ChildError(Exception):
    """An error reported by the container's stage 1 or init over the channel."""


def pair() -> tuple[Channel, Channel]:
    """Return (parent end, child end)."""
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    return Channel(up_r, down_w), Channel(down_r, up_w)
