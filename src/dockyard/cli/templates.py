"""--format for single objects (inspect, version, info, events): docker's Go templates over the API's JSON."""

from __future__ import annotations

from dockyard.cli.flags import UsageError


def render(text: str, value: object) -> str:
    """One object through a template, as `docker inspect -f` does; "json" prints the object as JSON."""
    from dockyard.cli.gotemplate import Template, TemplateError

    if text == "json":
        text = "{{json .}}"
    try:
        return Template(text).execute(value)
    except TemplateError as exc:
        raise UsageError(str(exc)) from None


def print_list(text: str, items: list[dict], kind: str, **_options) -> None:
    """ps, images, history, volume ls and network ls need docker's per-row context objects (ID, Names,
    RunningFor...), which dockyard.cli.formatting brings; until it is merged, say so rather than guess."""
    raise UsageError(f"--format for {kind} lists is not supported by this build yet")
