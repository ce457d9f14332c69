"""System verbs: version, info, events, system df, system prune."""

from __future__ import annotations

import platform
import sys
from datetime import UTC

from dockyard.cli import output
from dockyard.cli.batch import confirm, pruned, reclaimed
from dockyard.cli.client import API_VERSION, APIError, ClientError
from dockyard.cli.commands.execs import timestamp
from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag
from dockyard.units import human_size

FORMAT = Flag("format", "f", STRING, "Format output using a custom template")
VERSION = Command("version", "[OPTIONS]", "Show the Dockyard version information", (FORMAT,), max_args=0)
INFO = Command("info", "[OPTIONS]", "Display system-wide information", (FORMAT,), ("system info", "info"), max_args=0)
EVENTS = Command(
    "events",
    "[OPTIONS]",
    "Get real time events from the server",
    (
        Flag("filter", "f", LIST, "Filter output based on conditions provided", type_name="filter"),
        Flag("format", "", STRING, "Format output using a custom template"),
        Flag("since", "", STRING, "Show all events created since timestamp"),
        Flag("until", "", STRING, "Stream events until this timestamp"),
    ),
    ("system events", "events"),
    max_args=0,
)
DF = Command(
    "system df",
    "[OPTIONS]",
    "Show docker disk usage",
    (Flag("verbose", "v", BOOL, "Show detailed information on space usage"),),
    max_args=0,
)
PRUNE = Command(
    "system prune",
    "[OPTIONS]",
    "Remove unused data",
    (
        Flag("all", "a", BOOL, "Remove all unused images not just dangling ones"),
        Flag("filter", "", LIST, 'Provide filter values (e.g. "label=<key>=<value>")', type_name="filter"),
        Flag("force", "f", BOOL, "Do not prompt for confirmation"),
        Flag("volumes", "", BOOL, "Prune anonymous volumes"),
    ),
    max_args=0,
)


def version(context, opts, _args) -> int:
    from dockyard import __version__

    client_info = {
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "Os": "linux",
        "Arch": _arch(),
        "PythonVersion": platform.python_version(),
    }
    try:
        server = context.client.get_json("/version")
    except ClientError as exc:
        server, failure = None, exc
    if opts.format:
        from dockyard.cli import templates

        output.write(templates.render(opts.format, {"Client": client_info, "Server": server}) + "\n")
    else:
        lines = [
            "Client:",
            f" Version:           {__version__}",
            f" API version:       {context.client.version or API_VERSION}",
            f" Python version:    {client_info['PythonVersion']}",
            f" OS/Arch:           linux/{_arch()}",
        ]
        if server:
            lines += [
                "",
                f"Server: {server.get('Platform', {}).get('Name') or 'Engine'}",
                " Engine:",
                f"  Version:          {server.get('Version', '')}",
                f"  API version:      {server.get('ApiVersion', '')} (minimum version {server.get('MinAPIVersion', '')})",  # noqa: E501
                f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
                f"  Experimental:     {str(server.get('Experimental', False)).lower()}",
            ]
        output.write("\n".join(lines) + "\n")
    if server is None:
        raise failure
    return 0


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def info(context, opts, _args) -> int:
    facts = context.client.get_json("/info")
    if opts.format:
        from dockyard.cli import templates

        output.write(templates.render(opts.format, facts) + "\n")
        return 0
    from dockyard.units import bytes_size

    lines = [
        "Server:",
        f" Containers: {facts.get('Containers', 0)}",
        f"  Running: {facts.get('ContainersRunning', 0)}",
        f"  Paused: {facts.get('ContainersPaused', 0)}",
        f"  Stopped: {facts.get('ContainersStopped', 0)}",
        f" Images: {facts.get('Images', 0)}",
        f" Server Version: {facts.get('ServerVersion', '')}",
        f" Storage Driver: {facts.get('Driver', '')}",
        f" Logging Driver: {facts.get('LoggingDriver', '')}",
        f" Cgroup Driver: {facts.get('CgroupDriver', '')}",
        f" Cgroup Version: {facts.get('CgroupVersion', '')}",
        f" Default Runtime: {facts.get('DefaultRuntime', '')}",
        f" Kernel Version: {facts.get('KernelVersion', '')}",
        f" Operating System: {facts.get('OperatingSystem', '')}",
        f" OSType: {facts.get('OSType', '')}",
        f" Architecture: {facts.get('Architecture', '')}",
        f" CPUs: {facts.get('NCPU', 0)}",
        f" Total Memory: {bytes_size(facts.get('MemTotal', 0))}",
        f" Name: {facts.get('Name', '')}",
        f" ID: {facts.get('ID', '')}",
        f" Docker Root Dir: {facts.get('DockerRootDir', '')}",
        f" Debug Mode: {str(facts.get('Debug', False)).lower()}",
        f" Live Restore Enabled: {str(facts.get('LiveRestoreEnabled', False)).lower()}",
    ]
    output.write("\n".join(lines) + "\n")
    for warning in facts.get("Warnings") or ():
        sys.stderr.write(f"{warning}\n")
    return 0


