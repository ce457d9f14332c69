"""GET /containers/json (docker ps): each container's summary kept ready between two lists.

Listing 100 containers cost the daemon ≈ 4 ms a request, all of it done again at every list: decoding
each container's row (its create request alone is ~2 kB of JSON), two queries per container for its
endpoints and networks, its image's config, building the summary and encoding it. The docker CLI's own
work for `ps -a` is ≈ 15 ms, which those 4 ms put level with dockerd (docs/benchmarks.md).

A container's summary depends on nothing but its row, its endpoints' rows, those endpoints' networks'
rows, whether its image is still in the store (a force-removed image's command is no longer known) and
the clock. The listing keeps, per container, those inputs as stored (its key) beside the summary built
from them, already encoded in two halves around the Status. A list first asks the database whether
anything at all changed since the last one (Database.revision): when nothing did, the entries are
served as they are; when something did, the rows are read again and only the containers whose key
differs are summarised again. Status ("Up 3 minutes") comes from the clock, at every list.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from dockyard import timestamps, units
from dockyard.api.app import Services
from dockyard.api.responses import encode
from dockyard.metadata.containers import ContainerRecord, from_row
from dockyard.runtime import container_spec
from dockyard.services import container_links
from dockyard.services.containers import ContainerService

_HEALTH = {"starting": " (health: starting)", "healthy": " (healthy)", "unhealthy": " (unhealthy)"}


@dataclass(frozen=True)
class Entry:
    """One container's line of the answer; record and summary are shared by every list: never change them."""

    key: tuple  # what the summary was built from, as stored
    record: ContainerRecord
    summary: dict  # the answer's object, but for its Status
    head: bytes  # the summary encoded up to the Status's value
    tail: bytes  # and after it
    started: float  # the state's StartedAt and FinishedAt in seconds since the epoch
    finished: float

    def status(self, now: float) -> str:
        state = self.record.state
        if state["Running"]:
            paused = " (Paused)" if state.get("Paused") else ""
            health = _HEALTH.get((state.get("Health") or {}).get("Status"), "")
            return f"Up {units.human_duration(now - self.started)}{paused}{health}"
        if state["Status"] == "created":
            return "Created"
        ago = units.human_duration(now - self.finished)
        if state.get("Restarting"):
            return f"Restarting ({state['ExitCode']}) {ago} ago"
        return f"Exited ({state['ExitCode']}) {ago} ago"

    def document(self, now: float) -> dict:
        return {**self.summary, "Status": self.status(now)}


def encode_list(entries: list[Entry], now: float) -> bytes:
    """json_response's body for [entry.document(now) for entry in entries], in one join of the halves."""
    parts = [b"["]
    for entry in entries:
        parts += (entry.head, encode(entry.status(now)), entry.tail, b",")
    if entries:
        parts.pop()
    parts.append(b"]\n")
    return b"".join(parts)


class ContainerListing:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()  # one refresh at a time; lists in other threads wait for it
        self._revision: tuple[int, int] | None = None
        self._entries: list[Entry] = []  # newest first, as docker lists
        self._image_configs: dict[str, dict] = {}  # by image ID; an image's config never changes

    def ready(self) -> list[Entry] | None:
        """The entries if nothing changed since the last list and that is known without waiting, else None
        (then call entries() in a worker thread). For the event loop: under load, a worker thread's round
        trip (two wake-ups) costs more than the whole list."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            revision = self.services.containers.records.db.revision(wait=False)
            return self._entries if revision is not None and revision == self._revision else None
        finally:
            self._lock.release()

    def entries(self) -> list[Entry]:
        """Every container's entry, newest first, as the store holds them now (it may read the store:
        call it in a worker thread)."""
        with self._lock:
            revision = self.services.containers.records.db.revision()  # before the rows: a change after it
            if revision != self._revision:  # is seen by the next list
                self._entries = self._refresh()
                self._revision = revision
            return self._entries

    def _refresh(self) -> list[Entry]:
        networks = self.services.networks
        images = self.services.images.images.ids()
        network_rows = {row[0]: row for row in networks.networks.rows()}
        joined: dict[str, list[tuple]] = {}
        for row in networks.endpoints.rows():  # (id, network_id, container_id, ...)
            joined.setdefault(row[2], []).append((row, network_rows.get(row[1])))
        self._image_configs = {key: value for key, value in self._image_configs.items() if key in images}
        known = {entry.record.id: entry for entry in self._entries}
        rows = self.services.containers.records.rows()  # (id, name, image_id, ...), oldest first
        records = [_unchanged(known.get(row[0]), row) or from_row(row) for row in rows]
        # A container's link names ("/PARENT/ALIAS") come from its parents' rows: part of its key.
        links = container_links.names(records, self.services.containers.find)
        entries = []
        for row, record in zip(reversed(rows), reversed(records), strict=True):
            key = (row, tuple(joined.get(row[0], ())), row[2] in images, tuple(links.get(row[0], ())))
            entry = known.get(row[0])
            entries.append(entry if entry is not None and entry.key == key else self._entry(key, record))
        return entries

    def _entry(self, key: tuple, record: ContainerRecord) -> Entry:
        if record.image_id not in self._image_configs:
            self._image_configs[record.image_id] = self.services.containers.image_config(record)
        image_config = self._image_configs[record.image_id]
        summary = _summary(record, image_config, self.services.sandboxes.settings(record), link_names=key[3])
        names = list(summary)
        at = names.index("Status")
        head = encode({name: summary[name] for name in names[:at]})
        tail = encode({name: summary[name] for name in names[at + 1 :]})
        state = record.state
        return Entry(key, record, summary, head[:-1] + b',"Status":', b"," + tail[1:],
                     timestamps.seconds(state["StartedAt"]), timestamps.seconds(state["FinishedAt"]))  # fmt: skip


def _unchanged(entry: Entry | None, row: tuple) -> ContainerRecord | None:
    """The entry's record if its row is still the one stored: decoding a row is most of a summary's cost."""
    return entry.record if entry is not None and entry.key[0] == row else None


def _summary(record: ContainerRecord, image_config: dict, network_settings: dict, link_names: tuple) -> dict:
    args = container_spec.command(image_config, record.config) if image_config or record.config.get("Cmd") else []
    return {
        "Id": record.id,
        "Names": [f"/{record.name}", *link_names],
        "Image": record.image_name,
        "ImageID": record.image_id,
        "Command": " ".join(args),
        "Created": int(timestamps.seconds(record.created)),
        "Ports": _port_list(network_settings["Ports"]),
        "Labels": record.config.get("Labels") or {},
        "State": record.state["Status"],
        "Status": "",  # Entry.status: it changes with the clock
        "HostConfig": {"NetworkMode": record.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": network_settings["Networks"]},
        "Mounts": mounts(record),
    }


def _port_list(ports: dict) -> list[dict]:
    """docker ps's Ports: one entry per published mapping, one without PublicPort per exposed-only port."""
    found = []
    for key, mappings in ports.items():
        number, _, kind = key.partition("/")
        for mapping in mappings or [None]:
            entry = {"PrivatePort": int(number), "Type": kind}
            if mapping:
                entry |= {"IP": mapping["HostIp"], "PublicPort": int(mapping["HostPort"])}
            found.append(entry)
    return found


def mounts(record: ContainerRecord) -> list[dict]:
    """Mounts as list and inspect show them."""
    return [point.inspect() for point in ContainerService.mount_points(record)]
