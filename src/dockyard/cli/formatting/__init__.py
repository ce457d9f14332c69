"""docker's output: --format templates over docker's row contexts, tables aligned as docker aligns them.

    from dockyard.cli.formatting import ContainerContext, container_format, write
    fmt = container_format(args.format or "table", quiet=args.quiet, size=args.size)
    sys.stdout.write(write(fmt, [ContainerContext(c, trunc=not args.no_trunc) for c in containers],
                           ContainerContext.header()))

Sizes and durations are in dockyard.units; the template engine is dockyard.cli.gotemplate.
"""

from __future__ import annotations

# Loaded on first use: `dockyard ps` pays for the container rows only (PEP 562).
_HOMES = {
    "ContainerContext": "containers",
    "ImageContext": "images",
    "JSON": "formatter",
    "NetworkContext": "networks",
    "RAW": "formatter",
    "StatsContext": "stats",
    "StatsEntry": "stats",
    "SubHeader": "formatter",
    "TABLE": "formatter",
    "VolumeContext": "volumes",
    "ago": "display",
    "container_format": "containers",
    "container_format_needs_size": "containers",
    "display_width": "tabwriter",
    "displayable_ports": "display",
    "ellipsis": "display",
    "go_quote": "display",
    "go_time": "display",
    "image_contexts": "images",
    "image_format": "images",
    "is_table": "formatter",
    "join_labels": "display",
    "network_format": "networks",
    "parse": "formatter",
    "stats_format": "stats",
    "tabwrite": "tabwriter",
    "template_text": "formatter",
    "truncate_id": "display",
    "volume_format": "volumes",
    "write": "formatter",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Not importlib.import_module, which would import importlib and warnings for it (≈ 0.4 ms).
    value = getattr(__import__(f"{__name__}.{home}", fromlist=(name,)), name)
    globals()[name] = value
    return value


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
