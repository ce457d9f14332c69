"""Go's text/template, as docker users write it in --format, over Python data.

    >>> Template("{{.Name}} {{range $i, $p := .Ports}}{{$i}}={{$p}} {{end}}").execute(data)

A real lexer, parser (a tree that prints back as template text) and executor
with Go's semantics: <no value> for a missing key, <nil>, map[k:v] and [a b]
printing, Go's truth, variables and scopes, range/with/if/else, define,
template and block, break and continue, the builtins (and or not len index
slice print printf println eq ne lt le gt ge html js urlquery call) and docker's
functions (json split join title lower upper pad truncate).

Data is what json.loads gives (dict, list, str, int, float, bool, None) plus
any object: {{.Name}} reads its attribute Name, calling it with the template's
arguments when it is a method ({{.Label "com.example"}}).

Every failure raises TemplateError with Go's one-line message, e.g.
    template: :1: unexpected "}" in operand
    template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type string
"""

from __future__ import annotations

from dockyard.cli.gotemplate._errors import TemplateError
from dockyard.cli.gotemplate._exec import execute as _execute
from dockyard.cli.gotemplate._funcs import BUILTINS, DOCKER_FUNCS, HEADER_FUNCS, MISSING, Func, FuncError, TypedNil
from dockyard.cli.gotemplate._gofmt import format_value, quote, sprintf
from dockyard.cli.gotemplate._parser import parse as _parse

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DOCKER_FUNCS",
    "HEADER_FUNCS",
    "MISSING",
    "Func",
    "FuncError",
    "Template",
    "TemplateError",
    "TypedNil",
    "format_value",
    "quote",
    "sprintf",
]


class Template:
    """A parsed template. `funcs` adds to (or replaces) docker's functions; Go's builtins are always there."""

    def __init__(self, text: str, name: str = "", funcs: dict[str, Func] | None = None) -> None:
        self.text = text
        self.name = name
        self.funcs = {**BUILTINS, **DOCKER_FUNCS, **(funcs or {})}
        self.trees = _parse(text, name, self.funcs)

    def execute(self, data: Any, funcs: dict[str, Func] | None = None, missing_key_error: bool = False) -> str:
        """The template's output for `data`; `funcs` replace same-named functions for this run only.

        As Go's, a template parsed with some functions runs with others of the same names
        (docker renders table headers so, see HEADER_FUNCS). `missing_key_error` is Go's
        Option("missingkey=error"): reading a key a map does not have fails instead of
        giving <no value> (docker inspect --format behaves so).
        """
        run_funcs = {**self.funcs, **funcs} if funcs else self.funcs
        return _execute(self.trees, self.text, self.name, self.name, run_funcs, data, missing_key_error)

    def __str__(self) -> str:
        """The main tree printed back as template text (Go's Tree.Root.String())."""
        return str(self.trees[self.name])
