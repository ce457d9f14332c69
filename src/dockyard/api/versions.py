"""API version negotiation, as dockerd does it.

Clients call /_ping first, read the API-Version header and then prefix every
path with /v<version>. An unversioned path means the newest version. A version
outside [MIN_VERSION, MAX_VERSION] is refused with docker's message.
"""

from __future__ import annotations

# The newest version is the swagger Dockyard implements (shared/specs/engine-api/v1.50.yaml),
# the one docker 28's CLI speaks; the oldest is the one docker 28's engine still accepts.
MAX_VERSION = "1.50"
MIN_VERSION = "1.24"


def parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise ValueError(f"invalid API version {version!r}")
    return int(major), int(minor)


def before(version: str, other: str) -> bool:
    return parse(version) < parse(other)


def split_path(path: str) -> tuple[str | None, str]:
    """("1.41", "/images/json") for "/v1.41/images/json"; (None, path) when unversioned."""
    if path.startswith("/v") and "/" in path[1:]:
        head, _, rest = path[2:].partition("/")
        if head.replace(".", "", 1).isdigit() and "." in head:
            return head, "/" + rest
    return None, path
