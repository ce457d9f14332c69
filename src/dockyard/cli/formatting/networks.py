"""The rows of docker network ls."""

from __future__ import annotations

from dockyard.cli.formatting.context import Context
from dockyard.cli.formatting.display import go_time, join_labels, truncate_id
from dockyard.cli.formatting.formatter import QUIET, RAW, TABLE

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import ClassVar


def network_format(source: str, quiet: bool = False) -> str:
    if source == TABLE:
        return QUIET if quiet else "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
    if source == RAW:
        if quiet:
            return "network_id: {{.ID}}"
        return "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n"
    return source


class NetworkContext(Context):
    go_type = "*network.networkContext"
    HEADERS: ClassVar[dict[str, str]] = {
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
        "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
    }  # fmt: skip

    def __init__(self, network: dict, trunc: bool = True) -> None:
        self.n = network
        self.trunc = trunc

    def ID(self) -> str:
        return truncate_id(self.n.get("Id", "")) if self.trunc else self.n.get("Id", "")

    def Name(self) -> str:
        return self.n.get("Name", "")

    def Driver(self) -> str:
        return self.n.get("Driver", "")

    def Scope(self) -> str:
        return self.n.get("Scope", "")

    def IPv4(self) -> str:
        return _go_bool(self.n.get("EnableIPv4", False))

    def IPv6(self) -> str:
        return _go_bool(self.n.get("EnableIPv6", False))

    def Internal(self) -> str:
        return _go_bool(self.n.get("Internal", False))

    def Labels(self) -> str:
        return join_labels(self.n.get("Labels"), sort=False)

    def Label(self, name: str) -> str:
        return (self.n.get("Labels") or {}).get(name, "")

    def CreatedAt(self) -> str:
        return _go_time_of_rfc3339(self.n.get("Created", ""))


def _go_bool(value: object) -> str:
    return "true" if value else "false"


def _go_time_of_rfc3339(stamp: str) -> str:
    # Go's Time.String() of an RFC 3339 time, in local time: "2026-11-23 14:48:45.123456789 +0000 UTC".
    from dockyard import timestamps

    text = go_time(timestamps.seconds(stamp))
    digits = ""
    if stamp[19:20] == ".":
        end = 20
        while end < len(stamp) and stamp[end].isdigit():
            end += 1
        digits = stamp[20:end].rstrip("0")
    return text[:19] + ("." + digits if digits else "") + text[19:]
