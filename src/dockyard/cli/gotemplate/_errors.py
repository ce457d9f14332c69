"""The one error type of the template engine."""

from __future__ import annotations

from dockyard.errors import InvalidParameter


class TemplateError(InvalidParameter):
    """A template that does not parse or fails to execute; the message is Go's, one line.

    `output` is what an execution wrote before it failed ("" for parse errors).
    """

    output = ""
