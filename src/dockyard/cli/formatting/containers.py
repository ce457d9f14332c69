"""The rows of docker ps: ContainerContext over the Engine API's container summaries."""

from __future__ import annotations

from dockyard.cli.formatting.context import Context
from dockyard.cli.formatting.display import (
    ago,
    displayable_ports,
    ellipsis,
    go_quote,
    go_time,
    join_labels,
    truncate_id,
)
from dockyard.cli.formatting.formatter import QUIET, RAW, TABLE
from dockyard.cli.gotemplate import TypedNil
from dockyard.units import human_size

CONTAINER_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
CONTAINER_RAW = (
    "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\n"
    "state: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\n"
    "labels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
)

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import ClassVar


def container_format(source: str, quiet: bool = False, size: bool = False) -> str:
    """NewContainerFormat: the format of docker ps for --format `source` (-q, -s)."""
    if source in (TABLE, ""):
        if quiet:
            return QUIET
        return CONTAINER_TABLE + ("\t{{.Size}}" if size else "")
    if source == RAW:
        if quiet:
            return "container_id: {{.ID}}"
        return CONTAINER_RAW + ("size: {{.Size}}\\n" if size else "")
    return QUIET if quiet else source


def container_format_needs_size(source: str) -> bool:
    """Whether a ps --format uses .Size, so that the list must ask the daemon for sizes.

    Docker runs the template once over an empty container to find out; a template
    that does not parse or run fails here with docker's messages.
    """
    from dockyard.cli.gotemplate import Template, TemplateError

    try:
        template = Template(source)
    except TemplateError as exc:
        raise TemplateError(f"failed to parse template: {exc}") from None
    probe = ContainerContext({}, trunc=False)
    try:
        template.execute(probe)
    except TemplateError as exc:
        raise TemplateError(f"failed to execute template: {exc}") from None
    return "Size" in probe.fields_used


class ContainerContext(Context):
    go_type = "*formatter.ContainerContext"
    HEADERS: ClassVar[dict[str, str]] = {
        "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
        "Platform": "PLATFORM",
    }  # fmt: skip

    def __init__(self, container: dict, trunc: bool = True) -> None:
        self.c = container
        self.trunc = trunc
        self.fields_used: set[str] = set()

    def ID(self) -> str:
        return truncate_id(self.c.get("Id", "")) if self.trunc else self.c.get("Id", "")

    def Names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        if self.trunc:
            # Only the container's own name, not the names its --link aliases gave it elsewhere.
            names = next(([n] for n in names if "/" not in n), names)
        return ",".join(names)

    def Image(self) -> str:
        image = self.c.get("Image", "")
        if not image:
            return "<no image>"
        if not self.trunc:
            return image
        if truncate_id(self.c.get("ImageID", "")) == truncate_id(image):
            return truncate_id(image)
        return _familiar_without_digest(image)

    def Command(self) -> str:
        command = self.c.get("Command", "")
        return go_quote(ellipsis(command, 20) if self.trunc else command)

    def CreatedAt(self) -> str:
        return go_time(self.c.get("Created", 0))

    def RunningFor(self) -> str:
        return ago(self.c.get("Created", 0))

    def Platform(self) -> str | TypedNil:
        platform = (self.c.get("ImageManifestDescriptor") or {}).get("platform")
        if not platform:
            return TypedNil("*formatter.Platform")
        parts = [platform.get("os", ""), platform.get("architecture", "")]
        if platform.get("variant"):
            parts.append(platform["variant"])
        return "/".join(parts)

    def Ports(self) -> str:
        return displayable_ports(self.c.get("Ports") or [])

    def State(self) -> str:
        return self.c.get("State", "")

    def Status(self) -> str:
        return self.c.get("Status", "")

    def Size(self) -> str:
        self.fields_used.add("Size")
        size_rw = human_size(self.c.get("SizeRw", 0), 3)
        root_fs = self.c.get("SizeRootFs", 0)
        return f"{size_rw} (virtual {human_size(root_fs, 3)})" if root_fs > 0 else size_rw

    def Labels(self) -> str:
        return join_labels(self.c.get("Labels"))

    def Label(self, name: str) -> str:
        return (self.c.get("Labels") or {}).get(name, "")

    def Mounts(self) -> str:
        names = []
        for mount in self.c.get("Mounts") or []:
            name = mount.get("Name") or mount.get("Source", "")
            names.append(ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:
        return ",".join((self.c.get("NetworkSettings") or {}).get("Networks") or {})


def _familiar_without_digest(image: str) -> str:
    # ps shows busybox:latest for busybox:latest@sha256:…, and busybox for busybox@sha256:….
    if "/" not in image and "@" not in image:
        # Nothing to drop and nothing to shorten: docker prints such a name as it is, valid
        # or not. Most names are so, and the parser costs its import and regular expressions.
        return image
    from dockyard.errors import InvalidParameter
    from dockyard.image import reference

    try:
        ref = reference.parse(image, default_tag=False)
    except InvalidParameter:
        return image
    return ref.with_digest(None).familiar()