def events(context, opts, _args) -> int:
    params = {
        "filters": filters_param(opts.filter),
        "since": timestamp(opts.since) if opts.since else None,
        "until": timestamp(opts.until) if opts.until else None,
    }
    with context.client.stream("GET", "/events", params) as response:
        for event in response.json_lines():
            if opts.format:
                from dockyard.cli import templates

                output.write(templates.render(opts.format, event) + "\n")
            else:
                output.write(event_line(event) + "\n")
            sys.stdout.flush()
    return 0


def event_line(event: dict) -> str:
    """docker's: 2026-11-23T14:35:04.450008005Z container start ID (image=busybox, name=web)"""
    from datetime import datetime

    nanos = event.get("timeNano") or event.get("time", 0) * 10**9
    moment = datetime.fromtimestamp(nanos // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    actor = event.get("Actor") or {}
    attributes = ", ".join(f"{k}={v}" for k, v in sorted((actor.get("Attributes") or {}).items()))
    line = f"{moment}.{nanos % 10**9:09d}Z {event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    return f"{line} ({attributes})" if attributes else line


def df(context, opts, _args) -> int:
    """docker's disk usage arithmetic: what is used by running containers is not reclaimable."""
    usage = context.client.get_json("/system/df")
    if opts.verbose:
        output.write(_df_verbose(usage))
        return 0
    images = usage.get("Images") or []
    containers = usage.get("Containers") or []
    volumes = usage.get("Volumes") or []
    cache = usage.get("BuildCache") or []
    image_size = usage.get("LayersSize") or 0
    image_used = sum(
        i["Size"] - i["SharedSize"]
        for i in images
        if i.get("Containers", 0) != 0 and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1
    )
    container_size = sum(c.get("SizeRw", 0) for c in containers)
    running = [c for c in containers if c.get("State") == "running"]
    volume_sizes = [(v.get("UsageData") or {}) for v in volumes]
    volume_size = sum(max(u.get("Size", 0), 0) for u in volume_sizes)
    volume_used = sum(max(u.get("Size", 0), 0) for u in volume_sizes if u.get("RefCount", 0) > 0)
    cache_size = sum(c.get("Size", 0) for c in cache)
    cache_free = sum(c.get("Size", 0) for c in cache if not c.get("InUse") and not c.get("Shared"))
    rows = [
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        [
            "Images",
            len(images),
            sum(1 for i in images if i.get("Containers", 0) > 0),
            image_size,
            image_size - image_used,
        ],
        [
            "Containers",
            len(containers),
            len(running),
            container_size,
            container_size - sum(c.get("SizeRw", 0) for c in running),
        ],
        [
            "Local Volumes",
            len(volumes),
            sum(1 for u in volume_sizes if u.get("RefCount", 0) > 0),
            volume_size,
            volume_size - volume_used,
        ],
        ["Build Cache", len(cache), sum(1 for c in cache if c.get("InUse")), cache_size, cache_free],
    ]
    table = [rows[0]] + [
        [kind, str(total), str(active), human_size(size, 4), _reclaimable(free, size, kind != "Build Cache")]
        for kind, total, active, size, free in rows[1:]
    ]
    output.write(output.table(table))
    return 0


DF_IMAGES = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}"
    "\t{{.Containers}}"
)
DF_CONTAINERS = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
)
DF_VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
DF_BUILD_CACHE = "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n"


