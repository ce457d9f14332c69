"""Docker's command-line grammar (Go's pflag, as cobra uses it) and docker-like help.

Why a hand-written parser and not argparse: argparse costs ~5 ms of imports (re,
gettext) and its grammar differs from pflag's where scripts notice: `-p8080:80`,
`-e=X`, `--rm=false`, bool flags that take no separate value, flags after the
image of `run` belonging to the container's command, and docker's error texts
and exit status 125.

Grammar:
  --name value | --name=value | -n value | -nvalue | -n=value
  -abc                   bool shorthands together; the last may take a value (-itp 80)
  --bool | --bool=false  bools never take the next argument
  --                     everything after it is positional
  interspersed=False     the first positional ends the flags (run, exec: the rest is the command)
"""

from __future__ import annotations

BOOL, STRING, LIST, INT = "bool", "string", "list", "int"


class UsageError(Exception):
    """Wrong flags or arguments: docker prints the message and a pointer to --help, and exits 125."""

    status = 125


class Flag:
    """One flag: its long name (no dashes), one-letter shorthand, kind, help text and default.

    Plain classes, not dataclasses: `import dataclasses` costs ~20 ms (re, inspect) of a start-up that
    is benchmarked.
    """

    __slots__ = ("default", "help", "kind", "long", "short", "type_name")

    def __init__(self, long: str, short: str = "", kind: str = BOOL, help: str = "", default: object = None,  # noqa: A002
                 type_name: str = "") -> None:  # fmt: skip
        self.long, self.short, self.kind, self.help = long, short, kind, help
        self.default, self.type_name = default, type_name  # type_name: what help shows ("bytes", "duration")

    @property
    def dest(self) -> str:
        return self.long.replace("-", "_")

    def initial(self):
        if self.default is not None:
            return list(self.default) if isinstance(self.default, list) else self.default
        return {BOOL: False, STRING: None, LIST: [], INT: None}[self.kind]

    def label(self) -> str:
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"


class Command:
    """A command's name as typed ("image ls"), usage after the name, summary, flags and argument counts.

    interspersed=False: the first positional ends the flags (run, exec: the rest is the container's command).
    """

    def __init__(self, name: str, usage: str, summary: str, flags: tuple[Flag, ...] = (),
                 aliases: tuple[str, ...] = (), min_args: int = 0, max_args: int | None = None,
                 interspersed: bool = True) -> None:  # fmt: skip
        self.name, self.usage, self.summary, self.flags, self.aliases = name, usage, summary, tuple(flags), aliases
        self.min_args, self.max_args, self.interspersed = min_args, max_args, interspersed
        self.by_long: dict[str, Flag] = {}
        for flag in (*self.flags, Flag("help", "", BOOL, "Print usage")):
            self.by_long[flag.long] = flag
            if flag.short:
                self.by_long["-" + flag.short] = flag


