"""The runtime's library API: what `dockyard-runtime` verbs do, callable in-process.

A container's life (runtime spec, "Lifecycle"):

    create  ─▶ created ─ start ─▶ running ⇄ paused (pause/resume)
                                     │ process exits / kill
    delete ◀──────────────────── stopped

Only `create`, `run` and `exec` fork; the other verbs read state.json, look at
the kernel and act.
"""

from __future__ import annotations

# The C module behind `signal`: the Python one builds IntEnums at import, which
# costs ~6 ms, a fifth of a whole `run`, for names we can read off the constants.
import _signal as signal
import os
import sys
import time
from typing import TYPE_CHECKING

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.runtime import devices
from dockyard.runtime import spec as specs
from dockyard.runtime import state as states
from dockyard.runtime.hooks import HookError, has_hooks, run_hooks
from dockyard.runtime.init import Options, born_init, exec_child, preload, stage1
from dockyard.runtime.sync import ChildError, pair
from dockyard.runtime.waiting import ContainerError, await_exec, forward_signals, reap, wait_exit, wait_gone

if TYPE_CHECKING:
    from collections.abc import Callable


def _warn(message: str) -> None:
    sys.stderr.write(f"dockyard-runtime: warning: {message}\n")


def parse_signal(value: str | int) -> int:
    if isinstance(value, int) or value.isdigit():
        number = int(value)
        if not 0 < number < signal.NSIG:
            raise InvalidParameter(f"invalid signal {value}")
        return number
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(signal, name, None)
    if not isinstance(number, int) or name.startswith("SIG_"):
        raise InvalidParameter(f"invalid signal {value!r}")
    return number