def _df_verbose(usage: dict) -> str:
    """docker system df -v: a table per kind through docker's row contexts, images by their first tag only."""
    from dockyard.cli import formatting

    images = [formatting.ImageContext(image, *_first_tag(image)) for image in usage.get("Images") or []]
    # Without the virtual size: docker zeroes SizeRootFs here.
    containers = [formatting.ContainerContext(c | {"SizeRootFs": 0}) for c in usage.get("Containers") or []]
    volumes = [formatting.VolumeContext(v) for v in usage.get("Volumes") or []]
    cache = sum(c.get("Size", 0) for c in usage.get("BuildCache") or [])
    # Dockyard has no builder: the build cache table is always empty, its header all that docker prints.
    return (
        "Images space usage:\n\n"
        + formatting.write(DF_IMAGES, images, formatting.ImageContext.header())
        + "\nContainers space usage:\n\n"
        + formatting.write(DF_CONTAINERS, containers, formatting.ContainerContext.header())
        + "\nLocal Volumes space usage:\n\n"
        + formatting.write(DF_VOLUMES, volumes, formatting.VolumeContext.header())
        + f"\nBuild cache usage: {human_size(cache)}\n\n"
        + formatting.tabwrite(DF_BUILD_CACHE)
    )


def _first_tag(image: dict) -> tuple[str, str]:
    from dockyard.errors import InvalidParameter
    from dockyard.image import reference

    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    if tags:
        try:
            ref = reference.parse(tags[0], default_tag=False)
        except InvalidParameter:
            return "<none>", "<none>"
        if ref.tag:
            return ref.familiar_name, ref.tag
    return "<none>", "<none>"


def _reclaimable(size: int, total: int, percent: bool) -> str:
    text = human_size(max(size, 0), 4)
    return f"{text} ({int(size * 100 / total)}%)" if total > 0 and percent else text


def prune(context, opts, _args) -> int:
    warning = [
        "WARNING! This will remove:",
        "  - all stopped containers",
        "  - all networks not used by at least one container",
    ]
    if opts.volumes:
        warning.append("  - all anonymous volumes not used by at least one container")
    warning.append(
        "  - all images without at least one container associated to them" if opts.all else "  - all dangling images"
    )
    warning.append("  - unused build cache")
    if not confirm("\n".join(warning) + "\n", opts.force):
        return 0
    filters = filters_param(opts.filter)
    total = 0
    steps = [
        ("/containers/prune", {}, "ContainersDeleted", "Deleted Containers:"),
        ("/networks/prune", {}, "NetworksDeleted", "Deleted Networks:"),
    ]
    if opts.volumes:
        steps.append(("/volumes/prune", {}, "VolumesDeleted", "Deleted Volumes:"))
    image_filters = filters_param(opts.filter + (["dangling=false"] if opts.all else []))
    steps.append(("/images/prune", {"filters": image_filters}, "ImagesDeleted", "Deleted Images:"))
    for path, params, key, title in steps:
        try:
            answer = context.client.call("POST", path, {"filters": filters, **params})
        except APIError as exc:
            if exc.status_code == 404:
                continue  # a daemon without networks or volumes yet has nothing of them to prune
            raise
        output.write(pruned(title, answer.get(key) or []))
        total += answer.get("SpaceReclaimed") or 0
    output.write(reclaimed(total))
    return 0


COMMANDS = {
    "version": (VERSION, version),
    "info": (INFO, info),
    "events": (EVENTS, events),
    "system df": (DF, df),
    "system prune": (PRUNE, prune),
}
