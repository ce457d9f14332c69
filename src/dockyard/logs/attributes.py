"""What docker's json-file driver adds to every record: "attrs", from the labels, env and tag log options.

    labels=a,b          the container's labels a and b (those it has)
    labels-regex=RE     every label whose name RE matches (anywhere in it, as Go's MatchString)
    env=A,B             the environment variables A and B (those set)
    env-regex=RE        every variable whose name RE matches
    tag=TEMPLATE        "tag": the template with {{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}},
                        {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}} or {{.Command}} filled in

(moby daemon/logger: Info.ExtraAttributes and loggerutils.ParseLogTag.) The daemon works the attributes
out when the container starts and hands them to the shim, which writes them into each record; `docker logs
--details` prints them before each line as key=value pairs, query-escaped and joined by commas.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

_FIELD = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_TAG_FIELDS = ("ID", "FullID", "Name", "ImageID", "ImageFullID", "ImageName", "DaemonName", "Command")


@dataclass(frozen=True)
class ContainerFacts:
    """What the attributes are taken from."""

    id: str
    name: str  # without docker's leading "/"
    image_id: str  # sha256:<hex>
    image_name: str
    command: list[str]  # the entrypoint, then the arguments
    labels: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)  # NAME=value


def check(options: dict) -> None:
    """Refuse at create what docker's logger would refuse at start: a bad regex, a tag it cannot fill."""
    for key in ("labels-regex", "env-regex"):
        _regex(options, key)
    _tag(options.get("tag", ""), None)


def attributes(options: dict, facts: ContainerFacts) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in _names(options.get("labels", "")):
        if name in facts.labels:
            found[name] = facts.labels[name]
    pattern = _regex(options, "labels-regex")
    if pattern:
        found.update((name, value) for name, value in facts.labels.items() if pattern.search(name))
    env = dict(entry.split("=", 1) for entry in facts.env if "=" in entry)
    for name in _names(options.get("env", "")):
        if name in env:
            found[name] = env[name]
    pattern = _regex(options, "env-regex")
    if pattern:
        found.update((name, value) for name, value in env.items() if pattern.search(name))
    tag = _tag(options.get("tag", ""), facts)
    if tag:
        found["tag"] = tag
    return found


def details(attrs: dict[str, str]) -> str:
    """The prefix `docker logs --details` gives a line (before the space that separates it)."""
    quote = urllib.parse.quote_plus  # Go's url.QueryEscape: the same unreserved set, space as "+"
    return ",".join(f"{quote(key)}={quote(value)}" for key, value in sorted(attrs.items()))


def _names(text: str) -> list[str]:
    return text.split(",") if text else []


def _regex(options: dict, key: str) -> re.Pattern | None:
    text = options.get(key, "")
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise InvalidParameter(f"error parsing regexp in log opt {key}: {exc}: `{text}`") from None


def _tag(template: str, facts: ContainerFacts | None) -> str:
    """The tag with its fields filled (none with facts None: only checked). Only fields are taken: a
    template's functions and pipelines are refused by name rather than written out unfilled."""
    rest = _FIELD.sub("", template)
    if "{{" in rest or "}}" in rest:
        fields = ", ".join("{{." + name + "}}" for name in _TAG_FIELDS)
        raise InvalidParameter(f"log opt tag {template!r}: only the fields {fields} are supported")
    for name in _FIELD.findall(template):
        if name not in _TAG_FIELDS:
            raise InvalidParameter(f"log opt tag {template!r}: can't evaluate field {name}")
    if facts is None:
        return template
    values = {
        "ID": facts.id[:12], "FullID": facts.id, "Name": facts.name,
        "ImageID": facts.image_id[:12],  # docker's cut: "sha256:" and five hex digits
        "ImageFullID": facts.image_id, "ImageName": facts.image_name,
        "DaemonName": "docker",  # dockerd's own name: tags made for docker stay the same
        "Command": " ".join(facts.command),
    }  # fmt: skip
    return _FIELD.sub(lambda match: values[match.group(1)], template)
