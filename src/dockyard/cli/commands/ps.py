"""dockyard ps: the containers table, docker's columns and truncation."""

from __future__ import annotations

from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag

PS = Command(
    name="ps",
    usage="[OPTIONS]",
    summary="List containers",
    aliases=("container ls", "container list", "container ps", "ps"),
    max_args=0,
    flags=(
        Flag("all", "a", BOOL, "Show all containers (default shows just running)"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided", type_name="filter"),
        Flag("format", "", STRING, "Format output using a custom template"),
        Flag("last", "n", INT, "Show n last created containers (includes all states)", default=-1),
        Flag("latest", "l", BOOL, "Show the latest created container (includes all states)"),
        Flag("no-trunc", "", BOOL, "Don't truncate output"),
        Flag("quiet", "q", BOOL, "Only display container IDs"),
        Flag("size", "s", BOOL, "Display total file sizes"),
    ),
)


def ps(context, opts, _args) -> int:
    from dockyard.cli import templates

    limit = 1 if opts.latest else opts.last
    # -q wins over --format, as in docker; a custom format asks for sizes only when it shows .Size.
    text = "table" if opts.quiet or not opts.format else opts.format
    size = not opts.quiet and (templates.needs_size(text) if opts.format else opts.size)
    params = {
        "all": "1" if opts.all or limit > 0 else None,
        "limit": str(limit) if limit > 0 else None,
        "size": "1" if size else None,
        "filters": filters_param(opts.filter),
    }
    containers = context.client.get_json("/containers/json", params)
    templates.print_list(text, containers, "container", quiet=opts.quiet, trunc=not opts.no_trunc, size=size)
    return 0


COMMANDS = {"ps": (PS, ps)}
