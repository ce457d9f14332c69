"""docker's output: --format templates over docker's row contexts, tables aligned as docker aligns them.

    from dockyard.cli.formatting import ContainerContext, container_format, write
    fmt = container_format(args.format or "table", quiet=args.quiet, size=args.size)
    sys.stdout.write(write(fmt, [ContainerContext(c, trunc=not args.no_trunc) for c in containers],
                           ContainerContext.header()))

Sizes and durations are in dockyard.units; the template engine is dockyard.cli.gotemplate.
"""

from __future__ import annotations

from dockyard.cli.formatting.containers import ContainerContext, container_format, container_format_needs_size
from dockyard.cli.formatting.display import (
    ago,
    displayable_ports,
    ellipsis,
    go_quote,
    go_time,
    join_labels,
    truncate_id,
)
from dockyard.cli.formatting.formatter import JSON, RAW, TABLE, SubHeader, is_table, parse, template_text, write
from dockyard.cli.formatting.images import ImageContext, image_contexts, image_format
from dockyard.cli.formatting.networks import NetworkContext, network_format
from dockyard.cli.formatting.stats import StatsContext, StatsEntry, stats_format
from dockyard.cli.formatting.tabwriter import display_width, tabwrite
from dockyard.cli.formatting.volumes import VolumeContext, volume_format

__all__ = [
    "JSON",
    "RAW",
    "TABLE",
    "ContainerContext",
    "ImageContext",
    "NetworkContext",
    "StatsContext",
    "StatsEntry",
    "SubHeader",
    "VolumeContext",
    "ago",
    "container_format",
    "container_format_needs_size",
    "display_width",
    "displayable_ports",
    "ellipsis",
    "go_quote",
    "go_time",
    "image_contexts",
    "image_format",
    "is_table",
    "join_labels",
    "network_format",
    "parse",
    "stats_format",
    "tabwrite",
    "template_text",
    "truncate_id",
    "volume_format",
    "write",
]
