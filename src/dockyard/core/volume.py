"""The volume driver contract: named directories that outlive containers, mounted into them as binds.

A driver owns its volumes' data; the volume service owns their records (name,
driver, options, labels) and which containers refer to them. The service asks
the driver for a host path to bind into a container when one starts, and gives
the path back when it stops:

    create("data", {})               -> the volume exists, empty, at path("data")
    mount("data", {}, "<container>") -> the host path to bind (mounted now if the volume has a filesystem of its own)
    unmount("data", "<container>")   -> when the last user unmounts, that filesystem is unmounted again
    remove("data")                   -> gone, data included

Contract (tests/integration/test_volume_driver.py runs it against every implementation):
- validate() refuses options the driver does not know with InvalidParameter, before anything is created;
  create() validates the same way.
- create() of a name that exists raises Conflict; afterwards path() is an empty directory.
- mount() returns the directory whose content the container sees; calling it again for another ref shares
  it; mounting for the same ref twice counts once. A volume with a filesystem of its own (type/device options)
  is mounted on the first ref and unmounted when the last ref is gone; a mount already there (left by an
  earlier daemon whose containers still run) is adopted, never stacked.
- unmount() of a ref that holds none is not an error (a daemon restart forgets refs).
- remove() while a ref holds the volume raises Conflict; remove() of an unknown name raises NotFound.
- usage() is the bytes the volume's data occupies on disk (0 for a filesystem that is not mounted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class VolumeDriver(Protocol):
    name: str  # what the API shows as Driver: "local"

    def validate(self, options: Mapping[str, str]) -> None: ...

    def create(self, name: str, options: Mapping[str, str]) -> None: ...

    def path(self, name: str) -> str: ...

    def mount(self, name: str, options: Mapping[str, str], ref: str) -> str: ...

    def unmount(self, name: str, ref: str) -> None: ...

    def in_use(self, name: str) -> bool: ...

    def remove(self, name: str) -> None: ...

    def usage(self, name: str) -> int: ...

    def names(self) -> list[str]: ...
