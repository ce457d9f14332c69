"""The code that runs between fork and exec: stage 1 and the container's init.

Both run in children forked from the runtime and never return: they end in
execve or os._exit. Every failure is sent to the runtime over the sync channel
as one line naming the step, and the child exits. See sync.py for the protocol.

Stage 1 exists because a new pid namespace only applies to children: stage 1
joins and creates namespaces, then forks the init, which becomes pid 1. When
there is nothing to join and no user namespace, clone3 creates the init in its
pid namespace directly (born_init) and stage 1 is skipped. An exec's process
needs no stage 1 either: the runtime joins the container's pid namespace for its
children (setns changes nothing else of the caller), and the process, cloned
there, joins the rest itself (exec_child).
"""

from __future__ import annotations

import os

from dockyard.kernel import constants as k
from dockyard.kernel import libc
from dockyard.runtime import process, rootfs
from dockyard.runtime.hooks import has_hooks, run_hooks
from dockyard.runtime.spec import NAMESPACE_FLAGS, namespaces
from dockyard.runtime.sync import Channel


class Options:
    """What the runtime decided for this child beyond the config itself."""

    def __init__(self, **fields: object) -> None:
        self.process: dict | None = None  # exec: the process to start (create uses config's)
        self.fifo_dir: int | None = None  # create: O_PATH fd of the directory of exec.fifo
        self.console_fd: int | None = None  # connected console socket, when process.terminal
        self.no_pivot = False
        self.preserve_fds = 0
        self.seccomp_program: bytes | None = None
        self.seccomp_flags: list[str] = []
        self.cgroup = None  # the container's Cgroup, which stage 1 joins
        self.joined_unified = False  # the first child was born in the cgroup v2 directory
        self.cgroup_mounts: list = []
        for name, value in fields.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown option {name}")
            setattr(self, name, value)


def preload(config: dict, proc: dict) -> None:
    """Import, before forking, every module the children will need.

    In a new user namespace the children may no longer be allowed to read the
    Python installation (say, under a 0700 /root), and after pivot_root it is
    gone from view: nothing may be imported between fork and exec.
    """
    if proc.get("rlimits"):
        import resource  # noqa: F401
    hooks = config.get("hooks", {})
    if hooks.get("createContainer") or hooks.get("startContainer"):
        import subprocess  # noqa: F401
    if proc.get("terminal"):
        import fcntl  # noqa: F401
        import socket  # noqa: F401

        import dockyard.runtime.console
    if config.get("linux", {}).get("seccomp"):
        import dockyard.kernel.seccomp  # noqa: F401


def _fail_child(channel: Channel, step: str, exc: BaseException) -> None:
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    try:
        channel.send("error", message=f"{step}: {message}" if step else message)
    finally:
        os._exit(1)


def stage1(config: dict, channel: Channel, options: Options, joins: list[tuple[str, str]]) -> None:
    """Join the namespaces given by path, create the new ones, fork the init.

    joins: (type, path) of the namespaces to enter, user first.
    """
    step = "join namespaces"
    try:
        channel.expect("go")
        step = "join cgroup"
        _join_cgroup(options)
        step = "join namespaces"
        handles = [(kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC), path) for kind, path in joins]
        new = [ns["type"] for ns in namespaces(config) if not ns.get("path")]
        for kind, fd, path in handles:
            if kind == "user":
                libc.setns(fd, NAMESPACE_FLAGS[kind], path)
        if "user" in new:
            step = "create user namespace"
            libc.unshare(k.CLONE_NEWUSER)
            channel.send("userns")
            channel.expect("ack")
        if "user" in new or any(kind == "user" for kind, _fd, _path in handles):
            _become_root_of_userns()
        step = "join namespaces"
        _join_namespaces(handles, "user")
        step = "create namespaces"
        flags = 0
        for kind in new:
            if kind != "user":
                flags |= NAMESPACE_FLAGS[kind]
        if flags:
            libc.unshare(flags)
        step = "fork init"
        pid = os.fork()
        if pid == 0:
            step = "init"
            channel.expect("go")  # the runtime has read "pid": nothing the init says overtakes it
            container_init(config, channel, options, in_userns="user" in new or bool(handles and joins[0][0] == "user"))
        channel.send("pid", pid=pid)
        os._exit(0)
    except BaseException as exc:
        _fail_child(channel, step, exc)


def exec_child(config: dict, channel: Channel, options: Options, joins: list[tuple[str, str]]) -> None:
    """An exec's process, born in the container's pid namespace (and cgroup v2 directory): join the
    cgroup and the namespaces given by path (user first, no pid), then become the process."""
    step = "join cgroup"
    try:
        _join_cgroup(options)
        step = "join namespaces"
        handles = [(kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC), path) for kind, path in joins]
        if handles and handles[0][0] == "user":
            _join_namespaces(handles[:1])
            _become_root_of_userns()
            handles = handles[1:]
        _join_namespaces(handles)
    except BaseException as exc:
        _fail_child(channel, step, exc)
    exec_process(config, channel, options)


def _join_cgroup(options: Options) -> None:
    # Joined by the child itself: moving another process takes a kernel lock
    # whose first use per call costs 10-25 ms here (see Cgroup.join_self).
    options.cgroup.join_self(unified=not options.joined_unified)