class Runtime:
    def __init__(self, root: str = states.DEFAULT_ROOT, warn=_warn) -> None:
        self.root = root
        self.warn = warn

    # -- create / start / run ----------------------------------------------------

    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        console_socket: str | None = None,
        console_fd: int | None = None,
        pid_file: str | None = None,
        no_pivot: bool = False,
        preserve_fds: int = 0,
        config: dict | None = None,
    ) -> states.ContainerState:
        """Set the container up to the point where only exec of its process is left.

        console_fd: a connected console socket, for an in-process caller (the shim) that made
        a socketpair rather than a listening socket; it is closed here, as a console_socket's is.
        config: the bundle's config.json as spec.load returned it, for a caller
        that has read it already.
        """
        bundle = os.path.abspath(bundle)
        if config is None:
            config = specs.load(bundle)
        options = self._options(
            config, console_socket, console_fd=console_fd, no_pivot=no_pivot, preserve_fds=preserve_fds
        )
        now = time.time_ns()
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"
        container = states.new(self.root, container_id, {"bundle": bundle, "created": created, "config": config})
        cgroup = None
        try:
            if options.seccomp_program is not None:
                container.save_seccomp(options.seccomp_program)
            cgroup = self._cgroup(config, container_id)
            container.record["cgroupsPath"] = cgroup.path
            options.cgroup = cgroup
            options.cgroup_mounts = cgroup.container_mounts()
            os.mkfifo(container.fifo, 0o622)
            os.chmod(container.fifo, 0o622)  # past the umask: a user-namespaced init reopens it
            # The state directory, opened here and inherited: the init reopens the fifo
            # relative to it after pivot_root, when the path is gone from its view, and
            # may be in a user namespace not allowed to walk that path anyway.
            options.fifo_dir = os.open(container.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self._spawn_init(container, cgroup, options)
            container.save()
            if pid_file:
                _write_pid_file(pid_file, container.pid)
        except BaseException:
            self._discard(container, cgroup)
            raise
        finally:
            for fd in (options.console_fd, options.fifo_dir):
                if fd is not None:
                    os.close(fd)
        return container

    def _options(self, config: dict, console_socket: str | None, **fields: object) -> Options:
        options = Options(**fields)
        seccomp = config.get("linux", {}).get("seccomp")
        if seccomp:
            if options.seccomp_program is None:  # exec passes the one create compiled
                from dockyard.runtime import seccomp_cache

                options.seccomp_program = seccomp_cache.compiled(seccomp, self.root)
            options.seccomp_flags = seccomp.get("flags", [])
        process = fields.get("process") or config.get("process", {})
        preload(config, process)
        if options.console_fd is not None:
            if not process.get("terminal"):
                os.close(options.console_fd)
                raise InvalidParameter("a console was given but process.terminal is false")
        elif process.get("terminal"):
            if not console_socket:
                raise InvalidParameter("process.terminal is true: --console-socket is required")
            from dockyard.runtime.console import connect

            options.console_fd = connect(console_socket)
        elif console_socket:
            raise InvalidParameter("--console-socket given but process.terminal is false")
        return options

    def _cgroup(self, config: dict, container_id: str):
        from dockyard.kernel.cgroups import open_cgroup

        linux = config.get("linux", {})
        # At the top, not under a shared parent: nothing is left once the last container goes.
        cgroup = open_cgroup(linux.get("cgroupsPath") or f"/dy-{container_id}")
        cgroup.create()
        return cgroup

    def _apply_resources(self, cgroup, config: dict) -> None:
        """Write linux.resources and the device rules.

        Called once the first child is forked (clone3 may have put it in the unified
        hierarchy already) and before it joins the others; runc writes them later
        still, once its init is in every hierarchy.
        """
        resources = dict(config.get("linux", {}).get("resources", {}))
        resources["devices"] = devices.cgroup_rules(config)
        for warning in cgroup.apply(resources):
            self.warn(warning)

    def _spawn_init(self, container: states.ContainerState, cgroup, options: Options) -> None:
        """Start the init and wait until it is ready; see sync.py for both ways of doing it."""
        config = container.config
        joins = [(ns["type"], ns["path"]) for ns in specs.namespaces(config) if ns.get("path")]
        joins.sort(key=lambda item: item[0] != "user")
        new = [ns["type"] for ns in specs.namespaces(config) if not ns.get("path")]
        parent, child = pair()
        init = stage = None
        if not joins and "user" not in new:
            # Nothing to join and no id maps to write first: the init is born in its pid and
            # time namespaces (those only take children), without stage 1 (~2 ms here). None: the
            # kernel can't; take stage 1.
            at_birth = [kind for kind in new if kind in ("pid", "time")]
            init = _clone(options, sum(specs.NAMESPACE_FLAGS[kind] for kind in at_birth))
            if init == 0:
                parent.close()
                later = sum(specs.NAMESPACE_FLAGS[kind] for kind in new if kind not in (*at_birth, "cgroup"))
                born_init(config, child, options, later, new_cgroup_ns="cgroup" in new)
        born = init is not None
        if not born:
            stage = _clone(options)
            if stage == 0:
                parent.close()
                stage1(config, child, options, joins)
        child.close()
        try:
            # Written while the child creates its namespaces; it joins the cgroup after "go".
            self._apply_resources(cgroup, config)
            if stage is not None:
                parent.send("go")
                message = self._receive(parent)
                if message["type"] == "userns":
                    _write_id_maps(stage, config.get("linux", {}))
                    parent.send("ack")
                    message = self._receive(parent)
                if message["type"] != "pid":
                    raise ContainerError(f"unexpected message {message['type']!r} from stage 1")
                init = message["pid"]
            # Stage 1's init waits for "go" so that nothing it says overtakes "pid", a born init
            # to join the cgroup with its limits in place. Stage 1 is reaped once the init is
            # ready: its exit (~0.5 ms) overlaps the init's work.
            parent.send("go")
            container.record["pid"] = init
            container.record["startTime"] = states.process_start_time(init)
            # await_exec (start) polls with select: imported here, while the init builds its
            # rootfs on another CPU, it is off the critical path of `run` (≈ 0.6 ms measured).
            import select  # noqa: F401

            if has_hooks(config, "prestart", "createRuntime", "createContainer", "startContainer"):
                self._receive(parent, "hooks")
                creating = container.oci_state() | {"status": states.CREATING}
                run_hooks(config, "prestart", creating)
                run_hooks(config, "createRuntime", creating)
                parent.send("state", state=creating)
            self._receive(parent, "ready")
            if stage is not None:
                reap(stage)
                stage = None
        except BaseException as exc:
            if born:  # our own child: not to be left a zombie
                _kill(init)
                reap(init)
            if isinstance(exc, ChildError | HookError):
                raise ContainerError(str(exc)) from None
            raise
        finally:
            parent.close()  # first: a stage 1 still waiting for "go" exits on EOF
            if stage is not None:
                reap(stage)

    def _receive(self, channel, kind: str | None = None) -> dict:
        """The next message that is not a warning (warnings are passed on)."""
        while True:
            try:
                message = channel.receive()
            except EOFError:
                raise ContainerError("container init exited without reporting an error") from None
            if message["type"] == "warning":
                self.warn(message["message"])
            elif message["type"] == "error":
                raise ChildError(message["message"])
            elif kind is None or message["type"] == kind:
                return message
            else:
                raise ContainerError(f"unexpected message {message['type']!r} from the container")

    def _discard(self, container: states.ContainerState, cgroup) -> None:
        """Undo a failed create: no process, cgroup or state directory is left."""
        if container.pid and container.alive():
            os.kill(container.pid, signal.SIGKILL)
        if cgroup is not None:
            cgroup.destroy(kill=True)
            _remove_parent_cgroup(cgroup)
        _remove_tree(container.dir)

    def start(self, container_id: str) -> None:
        container = states.load(self.root, container_id)
        status = container.status()
        if status != states.CREATED:
            raise Conflict(f"cannot start a container that is {status}, only a created one")
        error = await_exec(container)
        os.unlink(container.fifo)
        if error:
            raise ContainerError(error.decode(errors="replace"))
        if has_hooks(container.config, "poststart"):  # the state reads /proc: only for hooks
            run_hooks(container.config, "poststart", container.oci_state(), warn=self.warn)

    def run(self, container_id: str, bundle: str, *, detach: bool = False, **create_options) -> int:
        """create + start; unless detached, wait for the process, delete, return its exit code."""
        from dockyard.kernel import constants as k
        from dockyard.kernel import libc

        if detach:
            self.create(container_id, bundle, **create_options)
            self.start(container_id)
            return 0
        # The init is our grandchild: become its reaper so that we can wait for it.
        libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1)
        terminal = None
        config = specs.load(bundle)
        create_options["config"] = config
        if not create_options.get("console_socket") and config.get("process", {}).get("terminal"):
            from dockyard.runtime.console import TerminalProxy

            terminal = TerminalProxy(self.root)
            create_options["console_socket"] = terminal.path
        try:
            container = self.create(container_id, bundle, **create_options)
        except BaseException:
            if terminal:
                terminal.close()
            raise
        try:
            if terminal:
                terminal.receive()
                self.start(container_id)
                return terminal.run(container.pid)
            with forward_signals(container.pid):
                self.start(container_id)
                return wait_exit(container.pid)
        finally:
            self.delete(container_id, force=True)

    # -- inspection ------------------------------------------------------------

    def state(self, container_id: str) -> dict:
        return states.load(self.root, container_id).oci_state()

    def list(self) -> list[dict]:
        result = []
        for container_id in states.list_ids(self.root):
            try:
                result.append(states.load(self.root, container_id).oci_state())
            except NotFound:
                continue  # deleted while we listed
        return result

    def ps(self, container_id: str) -> list[int]:
        container = states.load(self.root, container_id)
        return self._open_cgroup(container).pids()

    # -- signals and freezing ----------------------------------------------------

    def kill(self, container_id: str, sig: str | int = "SIGTERM", *, all_processes: bool = False) -> None:
        container = states.load(self.root, container_id)
        number = parse_signal(sig)
        status = container.status()
        if status not in (states.CREATED, states.RUNNING, states.PAUSED):
            raise Conflict(f"container {container_id} is {status}: cannot send a signal")
        if all_processes:
            self._open_cgroup(container).kill_all(number)
        else:
            os.kill(container.pid, number)

    def update(self, container_id: str, resources: dict) -> list[str]:
        """Change a running container's linux.resources (runc update); returns the host's warnings."""
        container = states.load(self.root, container_id)
        return self._open_cgroup(container).apply(resources)

    def stats(self, container_id: str) -> dict:
        """The container's cgroup figures (dockyard.kernel.cgroups.cgroup.Cgroup.stats)."""
        container = states.load(self.root, container_id)
        return self._open_cgroup(container).stats()

    def oom_kill_count(self, container_id: str) -> int:
        """How many processes of the container the kernel's OOM killer has killed."""
        container = states.load(self.root, container_id)
        return self._open_cgroup(container).oom_kill_count()

    def pause(self, container_id: str) -> None:
        container = states.load(self.root, container_id)
        if container.status() != states.RUNNING:
            raise Conflict(f"container {container_id} is {container.status()}, not running")
        try:
            self._open_cgroup(container).freeze()
        except FileNotFoundError:
            # The init exited after the status was read and its cgroup went with it.
            raise Conflict(f"container {container_id} is stopped, not running") from None
        container.record["paused"] = True
        container.save()

    def resume(self, container_id: str) -> None:
        container = states.load(self.root, container_id)
        if container.status() != states.PAUSED:
            raise Conflict(f"container {container_id} is {container.status()}, not paused")
        self._open_cgroup(container).thaw()
        container.record["paused"] = False
        container.save()

    # -- delete ----------------------------------------------------------------

    def delete(self, container_id: str, *, force: bool = False) -> None:
        container = states.load(self.root, container_id)
        status = container.status()
        cgroup = self._open_cgroup(container)
        if status != states.STOPPED and not force:
            raise Conflict(f"cannot delete container {container_id} that is not stopped: {status}")
        if status != states.STOPPED:
            if status == states.PAUSED:
                cgroup.thaw()
            cgroup.kill_all(signal.SIGKILL)
            if container.alive():
                os.kill(container.pid, signal.SIGKILL)
            wait_gone(container)
        cgroup.destroy(kill=True)
        _remove_parent_cgroup(cgroup)
        _remove_tree(container.dir)
        if has_hooks(container.config, "poststop"):
            stopped = container.oci_state() | {"status": states.STOPPED, "pid": 0}
            run_hooks(container.config, "poststop", stopped, warn=self.warn)

    def _open_cgroup(self, container: states.ContainerState):
        from dockyard.kernel.cgroups import open_cgroup

        return open_cgroup(container.record["cgroupsPath"])

    # -- exec ------------------------------------------------------------------

    def exec(
        self,
        container_id: str,
        process: dict,
        *,
        detach: bool = False,
        console_socket: str | None = None,
        pid_file: str | None = None,
        preserve_fds: int = 0,
        started: Callable[[int], None] | None = None,
    ) -> int:
        """Start another process in a running container's namespaces and cgroup.

        Unless detached, wait for it and return its exit status. started, if given, is called
        with the process's pid once it has exec'd (before the wait).
        """
        container = states.load(self.root, container_id)
        terminal = None
        if process.get("terminal") and not console_socket and not detach:
            from dockyard.runtime.console import TerminalProxy

            terminal = TerminalProxy(self.root)
            console_socket = terminal.path
        try:
            config, options, joins = self.exec_setup(container, process, console_socket, preserve_fds)
            for kind, path in joins:
                if kind == "pid":
                    join_pid_namespace_for_children(path)
        except BaseException:
            if terminal:
                terminal.close()
            raise
        parent, child = pair()
        pid = _clone(options)
        if pid == 0:
            parent.close()
            exec_child(config, child, options, [(kind, path) for kind, path in joins if kind != "pid"])
        child.close()
        if options.console_fd is not None:
            os.close(options.console_fd)
        try:
            try:
                message = self._receive(parent)
            except ContainerError:
                message = None  # EOF: execve succeeded and closed the channel
            if message is not None:
                raise ContainerError(f"unexpected message {message['type']!r}")
        except BaseException as exc:
            if not isinstance(exc, ChildError):  # a child that reported an error has exited
                _kill(pid)
            reap(pid)
            if isinstance(exc, ChildError):
                raise ContainerError(str(exc)) from None
            raise
        finally:
            parent.close()
        if pid_file:
            _write_pid_file(pid_file, pid)
        if started is not None:
            started(pid)
        if detach:
            return 0
        if terminal:
            terminal.receive()
            return terminal.run(pid)
        with forward_signals(pid):
            return wait_exit(pid)

    def exec_setup(self, container: states.ContainerState, process: dict, console_socket, preserve_fds: int = 0):
        """What an exec's process needs, before the fork: (config, Options, the namespaces to join by path,
        user first). Conflict unless the container runs; a terminal's console socket is connected."""
        specs.check_process(process, "process")
        status = container.status()
        if status not in (states.CREATED, states.RUNNING):
            raise Conflict(f"cannot exec in a container that is {status}")
        config = container.config
        options = self._options(
            config, console_socket, process=process, preserve_fds=preserve_fds,
            seccomp_program=container.saved_seccomp() if config.get("linux", {}).get("seccomp") else None,
        )  # fmt: skip
        options.cgroup = self._open_cgroup(container)
        namespaces = [ns["type"] for ns in specs.namespaces(config)]
        joins = [(kind, f"/proc/{container.pid}/ns/{specs.NAMESPACE_PROC_NAMES[kind]}") for kind in namespaces]
        joins.sort(key=lambda item: item[0] != "user")
        return config, options, joins


