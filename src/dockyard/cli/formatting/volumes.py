"""The rows of docker volume ls."""

from __future__ import annotations

from dockyard.cli.formatting.context import Context
from dockyard.cli.formatting.display import join_labels
from dockyard.cli.formatting.formatter import RAW, TABLE
from dockyard.units import human_size

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import ClassVar


def volume_format(source: str, quiet: bool = False) -> str:
    if source == TABLE:
        return "{{.Name}}" if quiet else "table {{.Driver}}\t{{.Name}}"
    if source == RAW:
        return "name: {{.Name}}" if quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    return source


class VolumeContext(Context):
    go_type = "*formatter.volumeContext"
    HEADERS: ClassVar[dict[str, str]] = {
        "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
        "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
        "Size": "SIZE", "Status": "STATUS",
    }  # fmt: skip

    def __init__(self, volume: dict) -> None:
        self.v = volume

    def Name(self) -> str:
        return self.v.get("Name", "")

    def Driver(self) -> str:
        return self.v.get("Driver", "")

    def Scope(self) -> str:
        return self.v.get("Scope", "")

    def Mountpoint(self) -> str:
        return self.v.get("Mountpoint", "")

    def Labels(self) -> str:
        return join_labels(self.v.get("Labels"), sort=False)

    def Label(self, name: str) -> str:
        return (self.v.get("Labels") or {}).get(name, "")

    def Links(self) -> str:
        usage = self.v.get("UsageData")
        return "N/A" if usage is None else str(usage.get("RefCount", 0))

    def Size(self) -> str:
        usage = self.v.get("UsageData")
        return "N/A" if usage is None else human_size(usage.get("Size", 0))

    def Group(self) -> str:
        cluster = self.v.get("ClusterVolume")
        return "N/A" if cluster is None else cluster.get("Spec", {}).get("Group", "")

    def Availability(self) -> str:
        cluster = self.v.get("ClusterVolume")
        return "N/A" if cluster is None else cluster.get("Spec", {}).get("Availability", "")

    def Status(self) -> str:
        cluster = self.v.get("ClusterVolume")
        if cluster is None:
            return "N/A"
        if not (cluster.get("Info") or {}).get("VolumeID"):
            return "pending creation"
        nodes = len(cluster.get("PublishStatus") or [])
        return "created" if nodes == 0 else "in use (1 node)" if nodes == 1 else f"in use ({nodes} nodes)"
