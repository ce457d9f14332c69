"""dockyard volume create, ls, inspect, rm, prune."""

from __future__ import annotations

from dockyard.cli import output, units
from dockyard.cli.batch import confirm, each, pruned, reclaimed
from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag

CREATE = Command(
    "volume create",
    "[OPTIONS] [VOLUME]",
    "Create a volume",
    (
        Flag("driver", "d", STRING, "Specify volume driver name", default="local"),
        Flag("label", "", LIST, "Set metadata for a volume"),
        Flag("name", "", STRING, "Specify volume name"),
        Flag("opt", "o", LIST, "Set driver specific options", type_name="map"),
    ),
    max_args=1,
)
LS = Command(
    "volume ls",
    "[OPTIONS]",
    "List volumes",
    (
        Flag("filter", "f", LIST, 'Provide filter values (e.g. "dangling=true")', type_name="filter"),
        Flag("format", "", STRING, "Format output using a custom template"),
        Flag("quiet", "q", BOOL, "Only display volume names"),
    ),
    ("volume ls", "volume list"),
    max_args=0,
)
INSPECT = Command(
    "volume inspect",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Display detailed information on one or more volumes",
    (Flag("format", "f", STRING, "Format output using a custom template"),),
    min_args=1,
)
RM = Command(
    "volume rm",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Remove one or more volumes",
    (Flag("force", "f", BOOL, "Force the removal of one or more volumes"),),
    ("volume rm", "volume remove"),
    min_args=1,
)
PRUNE = Command(
    "volume prune",
    "[OPTIONS]",
    "Remove unused local volumes",
    (
        Flag("all", "a", BOOL, "Remove all unused volumes, not just anonymous ones"),
        Flag("filter", "", LIST, 'Provide filter values (e.g. "label=<label>")', type_name="filter"),
        Flag("force", "f", BOOL, "Do not prompt for confirmation"),
    ),
    max_args=0,
)


def create(context, opts, args) -> int:
    name = opts.name or (args[0] if args else "")
    body = {
        "Name": name,
        "Driver": opts.driver,
        "DriverOpts": units.key_values(opts.opt),
        "Labels": units.key_values(opts.label),
    }
    volume = context.client.call("POST", "/volumes/create", body=body)
    output.write(f"{volume['Name']}\n")
    return 0


def ls(context, opts, _args) -> int:
    from dockyard.cli import templates

    answer = context.client.get_json("/volumes", {"filters": filters_param(opts.filter)})
    text = "table" if opts.quiet or not opts.format else opts.format
    templates.print_list(text, answer.get("Volumes") or [], "volume", quiet=opts.quiet)
    return 0


def inspect(context, opts, args) -> int:
    from dockyard.cli.commands.inspect import _inspect

    return _inspect(context, args, ["volume"], opts.format, False)


def rm(context, opts, args) -> int:
    params = {"force": "1" if opts.force else None}

    def remove(name: str) -> str:
        context.client.call("DELETE", f"/volumes/{name}", params)
        return name

    return each(args, remove)


def prune(context, opts, _args) -> int:
    warning = "WARNING! This will remove all local volumes not used by at least one container."
    if not opts.all:
        warning = "WARNING! This will remove anonymous local volumes not used by at least one container."
    if not confirm(warning, opts.force):
        return 0
    filters = list(opts.filter) + (["all=true"] if opts.all else [])
    answer = context.client.call("POST", "/volumes/prune", {"filters": filters_param(filters)})
    deleted = answer.get("VolumesDeleted") or []
    output.write(pruned("Deleted Volumes:", deleted) + reclaimed(answer.get("SpaceReclaimed") or 0))
    return 0


COMMANDS = {
    "volume create": (CREATE, create),
    "volume ls": (LS, ls),
    "volume inspect": (INSPECT, inspect),
    "volume rm": (RM, rm),
    "volume prune": (PRUNE, prune),
}
