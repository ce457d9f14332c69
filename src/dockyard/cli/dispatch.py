"""From argv to a command's handler: global flags, management groups, help, and errors as docker prints them.

Exit status as docker's: flag errors 125, wrong argument counts and daemon errors 1,
^C 130; `run` maps its own failures to 125/126/127 (dockyard.cli.commands.run).
"""

from __future__ import annotations

import sys

from dockyard.cli import flags, registry, tls
from dockyard.cli.client import Client, ClientError, resolve_host

GLOBAL = flags.Command(
    name="",
    usage="[OPTIONS] COMMAND",
    summary="A self-sufficient runtime for containers",
    flags=(
        flags.Flag("config", "", flags.STRING, "Location of client config files"),
        flags.Flag("debug", "D", flags.BOOL, "Enable debug mode"),
        flags.Flag("host", "H", flags.STRING, "Daemon socket to connect to"),
        flags.Flag("log-level", "l", flags.STRING, 'Set the logging level ("debug", "info", "warn", "error", "fatal")'),
        *tls.FLAGS,
        flags.Flag("version", "v", flags.BOOL, "Print version information and quit"),
    ),
    interspersed=False,
)


class Context:
    """What every handler gets: the daemon's address and, on first use, the client."""

    def __init__(self, host: str, tls_options: tls.TLSOptions | None = None) -> None:
        self.host = host
        self.tls = tls_options
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.host, tls=self.tls)
        return self._client


def run(argv: list[str], engine_usage: str) -> int:
    try:
        options, rest = flags.parse(GLOBAL, argv)
    except flags.UsageError as exc:
        return _fail(f"{exc}\nSee 'dockyard --help'.", 125)
    if options.config:
        import os

        os.environ["DOCKER_CONFIG"] = options.config
    if options.version:
        rest = ["version"]
    if not rest or (rest[0] == "help" and len(rest) == 1) or options.help:
        sys.stdout.write(_top_help(engine_usage))
        return 0
    if rest[0] == "help":
        rest = [*rest[1:], "--help"]
    name, rest = _resolve(rest)
    if name is None:
        return _fail(
            f"dockyard: unknown command: dockyard {' '.join(argv[: len(argv) - len(rest)])}\n\n"
            "Run 'dockyard --help' for more information",
            1,
        )
    if name in registry.GROUPS:
        sys.stdout.write(_group_help(name))
        return 0 if not rest or rest[0] in ("--help", "-h") else 1
    # __import__ with a fromlist gives the module itself: importlib.import_module would import
    # importlib and warnings first (≈ 0.4 ms of every command).
    module = __import__(f"dockyard.cli.commands.{registry.module_of(name)}", fromlist=("COMMANDS",))
    command, handler = module.COMMANDS[name]
    try:
        opts, args = flags.parse(command, rest)
        if opts.help:
            sys.stdout.write(flags.help_text(command))
            return 0
        flags.check_args(command, args)
    except flags.ArityError as exc:
        return _fail(
            f"dockyard: {exc}\n\nUsage:  dockyard {command.name} {command.usage}\n\n"
            f"See 'dockyard {command.name} --help' for more information",
            exc.status,
        )
    except flags.UsageError as exc:
        return _fail(f"{exc}\n{flags.usage_hint(command)}", exc.status)
    context = Context(resolve_host(options.host), tls.options(options))
    try:
        return handler(context, opts, args) or 0
    except ClientError as exc:
        return _fail(str(exc), exc.status)
    except flags.UsageError as exc:
        return _fail(f"{exc}\n{flags.usage_hint(command)}", exc.status)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `dockyard ps | head`: the reader left; say nothing, like docker.
        sys.stdout = None
        return 0


def _resolve(rest: list[str]) -> tuple[str | None, list[str]]:
    first = rest[0]
    if first in registry.TOP:
        return first, rest[1:]
    if first in registry.GROUPS:
        subcommands = registry.GROUPS[first][1]
        if len(rest) > 1 and rest[1] in subcommands:
            return subcommands[rest[1]], rest[2:]
        if len(rest) > 1 and not rest[1].startswith("-"):
            return None, rest[2:]
        return first, rest[1:]
    return None, rest[1:]


def _fail(message: str, status: int) -> int:
    sys.stderr.write(message.rstrip("\n") + "\n")
    return status


def _listing(names: dict[str, str]) -> list[str]:
    width = max(len(name) for name in names) + 2
    return [f"  {name.ljust(width)}{summary}" for name, summary in names.items()]


def _top_help(engine_usage: str) -> str:
    lines = ["", "Usage:  dockyard [OPTIONS] COMMAND", "", GLOBAL.summary, "", "Common Commands:"]
    lines += _listing({name: summary for name, (_, summary) in registry.COMMON.items()})
    lines += ["", "Management Commands:"]
    lines += _listing({name: summary for name, (summary, _) in registry.GROUPS.items()})
    lines += ["", "Commands:"]
    lines += _listing({name: summary for name, (_, summary) in sorted(registry.OTHERS.items())})
    lines += ["", "Global Options:"]
    lines += flags.help_text(GLOBAL).split("Options:\n", 1)[1].rstrip("\n").split("\n")
    lines += ["", engine_usage.rstrip("\n"), "", "Run 'dockyard COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"


def _group_help(group: str) -> str:
    summary, subcommands = registry.GROUPS[group]
    lines = ["", f"Usage:  dockyard {group} COMMAND", "", summary, "", "Commands:"]
    lines += _listing({sub: registry.summary_of(target) for sub, target in sorted(subcommands.items())})
    lines += ["", f"Run 'dockyard {group} COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"
