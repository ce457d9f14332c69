"""dockyard network create, ls, inspect, rm, prune, connect, disconnect."""

from __future__ import annotations

from dockyard.cli import output, units
from dockyard.cli.batch import confirm, each, pruned
from dockyard.cli.filters import filters_param
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag, UsageError

CREATE = Command(
    "network create",
    "[OPTIONS] NETWORK",
    "Create a network",
    (
        Flag("attachable", "", BOOL, "Enable manual container attachment"),
        Flag("driver", "d", STRING, "Driver to manage the Network", default="bridge"),
        Flag("gateway", "", LIST, "IPv4 or IPv6 Gateway for the master subnet"),
        Flag("internal", "", BOOL, "Restrict external access to the network"),
        Flag("ip-range", "", LIST, "Allocate container ip from a sub-range"),
        Flag("ipv6", "", BOOL, "Enable or disable IPv6 networking"),
        Flag("label", "", LIST, "Set metadata on a network"),
        Flag("opt", "o", LIST, "Set driver specific options", type_name="map"),
        Flag("subnet", "", LIST, "Subnet in CIDR format that represents a network segment"),
    ),
    min_args=1,
    max_args=1,
)
LS = Command(
    "network ls",
    "[OPTIONS]",
    "List networks",
    (
        Flag("filter", "f", LIST, 'Provide filter values (e.g. "driver=bridge")', type_name="filter"),
        Flag("format", "", STRING, "Format output using a custom template"),
        Flag("no-trunc", "", BOOL, "Do not truncate the output"),
        Flag("quiet", "q", BOOL, "Only display network IDs"),
    ),
    ("network ls", "network list"),
    max_args=0,
)
INSPECT = Command(
    "network inspect",
    "[OPTIONS] NETWORK [NETWORK...]",
    "Display detailed information on one or more networks",
    (Flag("format", "f", STRING, "Format output using a custom template"),),
    min_args=1,
)
RM = Command(
    "network rm",
    "NETWORK [NETWORK...]",
    "Remove one or more networks",
    (Flag("force", "f", BOOL, "Do not error if the network does not exist"),),
    ("network rm", "network remove"),
    min_args=1,
)
PRUNE = Command(
    "network prune",
    "[OPTIONS]",
    "Remove all unused networks",
    (
        Flag("filter", "", LIST, 'Provide filter values (e.g. "until=<timestamp>")', type_name="filter"),
        Flag("force", "f", BOOL, "Do not prompt for confirmation"),
    ),
    max_args=0,
)
CONNECT = Command(
    "network connect",
    "[OPTIONS] NETWORK CONTAINER",
    "Connect a container to a network",
    (
        Flag("alias", "", LIST, "Add network-scoped alias for the container"),
        Flag("ip", "", STRING, "IPv4 address (e.g., 172.30.100.104)"),
        Flag("ip6", "", STRING, "IPv6 address (e.g., 2001:db8::33)"),
    ),
    min_args=2,
    max_args=2,
)
DISCONNECT = Command(
    "network disconnect",
    "[OPTIONS] NETWORK CONTAINER",
    "Disconnect a container from a network",
    (Flag("force", "f", BOOL, "Force the container to disconnect from a network"),),
    min_args=2,
    max_args=2,
)


def create(context, opts, args) -> int:
    if len(opts.gateway) > len(opts.subnet) or len(opts.ip_range) > len(opts.subnet):
        raise UsageError("every --gateway and --ip-range needs a --subnet")
    configs = [{"Subnet": subnet} for subnet in opts.subnet]
    for config, gateway in zip(configs, opts.gateway, strict=False):
        config["Gateway"] = gateway
    for config, ip_range in zip(configs, opts.ip_range, strict=False):
        config["IPRange"] = ip_range
    body = {
        "Name": args[0],
        "Driver": opts.driver,
        "Internal": opts.internal,
        "Attachable": opts.attachable,
        "EnableIPv6": opts.ipv6,
        "Options": units.key_values(opts.opt),
        "Labels": units.key_values(opts.label),
        "IPAM": {"Driver": "default", "Config": configs},
    }
    answer = context.client.call("POST", "/networks/create", body=body)
    output.write(f"{answer['Id']}\n")
    return 0


def ls(context, opts, _args) -> int:
    from dockyard.cli import templates

    networks = context.client.get_json("/networks", {"filters": filters_param(opts.filter)}) or []
    networks.sort(key=lambda n: n.get("Name", ""))
    text = "table" if opts.quiet or not opts.format else opts.format
    templates.print_list(text, networks, "network", quiet=opts.quiet, trunc=not opts.no_trunc)
    return 0


def inspect(context, opts, args) -> int:
    from dockyard.cli.commands.inspect import _inspect

    return _inspect(context, args, ["network"], opts.format, False)


def rm(context, opts, args) -> int:
    from dockyard.cli.client import APIError

    def remove(name: str) -> str | None:
        try:
            context.client.call("DELETE", f"/networks/{name}")
        except APIError as exc:
            if opts.force and exc.status_code == 404:
                return None
            raise
        return name

    return each(args, remove)


def prune(context, opts, _args) -> int:
    if not confirm("WARNING! This will remove all custom networks not used by at least one container.", opts.force):
        return 0
    answer = context.client.call("POST", "/networks/prune", {"filters": filters_param(opts.filter)})
    # docker prints no total here: networks take no space.
    output.write(pruned("Deleted Networks:", answer.get("NetworksDeleted") or []))
    return 0


def connect(context, opts, args) -> int:
    network, container = args
    endpoint: dict = {"Aliases": opts.alias or None}
    if opts.ip or opts.ip6:
        endpoint["IPAMConfig"] = {"IPv4Address": opts.ip or "", "IPv6Address": opts.ip6 or ""}
    context.client.call(
        "POST", f"/networks/{network}/connect", body={"Container": container, "EndpointConfig": endpoint}
    )
    return 0


def disconnect(context, opts, args) -> int:
    network, container = args
    context.client.call("POST", f"/networks/{network}/disconnect", body={"Container": container, "Force": opts.force})
    return 0


COMMANDS = {
    "network create": (CREATE, create),
    "network ls": (LS, ls),
    "network inspect": (INSPECT, inspect),
    "network rm": (RM, rm),
    "network prune": (PRUNE, prune),
    "network connect": (CONNECT, connect),
    "network disconnect": (DISCONNECT, disconnect),
}