def _become_root_of_userns() -> None:
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _join_namespaces(handles: list[tuple[str, int, str]], skip: str = "") -> None:
    """setns into each (kind, fd, path) but skip's kind, in order; the fds are closed."""
    for kind, fd, path in handles:
        if kind != skip:
            libc.setns(fd, NAMESPACE_FLAGS[kind], path)
        os.close(fd)


def born_init(config: dict, channel: Channel, options: Options, unshare: int, new_cgroup_ns: bool) -> None:
    """The init when clone3 created it in its pid (and time) namespace, in place of
    stage 1: it creates the other namespaces itself, then does the init's work.

    unshare: the CLONE_NEW* flags of the namespaces still to create, but cgroup.
    They are created while the runtime writes the cgroup's limits; the cgroup is
    joined once "go" says those are in place, and the cgroup namespace comes
    last, because its root is the cgroup its creator is in at that moment.
    """
    step = "create namespaces"
    try:
        if unshare:
            libc.unshare(unshare)
        step = "init"
        channel.expect("go")
        step = "join cgroup"
        options.cgroup.join_self(unified=not options.joined_unified)
        if new_cgroup_ns:
            step = "create cgroup namespace"
            libc.unshare(k.CLONE_NEWCGROUP)
    except BaseException as exc:
        _fail_child(channel, step, exc)
    container_init(config, channel, options, in_userns=False)


def container_init(config: dict, channel: Channel, options: Options, in_userns: bool) -> None:
    """The container's first process: build the rootfs, wait for start, exec.

    A config without a process is valid until `start`, which then fails (spec:
    "process ... MUST be specified when start is called").
    """
    proc = config.get("process")
    own_mounts = any(ns["type"] == "mount" for ns in namespaces(config))
    step = "init"
    try:
        if proc is not None:
            step = "set oom_score_adj"
            if "oomScoreAdj" in proc:
                process.set_oom_score_adj(proc["oomScoreAdj"])
            step = "set rlimits"
            process.set_rlimits(proc.get("rlimits", []), lambda msg: channel.send("warning", message=msg))
        step = "prepare rootfs"
        rootfs.prepare(config, options.cgroup_mounts, in_userns, own_mounts)
        state = None
        if has_hooks(config, "prestart", "createRuntime", "createContainer", "startContainer"):
            channel.send("hooks")
            state = channel.expect("state")["state"]
        step = "createContainer hook"
        run_hooks(config, "createContainer", state)
        step = "pivot_root"
        rootfs.pivot(config["root"]["path"], options.no_pivot, own_mounts)
        step = "finish rootfs"
        rootfs.finish(config, own_mounts)
        step = "set hostname"
        if config.get("hostname"):
            libc.sethostname(config["hostname"])
        if config.get("domainname"):
            libc.setdomainname(config["domainname"])
        step = "start process"
        path = _enter_process(proc, options) if proc is not None else ""
        channel.send("ready")
        channel.close()
    except BaseException as exc:
        _fail_child(channel, step, exc)
    # From here the runtime has gone; `start` reads errors from the fifo instead.
    try:
        start_fd = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=options.fifo_dir)
    except OSError as exc:
        os.write(2, f"dockyard-runtime init: open exec.fifo: {exc.strerror}\n".encode())
        os._exit(1)
    os.close(options.fifo_dir)
    try:
        if proc is None:
            raise OSError(22, "process: config.json has no process to start")
        run_hooks(config, "startContainer", state)
        _exec(proc, path, options)
    except BaseException as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if not isinstance(exc, process.ExecError):  # runc's exec wording is what docker matches on
            message = f"start container process: {message}"
        os.write(start_fd, message.encode())
        os._exit(1)


def exec_process(config: dict, channel: Channel, options: Options) -> None:
    """A process started in a running container (`exec`): already in its namespaces."""
    proc = options.process
    step = "exec"
    try:
        step = "set rlimits"
        process.set_rlimits(proc.get("rlimits", []), lambda msg: channel.send("warning", message=msg))
        step = "exec failed: unable to start container process"  # runc's words, which docker users know
        path = _enter_process(proc, options)
        # The channel's write end is close-on-exec: the runtime sees EOF once execve succeeds.
        _exec(proc, path, options)
    except BaseException as exc:
        _fail_child(channel, step, exc)


def _enter_process(proc: dict, options: Options) -> str:
    """chdir, find the binary and set up the terminal; return the binary's path."""
    cwd = proc.get("cwd", "/")
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise OSError(exc.errno, f"chdir to cwd ({cwd!r}) set in config.json failed: {exc.strerror}") from None
    path = process.find_executable(proc["args"][0], proc.get("env", []))
    if proc.get("terminal"):
        from dockyard.runtime.console import setup_terminal

        setup_terminal(options.console_fd, proc.get("consoleSize"))
    elif options.console_fd is not None:
        os.close(options.console_fd)
    return path


def _exec(proc: dict, path: str, options: Options) -> None:
    process.become(proc, options.seccomp_program, options.seccomp_flags)
    process.close_extra_fds(3 + options.preserve_fds)
    process.execute(path, proc)