# -- helpers -------------------------------------------------------------------


def _clone(options: Options, namespaces: int | None = None) -> int | None:
    pid, options.joined_unified = clone_into(options.cgroup, namespaces)
    return pid


def clone_into(cgroup, namespaces: int | None = None) -> tuple[int | None, bool]:
    """Fork a child born in the cgroup's v2 directory where there is one: (pid, whether it was).

    The child joins the v1 hierarchies itself (cheap for a single thread) and the
    unified one only when the kernel could not place it there at birth.
    namespaces: CLONE_NEW* flags for the child to be born in; the pid is None
    when the kernel can't do that (older than 5.3, or no such namespace type).
    """
    from dockyard.kernel import libc

    unified = cgroup.unified_dir
    if unified is None and namespaces is None:
        return os.fork(), False
    fd = None if unified is None else os.open(unified, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pid = libc.clone3(fd, namespaces or 0)
    except OSError:
        return (None, False) if namespaces is not None else (os.fork(), False)
    finally:
        if fd is not None:
            os.close(fd)
    return pid, fd is not None


def join_pid_namespace_for_children(path: str) -> None:
    """setns into a pid namespace: the caller stays where it is, its next children are born there."""
    from dockyard.kernel import libc

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(fd, specs.NAMESPACE_FLAGS["pid"], path)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ContainerError(f"join namespaces: {exc.strerror or exc}") from None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _write_id_maps(pid: int, linux: dict) -> None:
    for key, name in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key, []))
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(lines)
        except OSError as exc:
            raise ContainerError(f"linux.{key}: write /proc/{pid}/{name}: {exc.strerror}") from None


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def _remove_parent_cgroup(cgroup) -> None:
    """Remove a parent given in cgroupsPath (/parent/id) once its last container is gone."""
    parent = cgroup.parent()
    if parent.is_root:
        return
    try:
        parent.destroy()
    except OSError:
        pass  # another container still lives there


def _remove_tree(path: str) -> None:
    """Remove a container's state directory, which holds only plain files.

    Not shutil.rmtree: importing shutil costs more than the rest of `delete`.
    """
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    os.rmdir(path)