class Options(dict):
    """Parsed flags by dest ("network_alias"), as attributes too; `given` lists the flags the user set."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    given: set[str]


def parse(command: Command, argv: list[str]) -> tuple[Options, list[str]]:
    options = Options((flag.dest, flag.initial()) for flag in command.by_long.values())
    options.given = set()
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional += argv[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            flag = command.by_long.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if not eq and flag.kind != BOOL:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                value, i = argv[i], i + 1
            _set(options, flag, value if eq or flag.kind != BOOL else "true")
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                flag = command.by_long.get("-" + letter)
                if flag is None:
                    if letter == "h":
                        flag = command.by_long["help"]
                    else:
                        raise UsageError(f"unknown shorthand flag: {letter!r} in {arg}")
                if letters.startswith("=") and len(letters) > 1:  # pflag: "-e=" alone is the value "="
                    _set(options, flag, letters[1:])
                    break
                if flag.kind == BOOL:
                    _set(options, flag, "true")
                    continue
                if not letters:
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: {letter!r} in -{letter}")
                    letters, i = argv[i], i + 1
                _set(options, flag, letters)
                break
        else:
            positional.append(arg)
            if not command.interspersed:
                positional += argv[i:]
                break
    return options, positional


# Go's strconv.ParseBool
_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "true", "True", "TRUE"), True),
    **dict.fromkeys(("0", "f", "F", "false", "False", "FALSE"), False),
}


def _set(options: Options, flag: Flag, value: str) -> None:
    options.given.add(flag.dest)
    if flag.kind == BOOL:
        parsed = _BOOLS.get(value)
        if parsed is None:
            raise UsageError(
                f'invalid argument "{value}" for "{flag.label()}" flag: strconv.ParseBool: parsing "{value}": '
                "invalid syntax"
            )
        options[flag.dest] = parsed
    elif flag.kind == INT:
        try:
            options[flag.dest] = int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{flag.label()}" flag: strconv.ParseInt: parsing "{value}": '
                "invalid syntax"
            ) from None
    elif flag.kind == LIST:
        options[flag.dest].append(value)
    else:
        options[flag.dest] = value


def check_args(command: Command, args: list[str]) -> None:
    """docker's arity messages (exit status 1, unlike flag errors)."""
    low, high = command.min_args, command.max_args
    if len(args) < low:
        if high == low:
            wanted = f"exactly {low} argument{'s' if low != 1 else ''}"
        else:
            wanted = f"at least {low} argument{'s' if low != 1 else ''}"
        raise ArityError(f"'dockyard {command.name}' requires {wanted}")
    if high is not None and len(args) > high:
        if high == 0:
            raise ArityError(f"'dockyard {command.name}' accepts no arguments")
        if high == low:
            raise ArityError(f"'dockyard {command.name}' requires exactly {low} argument{'s' if low != 1 else ''}")
        raise ArityError(f"'dockyard {command.name}' requires at most {high} argument{'s' if high != 1 else ''}")


class ArityError(UsageError):
    status = 1


def help_text(command: Command) -> str:
    lines = [f"Usage:  dockyard {command.name} {command.usage}".rstrip(), "", command.summary]
    if command.aliases:
        lines += ["", "Aliases:", "  " + ", ".join(f"dockyard {alias}" for alias in command.aliases)]
    if command.flags:
        labels = []
        for flag in command.flags:
            type_name = flag.type_name or ("" if flag.kind == BOOL else flag.kind)
            label = (f"  -{flag.short}, " if flag.short else "      ") + f"--{flag.long}"
            labels.append((label + (f" {type_name}" if type_name else ""), flag))
        width = max(len(label) for label, _ in labels) + 3
        columns = _help_columns()
        lines += ["", "Options:"]
        for label, flag in labels:
            text = flag.help
            if flag.default not in (None, False, [], ""):
                text += f" (default {_default_text(flag)})"
            lines.append(label.ljust(width) + _wrap(width, columns, text))
    return "\n".join(lines) + "\n"


def _help_columns() -> int:
    # docker wraps flag help to the terminal on stdin less one column, else to 79.
    import os

    try:
        return os.get_terminal_size(0).columns - 1
    except OSError:
        return 79


def _wrap(indent: int, columns: int, text: str) -> str:
    """pflag's wrap(): the text in the columns right of `indent`, a last short word allowed 5 columns over."""
    room = columns - indent
    if room < 24:
        # Too narrow beside the labels: pflag starts the text on the next line at column 16.
        indent, room = 16, columns - 16
        if room < 24:
            return text
        return "\n" + " " * indent + _wrap(indent, columns, text)
    slop = 5
    room -= slop
    pieces = []
    while True:
        if room + slop > len(text):
            pieces.append(text)
            break
        cut = max(text.rfind(" ", 0, room), text.rfind("\t", 0, room))
        if cut <= 0:
            pieces.append(text)
            break
        pieces.append(text[:cut])
        text = text[cut + 1 :]
    return ("\n" + " " * indent).join(pieces)


def _default_text(flag: Flag) -> str:
    # As pflag prints them: true, not True; plain strings quoted, typed values ("30s", 10) not.
    if flag.default is True:
        return "true"
    if flag.kind == STRING and not flag.type_name:
        return f'"{flag.default}"'
    return str(flag.default)


def usage_hint(command: Command) -> str:
    return (
        f"\nUsage:  dockyard {command.name} {command.usage}\n\n"
        f"Run 'dockyard {command.name} --help' for more information"
    )
