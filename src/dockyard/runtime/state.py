"""Per-container state kept on disk under the runtime's root directory.

    <root>/<id>/state.json   what `state` reports plus what later verbs need
    <root>/<id>/exec.fifo    exists from create until start (the init blocks on it)

The status is never stored: it is derived each time from the kernel, so a
container whose processes died while nobody watched still reads "stopped".
The init's start time (field 22 of /proc/<pid>/stat) is kept with its pid to
notice pid reuse.
"""

from __future__ import annotations

import os

from dockyard import fastjson
from dockyard.errors import Conflict, InvalidParameter, NotFound

DEFAULT_ROOT = "/run/dockyard-runtime"
CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(container_id: str) -> None:
    if not container_id or not set(container_id) <= _ID_CHARS or container_id in (".", ".."):
        raise InvalidParameter(f"invalid container id {container_id!r}: use letters, digits and _+-.")


def process_start_time(pid: int) -> int | None:
    """Start time of pid in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z" or fields[0] == b"X":
        return None
    return int(fields[19])


class ContainerState:
    """A container's record, read from and written to <root>/<id>/state.json."""

    def __init__(self, root: str, container_id: str, record: dict) -> None:
        self.root = root
        self.id = container_id
        self.record = record

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, "exec.fifo")

    @property
    def pid(self) -> int:
        return self.record.get("pid", 0)

    @property
    def config(self) -> dict:
        return self.record["config"]

    def alive(self) -> bool:
        return self.pid > 0 and process_start_time(self.pid) == self.record.get("startTime")

    def status(self) -> str:
        if not self.pid:
            return CREATING
        if not self.alive():
            return STOPPED
        if os.path.exists(self.fifo):
            return CREATED
        if self.record.get("paused"):
            return PAUSED
        return RUNNING

    def oci_state(self) -> dict:
        """The state object of the runtime spec, with runc's extra fields."""
        status = self.status()
        return {
            "ociVersion": self.config.get("ociVersion", ""),
            "id": self.id,
            "status": status,
            "pid": self.pid if status != STOPPED else 0,
            "bundle": self.record["bundle"],
            "rootfs": self.config["root"]["path"],
            "created": self.record["created"],
            "owner": "",
            "annotations": self.config.get("annotations", {}),
        }

    @property
    def seccomp_file(self) -> str:
        return os.path.join(self.dir, "seccomp.bpf")

    def save_seccomp(self, program: bytes) -> None:
        """Keep the seccomp filter that create compiled: every exec installs the same one, and
        compiling it again took ≈ 1.5 ms of each `docker exec`."""
        with open(self.seccomp_file, "wb") as f:
            f.write(program)

    def saved_seccomp(self) -> bytes | None:
        """The filter save_seccomp kept; None without one (a container without seccomp, or created
        before the runtime kept it): the caller compiles it from the config then."""
        try:
            with open(self.seccomp_file, "rb") as f:
                program = f.read()
        except FileNotFoundError:
            return None
        return program if program and len(program) % 8 == 0 else None  # whole struct sock_filters

    def save(self) -> None:
        tmp = os.path.join(self.dir, ".state.json.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(fastjson.dumps(self.record))
            os.rename(tmp, os.path.join(self.dir, "state.json"))
        except FileNotFoundError:
            # The shim deletes the directory when the init exits, which can happen
            # between load() and here (a pause racing a short-lived container).
            raise NotFound(f"container {self.id} does not exist") from None


def new(root: str, container_id: str, record: dict) -> ContainerState:
    """Claim the id: creating its directory is the atomic test for duplicates."""
    check_id(container_id)
    os.makedirs(root, mode=0o711, exist_ok=True)
    try:
        os.mkdir(os.path.join(root, container_id), 0o711)
    except FileExistsError:
        raise Conflict(f"container with id {container_id} already exists") from None
    return ContainerState(root, container_id, record)


def load(root: str, container_id: str) -> ContainerState:
    check_id(container_id)
    try:
        with open(os.path.join(root, container_id, "state.json"), "rb") as f:
            record = fastjson.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"container {container_id} does not exist") from None
    return ContainerState(root, container_id, record)


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if os.path.exists(os.path.join(root, n, "state.json")))
