"""Legacy links as names (dockyard.services.container_links): a stored link never makes a list fail."""

from __future__ import annotations

from dockyard.errors import InvalidParameter
from dockyard.metadata.containers import ContainerRecord
from dockyard.services import container_links


def _record(container_id: str, name: str, links: list[str] | None = None) -> ContainerRecord:
    return ContainerRecord(container_id, name, "sha256:0", "busybox", "", {}, {"Links": links} if links else {})


def test_a_link_whose_short_id_became_ambiguous_names_nothing_and_fails_nothing():
    target = _record("ab12" * 16, "db")
    parent = _record("cd34" * 16, "web", ["ab:alias", "db:store"])

    def resolve(name: str) -> ContainerRecord | None:
        if name == "ab":
            raise InvalidParameter("multiple IDs found with provided prefix: ab")
        return target if name == "db" else None

    assert container_links.names([target, parent], resolve) == {target.id: ["/web/store"]}
    assert container_links.inspect_form(parent, resolve) == ["/ab:/web/alias", "/db:/web/store"]
