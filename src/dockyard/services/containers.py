"""The container service: docker's container lifecycle over the image service, the runtime and one shim per run.

    <data root>/containers/<id>/           hostname, hosts, resolv.conf, <id>-json.log
    <exec root>/containers/<id>/           config.json and rootfs/ (the bundle), shim.json, shim.pid,
                                           shim.log, started.json, exit.json (dockyard.runtime.shim)

A start mounts the container's snapshot on the bundle's rootfs, writes the OCI
config and hands the container to a new shim, which reports whether the process
runs. A watcher thread per running container waits for its shim to exit and
records the exit status the shim left; the daemon can die meanwhile: at its next
start restore() re-adopts the shims still running and records what the others
left (live restore).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator

from dockyard import timestamps
from dockyard.core.runtime import OCIRuntime
from dockyard.errors import Conflict, InvalidParameter, NotFound, NotModified, Unsupported
from dockyard.kernel.mounts import mount_all, unmount_under
from dockyard.logs import attributes as log_attributes
from dockyard.logs import jsonfile, local
from dockyard.logs import options as log_options
from dockyard.logs import reader as log_reader
from dockyard.metadata.containers import ContainerRecord, ContainerTable
from dockyard.metadata.db import Database
from dockyard.runtime import container_resources, container_settings, container_spec, control, namespace_modes
from dockyard.runtime.drivers import open_runtime
from dockyard.runtime.runtime import parse_signal
from dockyard.runtime.runtimes import BUILTIN, RuntimeTable
from dockyard.runtime.shim import read_json, write_json
from dockyard.services import container_links, shutdown
from dockyard.services import filters as filters_
from dockyard.services.container_defaults import ContainerDefaults
from dockyard.services.events import EventBus, container_attributes
from dockyard.services.images import ImageService
from dockyard.services.sandboxes import SandboxService
from dockyard.services.shims import ShimLauncher
from dockyard.services.volumes import VolumeService
from dockyard.volume.mountspec import MountPoint, container_mount_points, inherit, parse_volumes_from

log = logging.getLogger(__name__)
_PRUNE_FILTERS = frozenset({"until", "label", "label!"})
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "swift", "witty")
_NOUNS = ("anchor", "barge", "buoy", "crane", "dock", "harbor", "keel", "pier", "quay", "tug")
_RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
# docker's restart back-off: 100 ms, doubling, at most a minute; reset by a run of 10 s or more.
_BACKOFF_START, _BACKOFF_MAX, _BACKOFF_RESET = 0.1, 60.0, 10.0


def _initial_state() -> dict:
    return {
        "Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
        "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
        "StartedAt": timestamps.ZERO, "FinishedAt": timestamps.ZERO,
    }  # fmt: skip


class ContainerService:
    def __init__(
        self,
        *,
        data_root: str,
        exec_root: str,
        db: Database,
        images: ImageService,
        volumes: VolumeService,
        shims: ShimLauncher,
        network: SandboxService,
        runtimes: RuntimeTable | None = None,
        log_driver: str = log_options.JSON_FILE,
        log_opts: dict[str, str] | None = None,
        defaults: ContainerDefaults | None = None,
    ) -> None:
        self.shims = shims
        self.defaults = defaults or ContainerDefaults()  # the daemon's, for what a container does not set
        self.volumes = volumes
        self.network = network
        self.log_default = (log_driver, dict(log_opts or {}))  # the daemon's log-driver and log-opts
        self.events = EventBus()  # the daemon shares one bus between the services
        # Called with a container's id after it starts (or is re-adopted) and after it exits: health checks.
        self.on_start: list = []
        self.on_exit: list = []
        self.data_root = os.path.join(data_root, "containers")
        self.exec_root = os.path.join(exec_root, "containers")
        self.runtimes = runtimes or RuntimeTable()
        self._exec_root_base = exec_root
        self._runtime_objects: dict[str, OCIRuntime] = {}
        self.records = ContainerTable(db)
        self.images = images
        self._lock = threading.Lock()
        self._run_locks: dict[str, threading.Lock] = {}  # by container: see run_lock
        self._pending_restarts: dict[str, threading.Timer] = {}  # by container: a restart policy's next start
        self._shutting_down = False  # set by stop_all()
        self._exits: dict[str, list[concurrent.futures.Future]] = {}  # next-exit subscribers
        self._removals: dict[str, list[concurrent.futures.Future]] = {}
        self._rootfs_locks: dict[str, threading.Lock] = {}
        for path in (self.data_root, self.exec_root):
            os.makedirs(path, mode=0o710, exist_ok=True)

    # -- finding containers ------------------------------------------------------------

    def get(self, name_or_id: str) -> ContainerRecord:
        """By full ID, name (with or without "/"), link name (PARENT/ALIAS) or unique ID prefix, as docker
        resolves them."""
        record = self.find(name_or_id)
        if record is None and "/" in name_or_id.strip("/"):
            record = container_links.target(name_or_id, self.find)
        if record is None:
            raise NotFound(f"No such container: {name_or_id}")
        return record

    def find(self, name_or_id: str) -> ContainerRecord | None:
        """By full ID, name or unique ID prefix; None if there is none."""
        record = self.records.get(name_or_id) or self.records.by_name(name_or_id.removeprefix("/"))
        if record is None and name_or_id and not name_or_id.strip("0123456789abcdef"):
            found = self.records.with_prefix(name_or_id)
            if len(found) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {name_or_id}")
            record = found[0] if found else None
        return record

    def is_running(self, container_id: str) -> bool:
        record = self.records.get(container_id)
        return record is not None and bool(record.state["Running"])

    def list(self) -> list[ContainerRecord]:
        return self.records.all()

    def _bundle(self, container_id: str) -> str:
        return os.path.join(self.exec_root, container_id)

    def files_dir(self, container_id: str) -> str:
        return os.path.join(self.data_root, container_id)

    def runtime(self, record: ContainerRecord) -> OCIRuntime:
        """What drives the container: the runtime its HostConfig.Runtime names (NotFound if the daemon no longer
        has it)."""
        name = _runtime_name(record)
        if name not in self._runtime_objects:
            try:
                entry = self.runtimes.get(name)
            except InvalidParameter as exc:
                raise NotFound(f"container {record.id}: {exc}") from None
            self._runtime_objects[name] = open_runtime(self.runtime_root(record), entry.command)
        return self._runtime_objects[name]

    def runtime_root(self, record: ContainerRecord) -> str:
        """The container's runtime's state directory (its --root)."""
        return self.runtimes.root(self._exec_root_base, _runtime_name(record))

    def runtime_command(self, record: ContainerRecord) -> list[str] | None:
        """The container's runtime's command line before its verbs; None for Dockyard's own (in-process)."""
        return self.runtimes.get(_runtime_name(record)).command

    def log_path(self, record: ContainerRecord) -> str:
        """The file the shim writes the container's output to (dockyard.logs.options)."""
        return log_options.path(self.files_dir(record.id), record.id, record.host_config["LogConfig"]["Type"])

    # -- create and remove -----------------------------------------------------------

    def create(self, body: dict, name: str | None = None) -> ContainerRecord:
        """docker create: a record, a writable snapshot over the image, and the container's directory."""
        config = {key: value for key, value in body.items() if key not in ("HostConfig", "NetworkingConfig")}
        host_config = self.defaults.at_create(body.get("HostConfig") or {})
        # Bad options are refused now, not at start.
        host_config["LogConfig"] = log_options.resolve(host_config.get("LogConfig"), *self.log_default)
        _check_restart_policy(host_config)
        # What dockerd fills in: the CLI sends -1 for "unset" swappiness (the cgroup namespace mode: at_create).
        if host_config.get("MemorySwappiness") == -1:
            host_config["MemorySwappiness"] = None
        host_config.update(container_spec.host_config_defaults(host_config))
        if host_config.get("NetworkMode", "default") in ("", "default"):
            host_config["NetworkMode"] = "bridge"  # what dockerd records for the default since API 1.44
        image_name = config.get("Image") or ""
        if not image_name:
            raise InvalidParameter("config error: no image specified")
        if name is not None and name != "":
            name = name.removeprefix("/")
            if not _NAME.fullmatch(name):
                raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        container_id = secrets.token_hex(32)
        image = self.images.get(image_name)
        image_config = image.config.get("config") or {}
        container_spec.command(image_config, config)  # refuse a container with nothing to run now, as docker does
        container_spec.capabilities(host_config)
        container_spec.check(host_config, self.defaults.init_path, config.get("Hostname") or "")
        host_config["IpcMode"] = host_config.get("IpcMode") or namespace_modes.DEFAULT_IPC_MODE  # as dockerd records
        host_config["Runtime"] = self.runtimes.resolve(host_config.get("Runtime"))  # dockerd records the default's
        inherited = [point for spec in host_config.get("VolumesFrom") or [] for point in self._volumes_from(spec)]
        # Every mount and network is checked before the first volume is made: a bad one leaves nothing behind.
        mount_points = container_mount_points(config, host_config, image_config, inherited)
        joins = self.network.plan(config, host_config, body.get("NetworkingConfig"))
        record = ContainerRecord(
            id=container_id,
            name=name or self._generated_name(),
            image_id=image.id,
            image_name=image_name,
            created=timestamps.now(),
            config={**config, "Image": image_name},
            host_config=host_config,
            state=_initial_state(),
        )
        os.makedirs(self.files_dir(container_id), mode=0o710)
        # Created now, so that attach (before the start) and logs can open it; the shim appends to it.
        log_path = self.log_path(record)
        os.makedirs(os.path.dirname(log_path), mode=0o710, exist_ok=True)
        open(log_path, "ab").close()
        try:
            self.images.create_rootfs(container_id, image.id)
            try:
                attached = self.volumes.attach(container_id, mount_points)
                if any(point.copy_data for point in attached if point.type == "volume"):
                    with self.images.mounted_rootfs(container_id) as rootfs:
                        self.volumes.populate(container_id, attached, rootfs)
                record.mounts = [point.to_json() for point in attached]
                self.records.add(record, draw_name=None if name else self._generated_name)
                try:
                    self.network.add_endpoints(container_id, record.name, joins)
                except BaseException:
                    self.network.remove_container(container_id)
                    self.records.delete(container_id)
                    raise
            except BaseException:
                self.volumes.settle(container_id, keep=False)
                self.images.remove_rootfs(container_id)
                raise
        except BaseException:
            shutil.rmtree(self.files_dir(container_id), ignore_errors=True)
            raise
        self.volumes.settle(container_id, keep=True)
        self._event(record, "create")
        return record

    def _volumes_from(self, spec: str) -> list[MountPoint]:
        name, rw = parse_volumes_from(spec)
        return inherit(self.mount_points(self.get(name)), rw)

    @staticmethod
    def mount_points(record: ContainerRecord) -> list[MountPoint]:
        return [MountPoint.from_json(document) for document in record.mounts]

    def volume_users(self) -> dict[str, list[str]]:
        """{volume name: [ids of the containers that refer to it]}, running or not."""
        users: dict[str, list[str]] = {}
        for record in self.records.all():
            for point in self.mount_points(record):
                if point.type == "volume":
                    users.setdefault(point.name, []).append(record.id)
        return users

    @staticmethod
    def warnings(body: dict) -> list[str]:
        """What dockerd warns about in a create request it accepts (a kernel memory limit, OOM kill
        disabled without a memory limit...)."""
        return container_resources.check(body.get("HostConfig") or {})

    def _generated_name(self) -> str:
        for _ in range(100):
            name = f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}{secrets.randbelow(100)}"
            if self.records.by_name(name) is None:
                return name
        return f"dockyard_{secrets.token_hex(6)}"

    def remove(self, name_or_id: str, *, force: bool = False, volumes: bool = False) -> None:
        """docker rm: a running container only with force (it is killed first); with volumes (-v),
        its anonymous volumes too."""
        record = self.get(name_or_id)
        with self.run_lock(record.id):
            record = self.records.get(record.id) or record  # as it is now: a restart may have started it
            if record.state.get("Restarting") and not force:
                raise Conflict(
                    f'cannot remove container "/{record.name}": container is restarting: stop the container '
                    "before removing or force remove"
                )
            self._cancel_restart(record)
            if record.state["Running"] and not force:
                raise Conflict(
                    f'cannot remove container "/{record.name}": container is running: stop the container before '
                    "removing or force remove"
                )
            if record.state["Running"]:  # its exit must not be restarted
                self.records.set_restarts(record.id, record.restart_count, manually_stopped=True)
        if record.state["Running"]:
            exited = self.subscribe_exit(record.id)
            try:
                self._signal(record, signal.SIGKILL)
            except Conflict:  # it exited on its own meanwhile: its exit is recorded, or on its way
                pass
            if self.is_running(record.id):
                exited.result(timeout=30)
            self.unsubscribe_exit(record.id, exited)
        self._remove_stopped(record.id, volumes=volumes)

    def remove_link(self, link_name: str) -> None:
        """docker rm --link PARENT/ALIAS: the parent forgets its legacy link, as dockerd's rmLink; both containers
        stay. The link's hosts entry and variables go at the parent's next start, when they are written."""
        found = container_links.find(link_name, self.find) if "/" in link_name.strip("/") else None
        if found is None:
            self.get(link_name)  # no such link: docker's 404; a container's own name is no link to remove
            raise InvalidParameter("Conflict, cannot remove the default link name of the container")
        parent, link = found
        kept = [entry for entry in parent.host_config["Links"] if entry != link]
        self.records.set_host_config(parent.id, {**parent.host_config, "Links": kept or None})

    def _remove_stopped(self, container_id: str, *, volumes: bool = False) -> None:
        record = self.records.get(container_id)
        if record is not None:
            self._event(record, "destroy")
        with contextlib.suppress(NotFound):
            self.images.remove_rootfs(container_id)
        self.network.remove_container(container_id)
        self.records.delete(container_id)
        if record is not None:
            self.volumes.release(self.mount_points(record), remove_anonymous=volumes)
        with self._lock:
            self._rootfs_locks.pop(container_id, None)
            self._run_locks.pop(container_id, None)
        shutil.rmtree(self.files_dir(container_id), ignore_errors=True)
        shutil.rmtree(self._bundle(container_id), ignore_errors=True)
        # docker run --rm waits for the removal and exits with the container's code.
        self._notify(self._removals, container_id, {"StatusCode": record.state["ExitCode"] if record else 0})
        self.images.collect()

    # -- start, stop, kill ---------------------------------------------------------------

    def run_lock(self, container_id: str) -> threading.Lock:
        """Held by a restart policy's start from its decision until the container runs, and by stop, kill
        and rm -f while they decide: a stop lands wholly before a restart (which it cancels) or after it
        (and stops what it started), as dockerd's container lock orders them."""
        with self._lock:
            return self._run_locks.setdefault(container_id, threading.Lock())

    def _cancel_restart(self, record: ContainerRecord) -> bool:
        """With run_lock held: if a restart policy's start is pending, cancel it and mark the container
        stopped by the user (dockerd: the restart manager's Cancel and HasBeenManuallyStopped)."""
        timer = self._pending_restarts.pop(record.id, None)
        if timer is not None:
            timer.cancel()
        if not record.state.get("Restarting"):
            return False
        self.records.set_restarts(record.id, record.restart_count, manually_stopped=True)
        self.records.set_state(record.id, {**record.state, "Restarting": False, "Status": "exited"})
        return True

    def rootfs_lock(self, container_id: str) -> threading.Lock:
        """Held while a container's root filesystem is mounted or unmounted or used from outside (docker cp):
        whether it is the live mount or one made for the occasion must not change underneath."""
        with self._lock:
            return self._rootfs_locks.setdefault(container_id, threading.Lock())

    def start(self, name_or_id: str) -> None:
        record = self.get(name_or_id)
        with self.rootfs_lock(record.id):
            self._start(self.get(record.id))
        self._event(record, "start")
        self._call(self.on_start, record.id)  # outside the lock, which hooks may take
        if record.manually_stopped:
            self.records.set_restarts(record.id, record.restart_count, manually_stopped=False)

    def _start(self, record: ContainerRecord) -> None:
        if record.state["Running"]:
            raise NotModified(f"container {record.id} is already running")
        bundle = self._bundle(record.id)
        rootfs = os.path.join(bundle, "rootfs")
        if os.path.isdir(bundle):  # a previous run's, a crash may have left mounted (rootfs, shareable /dev/shm):
            unmount_under(bundle)  # not to be emptied by the rmtree
        shutil.rmtree(bundle, ignore_errors=True)  # what a previous run left: its shim files, an empty mount point
        os.makedirs(rootfs, mode=0o755)
        mount_all(self.images.rootfs_mounts(record.id), rootfs)
        mount_points = self.mount_points(record)
        volumes_mounted = False
        try:
            mounts = self.volumes.setup_mounts(record.id, mount_points, rootfs)
            volumes_mounted = True
            image = self.images.get(record.image_id)
            image_config = image.config.get("config") or {}
            exposed = [*(image_config.get("ExposedPorts") or {}), *(record.config.get("ExposedPorts") or {})]
            joined, shm_source = self._namespace_donors(record)
            sandbox = self.network.setup(record, list(dict.fromkeys(exposed)))
            container_spec.write_container_files(
                self.files_dir(record.id),
                {"hostname": f"{sandbox.hostname}\n", "hosts": sandbox.hosts, "resolv.conf": sandbox.resolv_conf},
            )
            spec = container_spec.build(
                container_id=record.id,
                container_dir=self.files_dir(record.id),
                rootfs=rootfs,
                image_config=image_config,
                # Legacy links' variables come first: the container's own override them.
                config={**record.config, "Env": [*sandbox.env, *(record.config.get("Env") or [])]},
                host_config=self.defaults.at_start(record.host_config),
                hostname=sandbox.hostname,
                netns_path=sandbox.netns_path,
                mounts=mounts,
                init_path=self.defaults.init_path,
                joined_namespaces=joined,
                shm_source=shm_source,
            )
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(spec, f)
            started = self._run_shim(record, bundle)
        except BaseException as exc:
            if volumes_mounted:
                self.volumes.teardown_mounts(record.id, mount_points)
            unmount_under(bundle)  # the rootfs and a shareable /dev/shm
            self.network.teardown(record.id)
            message = str(exc)
            # The exit codes docker gives a container that could not start (the CLI's run exits with them).
            missing = "not found" in message or "no such file or directory" in message  # runc says the latter
            code = 127 if missing else 126 if "permission denied" in message else 128
            self.records.set_state(record.id, {**record.state, "Error": message, "ExitCode": code})
            # Attaches waiting for this run end, as dockerd closes a container's streams when its start fails.
            self._notify(self._exits, record.id, {"StatusCode": code})
            if record.host_config.get("AutoRemove"):
                self._remove_stopped(record.id, volumes=True)  # as docker does: `run --rm` waits for the removal
            raise
        state = {**_initial_state(), "Status": "running", "Running": True, "Pid": started["pid"],
                 "StartedAt": started["started"]}  # fmt: skip
        self.records.set_state(record.id, state)
        self._watch(record.id)

    def _shm_dir(self, container_id: str) -> str:
        """Where a shareable container's /dev/shm is mounted on the host while it runs (dockerd's ShmPath)."""
        return os.path.join(self._bundle(container_id), "shm")

    def _namespace_donors(self, record: ContainerRecord) -> tuple[dict[str, str], str]:
        """The namespaces that PidMode and IpcMode container:<name|id> join ({type: path}) and the host tmpfs
        to bind on /dev/shm (the IPC donor's, or the container's own when shareable, mounted now); donors
        are checked now, as dockerd checks them at start (a donor that is gone: 400)."""
        joined, shm_source = {}, ""
        for kind, key in (("pid", "PidMode"), ("ipc", "IpcMode")):
            name = namespace_modes.container_of(record.host_config.get(key))
            if not name:
                continue
            try:
                donor = self.get(name)
            except NotFound as exc:
                raise InvalidParameter(str(exc)) from None
            running = bool(donor.state["Running"]) and not donor.state.get("Restarting")
            joined[kind], shm = namespace_modes.donor_paths(kind, donor.id, running, donor.state.get("Pid") or 0,
                                                            donor.host_config.get("IpcMode") or "",
                                                            self._shm_dir(donor.id))  # fmt: skip
            shm_source = shm or shm_source
        if record.host_config.get("IpcMode") == namespace_modes.SHAREABLE:
            shm_source = self._shm_dir(record.id)
            size = container_settings.shm_size(record.host_config) // 1024
            os.makedirs(shm_source, mode=0o700, exist_ok=True)
            mount_all([("tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", f"size={size}k"])], shm_source)
        return joined, shm_source

    def _run_shim(self, record: ContainerRecord, bundle: str) -> dict:
        """Start the shim and wait for its report: {"pid", "started"}, or raise the error it met."""
        write_json(
            os.path.join(bundle, "shim.json"),
            {
                "id": record.id,
                "bundle": bundle,
                "runtime_root": self.runtime_root(record),
                "runtime_command": self.runtime_command(record),
                "log_path": self.log_path(record),
                "log": log_options.shim_settings(**_driver_and_options(record)),
                "open_stdin": bool(record.config.get("OpenStdin")),
                "tty": bool(record.config.get("Tty")),
            },
        )
        report_r, report_w = os.pipe()
        try:
            self.shims.launch(bundle, report_w)
            os.close(report_w)
            report_w = -1
            with os.fdopen(report_r, "rb") as pipe:
                report_r = -1
                line = pipe.readline()
        finally:
            for fd in (report_r, report_w):
                if fd >= 0:
                    os.close(fd)
        report = json.loads(line) if line else read_json(os.path.join(bundle, "started.json")) or {}
        if "pid" in report:
            return report
        message = report.get("error") or f"the shim exited without a report (see {bundle}/shim.log)"
        raise InvalidParameter(f"failed to create the container process: {message}")

    def _signal(self, record: ContainerRecord, number: int) -> None:
        """Send a signal; one that ends the container (SIGKILL, or its stop signal) also thaws it if paused,
        as dockerd does (daemon/kill.go): a frozen task takes the signal only once thawed (v1 freezer; v2
        delivers a SIGKILL at once but a SIGTERM waits too)."""
        thaw = self._unpausing(record.id, number)
        try:
            self.runtime(record).kill(record.id, number)
        except (NotFound, Conflict) as exc:
            raise Conflict(f"Container {record.id} is not running") from exc
        if thaw:
            try:
                self.runtime(record).resume(record.id)
            except (NotFound, Conflict):  # it died frozen (cgroup v2 and SIGKILL): nothing left to thaw
                pass
            except OSError as exc:
                log.warning("container %s: thaw after signal %d failed: %s", record.id[:12], number, exc)
            else:
                self._event(record, "unpause")

    def _unpausing(self, container_id: str, number: int) -> bool:
        """Whether this signal ends the pause of the container; if so its state says running from now on
        (written before the signal, so that the exit it causes is recorded after it)."""
        with self.rootfs_lock(container_id):  # the lock _record_exit writes the exit under
            record = self.records.get(container_id)
            if record is None or not record.state.get("Paused"):
                return False
            stop_signal = record.config.get("StopSignal")
            if number != signal.SIGKILL and stop_signal and parse_signal(stop_signal) != number:
                return False  # as dockerd: another signal leaves it paused
            self.records.set_state(container_id, {**record.state, "Paused": False, "Status": "running"})
            return True

    def kill(self, name_or_id: str, sig: str = "SIGKILL") -> None:
        try:  # first, as dockerd's router parses it: a bad signal is a 400 whatever the container
            number = parse_signal(sig)
        except Exception:
            raise InvalidParameter(f"Invalid signal: {sig}") from None
        record = self.get(name_or_id)
        with self.run_lock(record.id):
            record = self.records.get(record.id) or record  # as it is now: a restart may have started it
            if self._cancel_restart(record):  # as dockerd: a restarting container is killed by not restarting
                self._event(record, "kill", signal=str(number))
                return
            if not record.state["Running"]:
                raise Conflict(f"Container {record.id} is not running")
            if not self._shutting_down:  # as dockerd, whatever the signal: its restart policy no longer applies
                self.records.set_restarts(record.id, record.restart_count, manually_stopped=True)
        self._kill(record, number)

    def _kill(self, record: ContainerRecord, number: int) -> None:
        exited = self.subscribe_exit(record.id) if number == signal.SIGKILL else None
        self._signal(record, number)
        self._event(record, "kill", signal=str(number))
        if exited is not None:  # as docker: after a SIGKILL the container is gone when kill returns
            with contextlib.suppress(concurrent.futures.TimeoutError):
                exited.result(timeout=10)

    def stop(self, name_or_id: str, timeout: float | None = None, sig: str | None = None) -> None:
        """docker stop: the stop signal, then SIGKILL after the timeout (default StopTimeout or 10 s)."""
        record = self.get(name_or_id)
        with self.run_lock(record.id):
            record = self.records.get(record.id) or record  # as it is now: a restart may have started it
            if self._cancel_restart(record):  # between two runs: the next one will not come
                return
            if not record.state["Running"]:
                raise NotModified(f"container {record.id} is already stopped")
            # A stopped container stays stopped whatever its restart policy (until the daemon restarts, for
            # "always").
            self.records.set_restarts(record.id, record.restart_count, manually_stopped=True)
        self._terminate(record, timeout, sig)
        self._event(record, "stop")

    def _terminate(self, record: ContainerRecord, timeout: float | None = None, sig: str | None = None) -> None:
        """The stop signal, SIGKILL after the timeout (default StopTimeout, else 10 s; negative: no SIGKILL);
        returns when the exit is recorded."""
        if timeout is None:
            timeout = _stop_timeout(record)
        exited = self.subscribe_exit(record.id)
        try:
            self._signal(record, parse_signal(sig or record.config.get("StopSignal") or "SIGTERM"))
            exited.result(timeout=None if timeout < 0 else timeout)
        except concurrent.futures.TimeoutError:
            with contextlib.suppress(Conflict):
                self._signal(record, signal.SIGKILL)
            exited.result(timeout=30)
        finally:
            self.unsubscribe_exit(record.id, exited)

    def stop_all(self, shutdown_timeout: int = shutdown.DEFAULT_SHUTDOWN_TIMEOUT) -> int:
        """A daemon shutting down without live restore: every running container stopped as `docker stop`
        would (its stop signal, SIGKILL after its timeout), all at once, but not marked stopped by the user,
        so that restart policies bring them back with the daemon, as dockerd's do. Waits at most the
        shutdown timeout, as dockerd reckons it (dockyard.services.shutdown); how many were still stopping."""
        self._shutting_down = True  # no restart policy acts now: the next daemon's restore() does

        def stop(record: ContainerRecord) -> None:
            # Exited meanwhile, or (a shutdown must end) still there 30 s after its SIGKILL.
            with contextlib.suppress(Conflict, concurrent.futures.TimeoutError):
                self._terminate(record)  # its StopTimeout: a negative one waits as long as it takes

        running = [record for record in self.records.all() if record.state.get("Running")]
        limit = shutdown.wait_limit(shutdown_timeout, map(_stop_timeout, running))
        return shutdown.run_all([functools.partial(stop, record) for record in running], limit)

    def update(self, name_or_id: str, changes: dict) -> list[str]:
        """docker update: the restart policy and resources, applied to the running container's cgroup at once."""
        record = self.get(name_or_id)
        wanted = {key: value for key, value in changes.items() if key in UPDATABLE and value not in (None, "")}
        host_config = {**record.host_config, **wanted}
        _check_restart_policy(host_config)
        warnings = container_resources.check(host_config)
        resources = container_resources.resources(host_config)
        if record.state["Running"] and any(key != "RestartPolicy" for key in wanted):
            try:
                warnings += self.runtime(record).update(record.id, resources)
            except OSError as exc:
                raise InvalidParameter(f"Cannot update container {record.id}: {exc.strerror or exc}") from None
        self.records.set_host_config(record.id, host_config)
        return warnings

    def pause(self, name_or_id: str) -> None:
        record = self.get(name_or_id)
        if not record.state["Running"]:
            raise Conflict(f"Container {record.id} is not running")
        if record.state["Paused"]:
            raise Conflict(f"Container {record.id} is already paused")
        self.runtime(record).pause(record.id)
        self._event(record, "pause")
        self.records.set_state(record.id, {**record.state, "Paused": True, "Status": "paused"})

    def unpause(self, name_or_id: str) -> None:
        record = self.get(name_or_id)
        if not record.state["Paused"]:
            raise Conflict(f"Container {record.id} is not paused")
        self.runtime(record).resume(record.id)
        self._event(record, "unpause")
        self.records.set_state(record.id, {**record.state, "Paused": False, "Status": "running"})

    def rename(self, name_or_id: str, new_name: str) -> None:
        record = self.get(name_or_id)
        new_name = new_name.removeprefix("/")
        if not _NAME.fullmatch(new_name):
            raise InvalidParameter(f"Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if new_name == record.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        self.records.rename(record.id, new_name)
        self.network.renamed(record.id)
        self._event(self.get(record.id), "rename", oldName=f"/{record.name}")

    def top(self, name_or_id: str, ps_args: str = "-ef") -> dict:
        """docker top: ps's output for the container's processes (ps runs on the host, as dockerd runs it)."""
        record = self.get(name_or_id)
        if not record.state["Running"]:
            raise Conflict(f"Container {record.id} is not running")
        pids = set(self.runtime(record).ps(record.id))
        args = ps_args.split() or ["-ef"]
        result = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise InvalidParameter(f"Error running ps: {result.stderr.strip()}")
        lines = result.stdout.splitlines()
        titles = lines[0].split()
        if "PID" not in titles:
            raise InvalidParameter("Couldn't find PID field in ps output")
        column = titles.index("PID")
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}

    def prune(self, wanted: dict[str, list[str]] | None = None) -> dict:
        """docker container prune: every stopped container the filters (until, label, label!) select;
        SpaceReclaimed is what their own layers held."""
        wanted = wanted or {}
        filters_.check(wanted, _PRUNE_FILTERS)
        deadlines = [filters_.until(value) for value in wanted.get("until", [])]
        deleted, reclaimed = [], 0
        for record in self.records.all():
            labels = record.config.get("Labels") or {}
            if (
                record.state["Running"]
                or any(timestamps.seconds(record.created) >= deadline for deadline in deadlines)
                or not all(filters_.label_matches(labels, value) for value in wanted.get("label", []))
                or any(filters_.label_matches(labels, value) for value in wanted.get("label!", []))
            ):
                continue
            with contextlib.suppress(NotFound):
                reclaimed += self.images.rootfs_usage(record.id)
            self._remove_stopped(record.id)
            deleted.append(record.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- exits -------------------------------------------------------------------------

    def subscribe_exit(self, container_id: str) -> concurrent.futures.Future:
        """A future for the container's next exit: {"StatusCode": code}."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._exits.setdefault(container_id, []).append(future)
        return future

    def unsubscribe_exit(self, container_id: str, future: concurrent.futures.Future) -> None:
        with self._lock:
            waiting = self._exits.get(container_id, [])
            if future in waiting:
                waiting.remove(future)

    def subscribe_removal(self, container_id: str) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._removals.setdefault(container_id, []).append(future)
        return future

    def _notify(self, table: dict, container_id: str, result: dict) -> None:
        with self._lock:
            futures = table.pop(container_id, [])
        for future in futures:
            if not future.done():
                future.set_result(result)

    def _event(self, record: ContainerRecord, action: str, **extra: str) -> None:
        self.events.emit("container", action, record.id, container_attributes(record, **extra))

    @staticmethod
    def _call(hooks: list, container_id: str) -> None:
        for hook in hooks:
            try:
                hook(container_id)
            except Exception:  # a hook's trouble must not fail the container's start or exit
                log.exception("container %s: hook %r failed", container_id[:12], hook)

    def image_config(self, record: ContainerRecord) -> dict:
        """The container's image's runtime config ({} if the image was force-removed since)."""
        try:
            return self.images.get(record.image_id).config.get("config") or {}
        except NotFound:
            return {}

    def _watch(self, container_id: str) -> None:
        threading.Thread(target=self._wait_for_shim, args=(container_id,), name=f"dy-watch-{container_id[:12]}",
                         daemon=True).start()  # fmt: skip

    def _shim_pid(self, container_id: str) -> int | None:
        try:
            with open(os.path.join(self._bundle(container_id), "shim.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _wait_for_shim(self, container_id: str) -> None:
        pid = self._shim_pid(container_id)
        try:
            pidfd = os.pidfd_open(pid) if pid else None
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            select.select([pidfd], [], [])
            os.close(pidfd)
        self._record_exit(container_id)

    def _record_exit(self, container_id: str) -> None:
        record = self.records.get(container_id)
        if record is None:
            return
        bundle = self._bundle(container_id)
        exited = read_json(os.path.join(bundle, "exit.json"))
        if exited is None:  # the shim died without recording an exit (killed, or the host rebooted)
            exited = {"code": 255, "oom_killed": False, "finished": timestamps.now()}
            error = "the container's shim exited without recording the exit status"
        else:
            error = ""
        state = {**record.state, "Status": "exited", "Running": False, "Paused": False, "Pid": 0,
                 "ExitCode": exited["code"], "OOMKilled": exited["oom_killed"], "FinishedAt": exited["finished"],
                 "Error": error}  # fmt: skip
        with self.rootfs_lock(container_id):
            with contextlib.suppress(Exception):
                unmount_under(bundle)  # the rootfs and a shareable /dev/shm
            self.volumes.teardown_mounts(container_id, self.mount_points(record))
            try:
                self.network.teardown(container_id)
            except Exception:  # the exit must be recorded whatever; reconcile() retries at the next start
                log.exception("container %s: network teardown failed", container_id[:12])
            self.records.set_state(container_id, state)
        self._event(record, "die", exitCode=str(exited["code"]))
        self._call(self.on_exit, container_id)
        self._notify(self._exits, container_id, {"StatusCode": exited["code"]})
        if record.host_config.get("AutoRemove"):
            with contextlib.suppress(NotFound):
                self._remove_stopped(container_id, volumes=True)
        elif self._should_restart(self.records.get(container_id), exited["code"]):
            self._schedule_restart(container_id, record.state.get("StartedAt", ""), exited["finished"])

    def _should_restart(self, record: ContainerRecord | None, code: int) -> bool:
        if record is None or record.manually_stopped or self._shutting_down:
            return False
        policy = record.host_config.get("RestartPolicy") or {}
        name = policy.get("Name", "")
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = policy.get("MaximumRetryCount") or 0
            return code != 0 and (limit == 0 or record.restart_count < limit)
        return False

    def _schedule_restart(self, container_id: str, started: str, finished: str) -> None:
        # Under the lock stop() takes: a stop that lands after the exit is neither overwritten here (the
        # container would go on restarting) nor followed by a "restarting" state.
        with self.run_lock(container_id):
            record = self.records.get(container_id)
            if record is None or record.manually_stopped:
                return
            ran = timestamps.seconds(finished) - timestamps.seconds(started)
            count = 0 if ran >= _BACKOFF_RESET else record.restart_count
            delay = min(_BACKOFF_MAX, _BACKOFF_START * 2**count) if ran < _BACKOFF_RESET else _BACKOFF_START
            self.records.set_restarts(container_id, record.restart_count + 1, manually_stopped=False)
            self.records.set_state(container_id, {**record.state, "Restarting": True, "Status": "restarting"})
            timer = threading.Timer(delay, self._restart, (container_id,))
            timer.daemon = True
            self._pending_restarts[container_id] = timer
            timer.start()

    def _restart(self, container_id: str) -> None:
        """A restart policy's start. The container stays "restarting" until it runs: a stop meanwhile waits
        for it (run_lock), then stops it."""
        with self.run_lock(container_id):
            self._pending_restarts.pop(container_id, None)
            current = self.records.get(container_id)
            if current is None or current.manually_stopped or not current.state.get("Restarting"):
                return  # removed, stopped or started meanwhile
            try:
                self.start(container_id)
            except Exception as exc:  # recorded in the state by start(); the policy does not retry a failed start
                log.warning("restart of container %s failed: %s", container_id[:12], exc)
                failed = self.records.get(container_id)
                if failed is not None:
                    self.records.set_state(container_id, {**failed.state, "Restarting": False, "Status": "exited"})

    def restore(self, *, live: bool = True) -> list[str]:
        """After a daemon (re)start: re-adopt running containers whose shim lives, record the others' exits,
        start what restart policies want running. Not live (dockerd without --live-restore): the containers
        that outlived the last daemon are killed first, then their policies apply."""
        adopted, exited = [], []
        for record in self.records.all():
            if not record.state.get("Running"):
                continue
            pid = self._shim_pid(record.id)
            if (
                pid
                and os.path.exists(f"/proc/{pid}")
                and not os.path.exists(os.path.join(self._bundle(record.id), "exit.json"))
            ):
                # Before any exit is recorded: a volume shared with an exited container stays mounted.
                self.volumes.adopt(record.id, self.mount_points(record))
                self._watch(record.id)
                self._call(self.on_start, record.id)
                adopted.append(record.id)
            else:
                exited.append(record.id)
        for container_id in exited:
            self._record_exit(container_id)
        if not live and adopted:
            for container_id in adopted:
                record = self.records.get(container_id)
                with contextlib.suppress(Conflict, NotFound):  # not stopped by the user: the policies apply
                    if record is not None:
                        self._kill(record, signal.SIGKILL)
            log.info("live restore is off: killed %d containers that outlived the last daemon", len(adopted))
            adopted = []
        for record in self.records.all():
            policy = (record.host_config.get("RestartPolicy") or {}).get("Name", "")
            wanted = policy == "always" or (policy == "unless-stopped" and not record.manually_stopped)
            if record.state.get("Restarting"):  # its restart timer went with the last daemon
                self.records.set_state(record.id, {**record.state, "Restarting": False, "Status": "exited"})
            if wanted and not record.state.get("Running"):
                try:
                    self.start(record.id)
                    adopted.append(record.id)
                except Exception as exc:
                    log.warning("restart of container %s at daemon start failed: %s", record.id[:12], exc)
        return adopted

    # -- logs ------------------------------------------------------------------------------

    def logs(
        self, name_or_id: str, *, follow: bool = False, since: float = 0, until: float = 0, tail: int = -1
    ) -> Iterator[dict]:
        """The log's records ({"log", "stream", "time"}), oldest first; with follow, until the exit."""
        record = self.get(name_or_id)
        if record.host_config["LogConfig"]["Type"] == log_options.NONE:
            raise Unsupported("configured logging driver does not support reading")
        exited = self.subscribe_exit(record.id) if follow and record.state["Running"] else None
        return self._read_log(record, exited, since=since, until=until, tail=tail)

    def attach_output(
        self, name_or_id: str, *, logs: bool = False, stream: bool = True
    ) -> tuple[Iterator[dict], Callable[[], None]]:
        """For attach: what the log holds (logs) and what the container writes from now until it exits
        (stream), also before it starts (docker run attaches first).

        Returns the records and the function that detaches, ending them early: the reader returns
        at its next look at the log. Docker refuses to stream from a container that has stopped:
        nothing would ever come. Streaming attaches and detaches are events, as under docker.
        """
        record = self.get(name_or_id)
        if not stream:
            return self._read_log(record, None, since=0, until=0, tail=-1 if logs else 0), lambda: None
        if record.state["Status"] not in ("created", "running"):
            raise Conflict("You cannot attach to a stopped container, start it first")
        exited = self.subscribe_exit(record.id)
        self._event(record, "attach")

        def detach() -> None:
            self.unsubscribe_exit(record.id, exited)
            exited.cancel()
            self._event(record, "detach")

        return self._read_log(record, exited, since=0, until=0, tail=-1 if logs else 0), detach

    # -- input and terminal size -------------------------------------------------------------

    def control(self, container_id: str) -> socket.socket:
        """A connection to the running container's shim for input and resizes (dockyard.runtime.control).

        Conflict if the container is not running (or its shim has just gone).
        """
        try:
            return control.connect(self._bundle(container_id))
        except OSError:
            raise Conflict(f"Container {container_id} is not running") from None

    def resize(self, name_or_id: str, rows: int, columns: int) -> None:
        """docker resize: the terminal's window size; a container without one ignores it, as under docker."""
        record = self.get(name_or_id)
        if not record.state["Running"]:
            raise Conflict(f"Container {record.id} is not running")
        if record.config.get("Tty"):
            with self.control(record.id) as connection:
                connection.sendall(control.resize_frame(rows, columns))
        self._event(record, "resize", height=str(rows), width=str(columns))

    def _read_log(
        self, record: ContainerRecord, exited: concurrent.futures.Future | None, *, since: float, until: float,
        tail: int,
    ) -> Iterator[dict]:  # fmt: skip
        decode = local.decode if record.host_config["LogConfig"]["Type"] == log_options.LOCAL else jsonfile.decode
        return log_reader.read(self.log_path(record), decode, exited, since=since, until=until, tail=tail)


def _stop_timeout(record: ContainerRecord) -> int:
    timeout = record.config.get("StopTimeout")
    return shutdown.DEFAULT_STOP_TIMEOUT if timeout is None else timeout


def _runtime_name(record: ContainerRecord) -> str:
    return record.host_config.get("Runtime") or BUILTIN  # records from before runtimes were chosen: ours


def _driver_and_options(record: ContainerRecord) -> dict:
    log_config = record.host_config["LogConfig"]
    config = record.config
    facts = log_attributes.ContainerFacts(
        id=record.id, name=record.name.lstrip("/"), image_id=record.image_id, image_name=record.image_name,
        command=[*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])],
        labels=config.get("Labels") or {}, env=config.get("Env") or [],
    )  # fmt: skip
    return {"driver": log_config["Type"], "options": log_config.get("Config") or {}, "facts": facts}


def _check_restart_policy(host_config: dict) -> None:
    policy = host_config.get("RestartPolicy") or {}
    if policy.get("Name", "") not in _RESTART_POLICIES:
        raise InvalidParameter(f"invalid restart policy: {policy.get('Name')!r}")
    if policy.get("MaximumRetryCount") and policy.get("Name") != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if policy.get("Name") not in ("", "no", None) and host_config.get("AutoRemove"):
        raise InvalidParameter("conflicting options: cannot specify both --restart and --rm")


# What `docker update` may change: the restart policy and these resources.
UPDATABLE = frozenset(
    {"RestartPolicy", "Memory", "MemoryReservation", "MemorySwap", "CpuShares", "CpuQuota", "CpuPeriod", "NanoCpus",
     "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "KernelMemory"}
)  # fmt: skip
