"""--format as docker applies it: one object through a Go template (inspect, version, info, events), or
lists through docker's row contexts (dockyard.cli.formatting: ps, images, volume ls, network ls)."""

from __future__ import annotations

import sys

from dockyard.cli.client import ClientError


class TemplateFailure(ClientError):
    """A template that does not parse or run: docker prints its message (no usage) and exits 1."""


class TemplateParseFailure(TemplateFailure):
    """inspect's template does not parse: docker says so before asking the daemon anything, status 64."""

    status = 64


def render(text: str, value: object) -> str:
    """One object through a template (version, info, events); "json" prints it as JSON."""
    from dockyard.cli.gotemplate import Template, TemplateError

    if text == "json":
        text = "{{json .}}"
    try:
        return Template(text).execute(value)
    except TemplateError as exc:
        raise TemplateFailure(f"template parsing error: {exc}") from None


def print_list(
    text: str,
    items: list[dict],
    kind: str,
    *,
    quiet: bool = False,
    trunc: bool = True,
    digests: bool = False,
    size: bool = False,
) -> None:
    """Rows of kind "container", "image", "network" or "volume" as docker lists them: "table" (the default
    table, or the IDs with `quiet`), "json", "raw" or a template; `size` adds ps's SIZE column."""
    from dockyard.cli import formatting
    from dockyard.cli.gotemplate import TemplateError

    if kind == "container":
        fmt = formatting.container_format(text, quiet=quiet, size=size)
        contexts = [formatting.ContainerContext(item, trunc=trunc) for item in items]
        header = formatting.ContainerContext.header()
    elif kind == "image":
        fmt = formatting.image_format(text, quiet=quiet, digest=digests)
        contexts = formatting.image_contexts(items, fmt, digest=digests, trunc=trunc)
        header = formatting.ImageContext.header()
    elif kind == "network":
        fmt = formatting.network_format(text, quiet=quiet)
        contexts = [formatting.NetworkContext(item, trunc=trunc) for item in items]
        header = formatting.NetworkContext.header()
    else:
        fmt = formatting.volume_format(text, quiet=quiet)
        contexts = [formatting.VolumeContext(item) for item in items]
        header = formatting.VolumeContext.header()
    try:
        sys.stdout.write(formatting.write(fmt, contexts, header))
    except TemplateError as exc:
        raise TemplateFailure(str(exc)) from None


def needs_size(text: str) -> bool:
    """Whether a ps --format shows .Size, so that the list must ask the daemon for sizes."""
    from dockyard.cli import formatting
    from dockyard.cli.gotemplate import TemplateError

    try:
        return formatting.container_format_needs_size(formatting.container_format(text))
    except TemplateError as exc:
        raise TemplateFailure(str(exc)) from None
