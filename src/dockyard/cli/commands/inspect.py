"""dockyard inspect (any object), container inspect, image inspect: the daemon's JSON, or a --format template."""

from __future__ import annotations

import json
import sys

from dockyard.cli import output
from dockyard.cli.client import APIError
from dockyard.cli.flags import BOOL, STRING, Command, Flag, UsageError

FORMAT = Flag("format", "f", STRING, "Format output using a custom template")
SIZE = Flag("size", "s", BOOL, "Display total file sizes")
INSPECT = Command(
    "inspect",
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Docker objects",
    (
        FORMAT,
        Flag("size", "s", BOOL, "Display total file sizes if the type is container"),
        Flag("type", "", STRING, "Only inspect objects of the given type"),
    ),
    min_args=1,
)
CONTAINER_INSPECT = Command(
    "container inspect",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    (FORMAT, SIZE),
    min_args=1,
)
IMAGE_INSPECT = Command(
    "image inspect",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    (FORMAT,),
    min_args=1,
)

# type -> (path of one object, the name docker's "No such object" error uses)
PATHS = {
    "container": "/containers/{}/json",
    "image": "/images/{}/json",
    "volume": "/volumes/{}",
    "network": "/networks/{}",
}


def inspect(context, opts, args) -> int:
    kinds = [opts.type] if opts.type else list(PATHS)
    if opts.type and opts.type not in PATHS:
        raise UsageError(f'"{opts.type}" is not a valid value for --type')
    return _inspect(context, args, kinds, opts.format, opts.size)


def container_inspect(context, opts, args) -> int:
    return _inspect(context, args, ["container"], opts.format, opts.size)


def image_inspect(context, opts, args) -> int:
    return _inspect(context, args, ["image"], opts.format, False)


def _inspect(context, names: list[str], kinds: list[str], template_text: str | None, size: bool) -> int:
    # The template is parsed before anything is asked: a bad one fails alone, with docker's status 64.
    template = _parse(template_text) if template_text and template_text != "json" else None
    found, failed = [], False
    for name in names:
        try:
            found.append(_find(context.client, name, kinds, size))
        except LookupError as exc:
            sys.stderr.write(f"{exc.args[0]}\n")
            failed = True
    if template is None:
        # "json" is docker's JSON inspector: the same array, compact.
        layout = {"separators": (",", ":")} if template_text == "json" else {"indent": 4}
        output.write(json.dumps([value for _, value in found], ensure_ascii=False, **layout) + "\n")
        return 1 if failed else 0
    from dockyard.cli.formatting.typed import render
    from dockyard.cli.gotemplate import TemplateError

    for kind, value in found:
        try:
            output.write(render(template, value, kind) + "\n")
        except TemplateError as exc:
            # docker writes one empty line before its errors; scripts see the same bytes.
            if not failed:
                output.write("\n")
                sys.stdout.flush()
            sys.stderr.write(f"{exc}\n")
            failed = True
    return 1 if failed else 0


def _parse(text: str):
    from dockyard.cli.gotemplate import Template, TemplateError
    from dockyard.cli.templates import TemplateParseFailure

    try:
        return Template(text)
    except TemplateError as exc:
        raise TemplateParseFailure(f"template parsing error: {exc}") from None


def _find(client, name: str, kinds: list[str], size: bool) -> tuple[str, dict]:
    """(kind, object) of the first kind that has `name`; LookupError with what docker prints when none has."""
    for kind in kinds:
        params = {"size": "1"} if size and kind == "container" else None
        try:
            return kind, client.get_json(PATHS[kind].format(name), params)
        except APIError as exc:
            if exc.status_code != 404:
                raise
            if kind in ("volume", "network") and len(kinds) == 1:
                # docker's client names only containers and images itself; the daemon's words for the rest.
                raise LookupError(str(exc)) from None
    raise LookupError(f"Error: No such {'object' if len(kinds) > 1 else kinds[0]}: {name}")


COMMANDS = {
    "inspect": (INSPECT, inspect),
    "container inspect": (CONTAINER_INSPECT, container_inspect),
    "image inspect": (IMAGE_INSPECT, image_inspect),
}
