"""Volume names as docker accepts and makes them."""

from __future__ import annotations

import re
import secrets

from dockyard.errors import InvalidParameter

_VALID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# The label docker (23 and later) puts on the volumes it creates for a container's anonymous
# mounts; `volume prune` removes only these unless asked for all (API 1.42 and later).
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def is_valid(name: str) -> bool:
    return _VALID.fullmatch(name) is not None


def check(name: str) -> None:
    """Raise docker's message for a name the local driver refuses (it becomes a directory name)."""
    if not is_valid(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )


def anonymous() -> str:
    """A fresh name for an anonymous volume: 64 hex digits, as docker names them."""
    return secrets.token_hex(32)
