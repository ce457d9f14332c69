"""The OCI runtime contract: what the shim, the exec runner and the container service ask of "a runtime".

Two implementations: Dockyard's own, in-process (dockyard.runtime.runtime.Runtime, the
default and the fast path), and any runtime with runc's command line, driven through it
(dockyard.runtime.oci_cli.OciCliRuntime: runc, crun). A container is created and
deleted by its shim; the daemon signals, pauses, updates and inspects it through the
same runtime (same root) while it runs, also after a daemon restart.

    create(id, bundle)  -> the init waits, set up, in the container's namespaces and cgroup
    start(id)           -> it execs the process (the exec error is raised here or at create)
    kill / pause / resume / update / ps / stats / oom_kill_count / exec   while it runs
    delete(id, force=True)  -> process, cgroup and state gone

Contract (tests/integration/test_oci_runtimes.py runs it against every implementation):
- create() returns an object whose `pid` is the init's host pid; the init is a child or an
  orphan of the caller's process (the shim is the subreaper that reaps it). Without console_fd the
  init's stdio is the caller's fds 0-2; with it (process.terminal) the pty master is sent over
  that connected unix socket (SCM_RIGHTS), which create() closes. A failed create leaves no
  process, cgroup or state; its message names what failed ("executable file not found",
  "permission denied" for the process's own exec error, as runc words them).
- Every verb on an id the runtime does not hold raises NotFound; signalling, pausing or
  resuming a container not in the state that allows it raises Conflict.
- exec() runs another process in the running container with the caller's fds 0-2 (or a pty whose
  master goes to console_socket, a listening socket's path) and returns its exit code, as
  dockyard.runtime.waiting.exit_code computes it; the caller is its subreaper. started, if given,
  is called with the process's host pid once it runs, before the wait.
- update() applies OCI linux.resources to the running container and returns warnings.
- stats() is dockyard.kernel.cgroups' figures for the container's cgroup; ps() its pids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Created(Protocol):
    pid: int


class OCIRuntime(Protocol):
    root: str  # where the runtime keeps its containers' state (runc's --root)

    def create(self, container_id: str, bundle: str, *, console_fd: int | None = None) -> Created: ...

    def start(self, container_id: str) -> None: ...

    def kill(self, container_id: str, sig: str | int = "SIGTERM") -> None: ...

    def delete(self, container_id: str, *, force: bool = False) -> None: ...

    def pause(self, container_id: str) -> None: ...

    def resume(self, container_id: str) -> None: ...

    def update(self, container_id: str, resources: dict) -> list[str]: ...

    def ps(self, container_id: str) -> list[int]: ...

    def stats(self, container_id: str) -> dict: ...

    def oom_kill_count(self, container_id: str) -> int: ...

    def exec(
        self,
        container_id: str,
        process: dict,
        *,
        console_socket: str | None = None,
        started: Callable[[int], None] | None = None,
    ) -> int: ...
