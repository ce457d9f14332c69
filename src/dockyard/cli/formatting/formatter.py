"""docker's --format: "table …" with headers, "json", "raw" or a template per object (cli/command/formatter).

    write("table {{.ID}}\\t{{.Names}}", [ContainerContext(c) for c in containers], ContainerContext.header())

A table's header row is the same template run over the context's header map
with docker's header functions (so {{upper .Names}} still prints NAMES), then
header and rows are aligned by the tabwriter. Every other format prints one
line per object. Errors are docker's: "template parsing error: template: …".
"""

from __future__ import annotations

from dockyard.cli.formatting.tabwriter import tabwrite
from dockyard.cli.gotemplate import HEADER_FUNCS, Template, TemplateError

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterable

TABLE = "table"
RAW = "raw"
JSON = "json"
JSON_TEMPLATE = "{{json .}}"
QUIET = "{{.ID}}"


class SubHeader(dict):
    """The header row's data: column names by field. Go's SubHeaderContext, a map with a Label method."""

    go_type = "formatter.SubHeaderContext"

    def Label(self, name: str) -> str:
        # {{.Label "com.example.vendor"}} heads its column "vendor".
        return name.split(".")[-1].replace("-", " ").replace("_", " ")


def is_table(fmt: str) -> bool:
    return fmt.startswith(TABLE)


def template_text(fmt: str) -> str:
    """The template docker runs for a --format value: without "table", trimmed of spaces, with \\t and \\n."""
    if fmt == JSON:
        return JSON_TEMPLATE
    if is_table(fmt):
        fmt = fmt[len(TABLE) :]
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse(fmt: str) -> Template:
    try:
        return Template(template_text(fmt))
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc}") from None


def write(fmt: str, contexts: Iterable[object], header: SubHeader) -> str:
    """The output of `contexts` (docker's formatter contexts) under --format `fmt`."""
    template = parse(fmt)
    rows = []
    for context in contexts:
        try:
            rows.append(template.execute(context) + "\n")
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc}") from None
    if not is_table(fmt):
        return "".join(rows)
    try:
        header_row = template.execute(header, funcs=HEADER_FUNCS)
    except TemplateError as exc:
        # Docker ignores the header's error and prints what came before it.
        header_row = exc.output
    return tabwrite(header_row + "\n" + "".join(rows))
