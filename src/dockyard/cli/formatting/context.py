"""The base of docker's row contexts: what {{json .}} prints of a row, and the header row's data."""

from __future__ import annotations

from dockyard.cli.formatting.formatter import SubHeader

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, ClassVar

NONE = "<none>"


class Context:
    """A row's data: the zero-argument methods whose names start upper-case are its JSON fields."""

    go_type = "*formatter.Context"
    HEADERS: ClassVar[dict[str, str]] = {}

    @classmethod
    def header(cls) -> SubHeader:
        return SubHeader(cls.HEADERS)

    def marshal_json(self) -> dict[str, Any]:
        fields = {}
        for name in sorted(dir(type(self))):
            member = getattr(type(self), name)
            code = getattr(member, "__code__", None)
            if name[:1].isupper() and code is not None and code.co_argcount == 1:
                fields[name] = getattr(self, name)()
        return fields
