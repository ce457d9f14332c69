"""Network and endpoint records in the metadata database.

A network's spec is what `docker network create` asked for plus what was decided
(subnet, gateway, bridge name); an endpoint joins one container to one network and
holds its address while the container runs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from dockyard.errors import Conflict
from dockyard.metadata.db import Database


@dataclass
class NetworkRecord:
    id: str
    name: str
    created: str
    spec: dict  # Driver, Scope, Internal, Attachable, EnableIPv6, Labels, Options, IPAM, Bridge, Mtu


@dataclass
class EndpointRecord:
    id: str
    network_id: str
    container_id: str
    config: dict = field(default_factory=dict)  # the EndpointSettings the client sent
    address: str = ""
    address6: str = ""
    ports: dict = field(default_factory=dict)  # NetworkSettings.Ports published through it while it runs


class NetworkTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: NetworkRecord) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO networks (id, name, created, spec) VALUES (?, ?, ?, ?)",
                    (record.id, record.name, record.created, json.dumps(record.spec)),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"network with name {record.name} already exists") from None

    def _select(self, where: str = "", parameters: tuple = ()) -> list[NetworkRecord]:
        rows = self.db.query(f"SELECT id, name, created, spec FROM networks {where} ORDER BY created", parameters)
        return [NetworkRecord(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def get(self, network_id: str) -> NetworkRecord | None:
        found = self._select("WHERE id = ?", (network_id,))
        return found[0] if found else None

    def by_name(self, name: str) -> NetworkRecord | None:
        found = self._select("WHERE name = ?", (name,))
        return found[0] if found else None

    def with_prefix(self, prefix: str) -> list[NetworkRecord]:
        return self._select("WHERE substr(id, 1, ?) = ?", (len(prefix), prefix))

    def all(self) -> list[NetworkRecord]:
        return self._select()

    def rows(self) -> list[tuple]:
        """Every network's row as stored, id first: what a cache of views over them compares."""
        return [tuple(row) for row in self.db.query("SELECT id, name, created, spec FROM networks")]

    def set_spec(self, network_id: str, spec: dict) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE networks SET spec = ? WHERE id = ?", (json.dumps(spec), network_id))

    def delete(self, network_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))


_ENDPOINT_COLUMNS = "id, network_id, container_id, config, address, address6, ports"


def _endpoint(row: sqlite3.Row) -> EndpointRecord:
    return EndpointRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], json.loads(row[6]))


class EndpointTable:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: EndpointRecord) -> None:
        try:
            with self.db.transaction() as conn:
                row = (record.id, record.network_id, record.container_id, json.dumps(record.config), record.address,
                       record.address6)  # fmt: skip
                conn.execute(
                    f"INSERT INTO endpoints ({_ENDPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*row, json.dumps(record.ports)),
                )
        except sqlite3.IntegrityError:
            raise Conflict("endpoint already exists in network") from None

    def _select(self, where: str, parameters: tuple) -> list[EndpointRecord]:
        rows = self.db.query(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints {where} ORDER BY rowid", parameters)
        return [_endpoint(row) for row in rows]

    def of_container(self, container_id: str) -> list[EndpointRecord]:
        return self._select("WHERE container_id = ?", (container_id,))

    def of_network(self, network_id: str) -> list[EndpointRecord]:
        return self._select("WHERE network_id = ?", (network_id,))

    def all(self) -> list[EndpointRecord]:
        return self._select("", ())

    def rows(self) -> list[tuple]:
        """Every endpoint's row as stored (_ENDPOINT_COLUMNS), in of_container's order."""
        return [tuple(row) for row in self.db.query(f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints ORDER BY rowid")]

    def set_address(self, endpoint_id: str, address: str, address6: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE endpoints SET address = ?, address6 = ? WHERE id = ?", (address, address6, endpoint_id)
            )

    def set_ports(self, endpoint_id: str, ports: dict) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE endpoints SET ports = ? WHERE id = ?", (json.dumps(ports), endpoint_id))

    def delete(self, endpoint_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    def delete_container(self, container_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
