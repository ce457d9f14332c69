"""A volume driver for tests: plain directories, and a record of what a real driver would mount."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from dockyard.errors import Conflict, InvalidParameter, NotFound


class FakeDriver:
    """Passes the VolumeDriver contract without mounting anything: `mounted` names the volumes whose own
    filesystem (a type option) would be mounted now."""

    name = "fake"

    def __init__(self, root: str) -> None:
        self.root = root
        self.refs: dict[str, set[str]] = {}
        self.mounted: set[str] = set()
        os.makedirs(root, exist_ok=True)

    def validate(self, options: Mapping[str, str]) -> None:
        unknown = set(options) - {"type"}
        if unknown:
            raise InvalidParameter(f'invalid option: "{sorted(unknown)[0]}"')

    def create(self, name: str, options: Mapping[str, str]) -> None:
        self.validate(options)
        if os.path.exists(os.path.join(self.root, name)):
            raise Conflict(f"volume {name} already exists")
        os.makedirs(self.path(name))

    def path(self, name: str) -> str:
        return os.path.join(self.root, name, "data")

    def mount(self, name: str, options: Mapping[str, str], ref: str) -> str:
        if not os.path.isdir(self.path(name)):
            raise NotFound(name)
        if options.get("type"):
            self.mounted.add(name)
        self.refs.setdefault(name, set()).add(ref)
        return self.path(name)

    def unmount(self, name: str, ref: str) -> None:
        refs = self.refs.get(name, set())
        refs.discard(ref)
        if not refs:
            self.refs.pop(name, None)
            self.mounted.discard(name)

    def in_use(self, name: str) -> bool:
        return bool(self.refs.get(name))

    def remove(self, name: str) -> None:
        if self.in_use(name):
            raise Conflict(f"volume {name} is in use")
        if not os.path.isdir(os.path.join(self.root, name)):
            raise NotFound(name)
        shutil.rmtree(os.path.join(self.root, name))

    def usage(self, name: str) -> int:
        total = 0
        for base, _dirs, files in os.walk(self.path(name)):
            total += sum(os.lstat(os.path.join(base, f)).st_blocks * 512 for f in files)
        return total

    def names(self) -> list[str]:
        return sorted(os.listdir(self.root))
