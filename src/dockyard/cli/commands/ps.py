"""dockyard ps: the containers table, docker's columns and truncation."""

from __future__ import annotations

from dockyard.cli import output
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
HEADERS = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]


def ps(context, opts, _args) -> int:
    limit = 1 if opts.latest else opts.last
    size = opts.size and not opts.quiet
    if opts.format and not opts.quiet:
        from dockyard.cli import templates

        size = templates.needs_size(opts.format)
    params = {
        "all": "1" if opts.all or limit > 0 else None,
        "limit": str(limit) if limit > 0 else None,
        "size": "1" if size else None,
        "filters": filters_param(opts.filter),
    }
    containers = context.client.get_json("/containers/json", params)
    trunc = not opts.no_trunc
    if opts.quiet:
        output.write("".join(f"{output.short_id(c['Id']) if trunc else c['Id']}\n" for c in containers))
        return 0
    if opts.format:
        from dockyard.cli import templates

        templates.print_list(opts.format, containers, "container", trunc=trunc)
        return 0
    rows = [HEADERS + (["SIZE"] if opts.size else [])]
    rows += [row(c, trunc, opts.size) for c in containers]
    output.write(output.table(rows))
    return 0


def row(container: dict, trunc: bool, size: bool) -> list[str]:
    command = container.get("Command") or ""
    cells = [
        output.short_id(container["Id"]) if trunc else container["Id"],
        image_name(container, trunc),
        output.go_quote(output.ellipsis(command, 20) if trunc else command),
        output.ago(container["Created"]),
        container.get("Status", ""),
        displayable_ports(container.get("Ports") or []),
        names(container.get("Names") or [], trunc),
    ]
    if size:
        cells.append(size_text(container))
    return cells


def image_name(container: dict, trunc: bool) -> str:
    image = container.get("Image") or ""
    if trunc and image.startswith("sha256:"):
        return output.short_id(image)
    return image


def names(all_names: list[str], trunc: bool) -> str:
    """Legacy links show as /other/alias: docker hides them unless --no-trunc."""
    shown = [name.lstrip("/") for name in all_names if not trunc or "/" not in name.lstrip("/")]
    return ",".join(shown)


def size_text(container: dict) -> str:
    written = output.human_size(container.get("SizeRw") or 0)
    virtual = container.get("SizeRootFs") or 0
    return f"{written} (virtual {output.human_size(virtual)})" if virtual > 0 else written


def displayable_ports(ports: list[dict]) -> str:
    """docker's DisplayablePorts: consecutive ports folded into ranges, remapped host ports listed last."""
    ports = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""), p.get("PublicPort", 0), p["Type"]))
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    remapped: list[str] = []
    for port in ports:
        private, ip = port.get("PrivatePort", 0), port.get("IP", "")
        key = port["Type"]
        if ip:
            public = port.get("PublicPort", 0)
            if public != private:
                host = f"[{ip}]" if ":" in ip else ip
                remapped.append(f"{host}:{public}->{private}/{port['Type']}")
                continue
            key = f"{ip}/{port['Type']}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_port_group(key, *group))
            groups[key] = [private, private]
    result += [_port_group(key, *group) for key, group in groups.items()]
    return ", ".join(result + remapped)


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{kind}"


COMMANDS = {"ps": (PS, ps)}
