"""docker's `local` volume driver: a directory per volume, or a filesystem of its own mounted on it.

    <data root>/volumes/<name>/_data      what containers see (the volume's Mountpoint)

With the options type, device and o (`docker volume create -o type=tmpfs -o device=tmpfs
-o o=size=10m`), _data is where that filesystem is mounted: on the first container
that uses the volume, and unmounted when the last one stops, as dockerd's local
driver does. A bind of a host directory is `-o type=none -o o=bind -o device=/path`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Mapping

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.kernel.mounts import mount_one, mount_points_under, unmount_all
from dockyard.snapshot.usage import disk_usage

_OPTIONS = ("type", "device", "o")
# An option that needs others beside it (moby's volume/local mandatoryOpts).
_REQUIRES = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


class LocalDriver:
    name = "local"

    def __init__(self, root: str) -> None:
        self.root = root
        self._refs: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        os.makedirs(root, mode=0o701, exist_ok=True)

    def validate(self, options: Mapping[str, str]) -> None:
        for key in options:
            if key == "size":
                raise InvalidParameter("quota size requested but no quota support")
            if key not in _OPTIONS:
                raise InvalidParameter(f'invalid option: "{key}"')
        for key, required in _REQUIRES.items():
            for other in required if key in options else ():
                if other not in options:
                    raise InvalidParameter(f'missing required option: "{other}"')

    def create(self, name: str, options: Mapping[str, str]) -> None:
        self.validate(options)
        directory = os.path.join(self.root, name)
        try:
            os.mkdir(directory, 0o701)
        except FileExistsError:
            raise Conflict(f"volume {name} already exists") from None
        os.mkdir(os.path.join(directory, "_data"), 0o755)

    def path(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def mount(self, name: str, options: Mapping[str, str], ref: str) -> str:
        path = self.path(name)
        if not os.path.isdir(path):
            raise NotFound(f"volume {name}: its directory {path} is missing")
        with self._lock:
            refs = self._refs.setdefault(name, set())
            if not refs and options.get("type") and not self._is_mounted(path):
                mount_one(options["type"], options["device"], _mount_options(options), path)
            refs.add(ref)
        return path

    def unmount(self, name: str, ref: str) -> None:
        with self._lock:
            refs = self._refs.get(name, set())
            refs.discard(ref)
            if refs:
                return
            self._refs.pop(name, None)
            path = self.path(name)
            if self._is_mounted(path):
                unmount_all(path)

    def in_use(self, name: str) -> bool:
        with self._lock:
            return bool(self._refs.get(name))

    def remove(self, name: str) -> None:
        directory = os.path.join(self.root, name)
        with self._lock:
            if self._refs.get(name):
                raise Conflict(f"volume {name} is mounted by a running container")
            if not os.path.isdir(directory):
                raise NotFound(f"volume {name} does not exist")
            # A mount left behind by a crash must go before the tree, or rmtree would empty it.
            path = self.path(name)
            if self._is_mounted(path):
                unmount_all(path)
            shutil.rmtree(directory)

    def usage(self, name: str) -> int:
        with contextlib.suppress(FileNotFoundError):
            return disk_usage(self.path(name)).size
        return 0

    def names(self) -> list[str]:
        return sorted(os.listdir(self.root))

    @staticmethod
    def _is_mounted(path: str) -> bool:
        return os.path.realpath(path) in mount_points_under(path)


def _mount_options(options: Mapping[str, str]) -> list[str]:
    return [option for option in options.get("o", "").split(",") if option]
