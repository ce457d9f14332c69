"""Legacy links as names: dockerd registers each link "/PARENT/ALIAS" as a name of the linked container.

So `ps` lists it among the target's Names, inspect and rm resolve it, `rm --link PARENT/ALIAS` removes it,
and inspect shows a parent's HostConfig.Links as "/TARGET:/PARENT/ALIAS". Links are kept in the parent's
HostConfig.Links as the create request gave them (the "target:alias" of the CLI or docker-py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from dockyard.errors import InvalidParameter
from dockyard.metadata.containers import ContainerRecord
from dockyard.network.links import parse_link

Resolve = Callable[[str], ContainerRecord | None]  # a container by name or ID, None when there is none


def find(link_name: str, resolve: Resolve) -> tuple[ContainerRecord, str] | None:
    """The parent holding link PARENT/ALIAS and the link's entry in its HostConfig.Links; None if none."""
    parent_name, _, alias = link_name.strip("/").rpartition("/")
    parent = resolve(parent_name) if parent_name else None
    for link in (parent.host_config.get("Links") or []) if parent else []:
        if parse_link(link)[1] == alias:
            return parent, link
    return None


def target(link_name: str, resolve: Resolve) -> ContainerRecord | None:
    found = find(link_name, resolve)
    return _target(parse_link(found[1])[0], resolve) if found else None


def names(records: list[ContainerRecord], resolve: Resolve) -> dict[str, list[str]]:
    """Each linked container's link names, "/PARENT/ALIAS", by its ID."""
    found: dict[str, list[str]] = defaultdict(list)
    for parent in records:
        for link in parent.host_config.get("Links") or []:
            name, alias = parse_link(link)
            linked = _target(name, resolve)
            if linked is not None:
                found[linked.id].append(f"/{parent.name}/{alias}")
    return found


def inspect_form(parent: ContainerRecord, resolve: Resolve) -> list[str] | None:
    """HostConfig.Links as dockerd shows them: "/TARGET:/PARENT/ALIAS", with the target's current name."""
    shown = []
    for link in parent.host_config.get("Links") or []:
        name, alias = parse_link(link)
        linked = _target(name, resolve)
        shown.append(f"/{linked.name if linked else name}:/{parent.name}/{alias}")
    return shown or None


def _target(name: str, resolve: Resolve) -> ContainerRecord | None:
    """The container a stored link names, None if none is (any more) or, for a short ID prefix that matches
    several containers since, not one: a link never makes docker ps or inspect fail."""
    try:
        return resolve(name)
    except InvalidParameter:
        return None
