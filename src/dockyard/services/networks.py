"""The network service: docker's networks (create, list, inspect, remove, prune, connect, disconnect).

    networks   bridge (the default, its own bridge name, no name resolution), host, none (predefined),
               and user-defined networks with embedded DNS: bridge (a bridge dy-<12 hex>), macvlan and
               ipvlan (sub-interfaces of a parent); each driver behind dockyard.core.network's contract
    endpoints  one per (network, container), made at create or connect; the address is
               allocated when the container starts and released when it stops

What happens in the kernel when a container starts and stops is the sandbox
service's (dockyard.services.sandboxes); this one keeps the records, the networks'
links (through their drivers) and each bridge network's rules in Dockyard's
nftables table (egress NAT, isolation, internal networks: dockyard.network.nftables).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard import timestamps, units
from dockyard.core.network import NetworkDriver, NetworkLinks
from dockyard.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from dockyard.metadata.db import Database
from dockyard.metadata.networks import EndpointRecord, EndpointTable, NetworkRecord, NetworkTable
from dockyard.network import interfaces, ipam, macvlan, ports
from dockyard.network.bridge import BridgeDriver
from dockyard.network.nftables import Firewall, NetworkRules
from dockyard.services.events import EventBus

log = logging.getLogger(__name__)
PREDEFINED = ("bridge", "host", "none")
LINK_DRIVERS = ("bridge", "macvlan", "ipvlan")  # the drivers whose endpoints are interfaces in the container
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
BIND_IP_OPTION = "com.docker.network.bridge.host_binding_ipv4"  # published ports without HostIp go there
ICC_OPTION = "com.docker.network.bridge.enable_icc"  # false: no traffic between the network's containers
_KNOWN_OPTIONS = frozenset(
    {BRIDGE_NAME_OPTION, MTU_OPTION, "com.docker.network.bridge.enable_ip_masquerade",
     ICC_OPTION, BIND_IP_OPTION,
     "com.docker.network.bridge.default_bridge"}
)  # fmt: skip


@dataclass
class NetworkConfig:
    """The daemon's networking settings (dockerd's --bridge, --bip, --mtu, default-address-pools)."""

    bridge: str = "dockyard0"
    bip: str = ""  # the default bridge's gateway with its prefix, e.g. 172.30.0.1/16
    mtu: int = 1500
    pools: tuple[ipam.Pool, ...] = ipam.DEFAULT_POOLS
    fixed_cidr_v6: str = ""  # the default bridge's IPv6 subnet (dockerd's --ipv6 --fixed-cidr-v6), "" for none
    default_bind_ip: str = "0.0.0.0"  # dockerd's --ip: where the default bridge publishes ports without HostIp
    icc: bool = True  # dockerd's --icc: traffic between the default bridge's containers
    # The owner tag on the links this daemon makes, so reconciliation never touches another daemon's.
    owner: str = "dockyard"


@dataclass
class NetworkService:
    db: Database
    config: NetworkConfig
    firewall: Firewall
    events: EventBus = field(default_factory=EventBus)
    networks: NetworkTable = field(init=False)
    endpoints: EndpointTable = field(init=False)
    lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    drivers: dict[str, NetworkDriver] = field(init=False, default_factory=lambda: {
        "bridge": BridgeDriver(), "macvlan": macvlan.SubInterfaceDriver("macvlan"),
        "ipvlan": macvlan.SubInterfaceDriver("ipvlan"),
    })  # fmt: skip

    def __post_init__(self) -> None:
        self.networks = NetworkTable(self.db)
        self.endpoints = EndpointTable(self.db)

    # -- finding --------------------------------------------------------------------------

    def get(self, name_or_id: str) -> NetworkRecord:
        """By full ID, exact name, or unique ID prefix, as docker resolves networks."""
        record = self.networks.get(name_or_id) or self.networks.by_name(name_or_id)
        if record is None and name_or_id and not name_or_id.strip("0123456789abcdef"):
            found = self.networks.with_prefix(name_or_id)
            if len(found) > 1:
                raise InvalidParameter(
                    f"network {name_or_id} is ambiguous ({len(found)} matches found based on ID prefix)"
                )
            record = found[0] if found else None
        if record is None:
            raise NotFound(f"network {name_or_id} not found")
        return record

    def list(self) -> list[NetworkRecord]:
        return self.networks.all()

    # -- start-up ---------------------------------------------------------------------------

    def ensure_predefined(self) -> None:
        """bridge, host and none exist, and every bridge network's bridge and rules are up (after a reboot too)."""
        self.firewall.setup()
        for name, driver in (("host", "host"), ("none", "null")):
            if self.networks.by_name(name) is None:
                self._add(name, {"Driver": driver, "Options": {}, "Labels": {}, "IPAM": {"Driver": "default",
                          "Options": None, "Config": None}})  # fmt: skip
        self._ensure_default_bridge()
        for record in self.networks.all():
            if record.spec["Driver"] in LINK_DRIVERS:
                self._bring_up(record)

    def _ensure_default_bridge(self) -> None:
        """The default network as --bridge, --bip and --fixed-cidr-v6 say; a daemon started with other values
        changes it in place (its id and its containers' endpoints stay) unless a container runs on it."""
        default = self.networks.by_name("bridge")
        followed = self._default_options()
        if default is not None and any(default.spec["Options"].get(k) != v for k, v in followed.items()):
            # --ip and --icc follow the daemon's start, whatever runs on the network.
            self.networks.set_spec(default.id, {**default.spec, "Options": {**default.spec["Options"], **followed}})
            default = self.networks.by_name("bridge")
        wanted_subnet = str(ipaddress.ip_interface(self.config.bip).network) if self.config.bip else None
        wanted6 = (
            str(ipam.parse_network(self.config.fixed_cidr_v6, "fixed-cidr-v6")) if self.config.fixed_cidr_v6 else ""
        )
        if default is not None:
            config = default.spec["IPAM"]["Config"][0]
            same_bip = wanted_subnet is None or (config["Subnet"], config["Gateway"]) == (
                wanted_subnet, str(ipaddress.ip_interface(self.config.bip).ip))  # fmt: skip
            space6 = self.address_space6(default)
            same6 = (str(space6.subnet) if space6 else "") == wanted6
            if default.spec["Bridge"] == self.config.bridge and same_bip and same6:
                return
            if any(e.address for e in self.endpoints.of_network(default.id)):
                log.warning("the default bridge network keeps bridge %s and subnet %s while containers run on it",
                            default.spec["Bridge"], config["Subnet"])  # fmt: skip
                return
            self.firewall.remove_network(default.id)  # the old bridge goes at the reconcile (an owned link)
        spec = self._default_bridge_spec(exclude={default.spec["Bridge"]} if default else set())
        if default is None:
            self._add("bridge", spec)
        else:
            self.networks.set_spec(default.id, {**default.spec, **spec})

    def _default_options(self) -> dict[str, str]:
        """The default bridge's options that follow the daemon's flags without remaking it."""
        return {ICC_OPTION: str(self.config.icc).lower(), BIND_IP_OPTION: self.config.default_bind_ip}

    def _default_bridge_spec(self, exclude: set[str]) -> dict:
        if self.config.bip:
            interface = ipaddress.ip_interface(self.config.bip)
            subnet, gateway = interface.network, str(interface.ip)
        else:
            used = self._used_subnets(exclude_bridges={self.config.bridge, *exclude}, exclude_network="bridge")
            subnet, gateway = ipam.choose_subnet(self.config.pools, used), ""
        space = ipam.AddressSpace.build(subnet, gateway, user_configured=bool(self.config.bip))
        options = {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            BRIDGE_NAME_OPTION: self.config.bridge, MTU_OPTION: str(self.config.mtu), **self._default_options(),
        }  # fmt: skip
        spec = self._bridge_spec(space, self.config.bridge, options, {}, user_subnet=bool(self.config.bip), dns=False)
        if self.config.fixed_cidr_v6:
            space6 = ipam.AddressSpace.build(ipam.parse_network(self.config.fixed_cidr_v6, "fixed-cidr-v6"),
                                             user_configured=True)  # fmt: skip
            spec["EnableIPv6"], spec["UserSubnet6"] = True, True
            spec["IPAM"]["Config"].append(_ipam_config(space6))
        return spec

    # -- create ------------------------------------------------------------------------------

    def create(self, body: dict) -> tuple[NetworkRecord, str]:
        """docker network create: (the record, a warning or "")."""
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name is required")
        if name in PREDEFINED:
            raise PermissionDenied(f"{name} is a pre-defined network and cannot be created")
        driver = body.get("Driver") or "bridge"
        if driver not in LINK_DRIVERS:
            raise InvalidParameter(f"could not find plugin {driver} in v1 plugin registry: plugin not found")
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        known = _KNOWN_OPTIONS if driver == "bridge" else {"parent", f"{driver}_mode", MTU_OPTION}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InvalidParameter(f"unknown {driver} driver option: {unknown[0]}")
        if ICC_OPTION in options:
            try:
                units.go_bool(options[ICC_OPTION])
            except ValueError as exc:
                raise InvalidParameter(f"failed to parse {ICC_OPTION} value: {options[ICC_OPTION]} ({exc})") from None
        if BIND_IP_OPTION in options:  # normalised: the sandboxes compare it with 0.0.0.0
            given = options[BIND_IP_OPTION]
            try:
                options[BIND_IP_OPTION] = ports.host_ip(given) or ports.ANY_V4
            except InvalidParameter:
                raise InvalidParameter(f"failed to parse {BIND_IP_OPTION} value: {given} (nil ip)") from None
        ipam_body = body.get("IPAM") or {}
        if (ipam_body.get("Driver") or "default") != "default":
            raise InvalidParameter(f"IPAM driver {ipam_body['Driver']!r} is not supported (default is)")
        configs = {4: [], 6: []}
        for config in ipam_body.get("Config") or []:
            if config:
                version = ipam.parse_network(config["Subnet"]).version if config.get("Subnet") else 4
                configs[version].append(config)
        if len(configs[4]) > 1 or len(configs[6]) > 1:
            raise InvalidParameter("only one IPAM config per address family is supported")
        ipv6 = bool(body.get("EnableIPv6"))
        if configs[6] and not ipv6:
            raise InvalidParameter("an IPv6 subnet needs IPv6 enabled on the network (--ipv6)")
        with self.lock:
            if self.networks.by_name(name) is not None:
                raise Conflict(f"network with name {name} already exists")
            network_id = secrets.token_hex(32)
            device = self._device(network_id, driver, options)
            used = self._used_subnets()
            space = self._requested_space(configs[4][0] if configs[4] else {}, used, 4)
            spec = self._bridge_spec(space, device, options, body.get("Labels") or {},
                                     user_subnet=space.user_configured, dns=True)  # fmt: skip
            parent = ""
            if driver != "bridge":
                parent, mode = macvlan.check_options(driver, options)
                spec = {**spec, "Driver": driver, "Bridge": "", "Parent": device, "Mode": mode}
            spec["IPAM"]["Options"] = ipam_body.get("Options") or None
            if ipv6:
                space6 = self._requested_space(configs[6][0] if configs[6] else {}, used, 6)
                spec["EnableIPv6"], spec["UserSubnet6"] = True, space6.user_configured
                spec["IPAM"]["Config"].append(_ipam_config(space6))
            # Without a parent a sub-interface network hangs on a dummy: internal, as docker makes it.
            spec["Internal"] = bool(body.get("Internal")) or (driver != "bridge" and not parent)
            spec["Attachable"] = bool(body.get("Attachable"))
            record = self._add(name, spec, network_id)
            try:
                self._bring_up(record)
            except BaseException:
                self.firewall.remove_network(record.id)
                self.drivers[driver].delete(self.links(record))
                self.networks.delete(record.id)
                raise
        self._event(record, "create")
        return record, ""

    def _device(self, network_id: str, driver: str, options: dict[str, str]) -> str:
        """The new network's bridge, or its parent interface (a dummy of its own if none is given)."""
        if driver == "bridge":
            device = options.get(BRIDGE_NAME_OPTION) or f"dy-{network_id[:12]}"
            if len(device) > 15:
                raise InvalidParameter(f"bridge name {device!r} is longer than 15 characters")
            if any(r.spec.get("Bridge") == device for r in self.networks.all()):
                raise Conflict(f"bridge name {device} is already used by another network")
            return device
        parent, _ = macvlan.check_options(driver, options)
        return parent or macvlan.dummy_parent(network_id)

    def links(self, record: NetworkRecord) -> NetworkLinks:
        """What the network's driver needs of it."""
        space, space6 = self.address_space(record), self.address_space6(record)
        spec = record.spec
        return NetworkLinks(
            id=record.id, driver=spec["Driver"], device=spec.get("Parent") or spec["Bridge"],
            gateway=space.gateway_cidr, gateway6=space6.gateway_cidr if space6 else "", mtu=spec["Mtu"],
            mode=spec.get("Mode", ""), owner=self.config.owner,
        )  # fmt: skip

    def _requested_space(self, config: dict, used: dict, version: int) -> ipam.AddressSpace:
        """A network's subnet as its IPAM config asks (checked against what is in use), or one from the pools."""
        if config.get("Subnet"):
            subnet = ipam.parse_network(config["Subnet"])
            ipam.check_subnet(subnet, used)
        else:
            if config.get("Gateway") or config.get("IPRange"):
                raise InvalidParameter("a gateway or an ip-range needs a subnet")
            subnet = ipam.choose_subnet(self.config.pools, used, version)
        return ipam.AddressSpace.build(subnet, config.get("Gateway", ""), config.get("IPRange", ""),
                                       user_configured=bool(config.get("Subnet")),
                                       auxiliary=config.get("AuxiliaryAddresses") or {})  # fmt: skip

    def _bridge_spec(self, space: ipam.AddressSpace, bridge_name: str, options: dict, labels: dict, *,
                     user_subnet: bool, dns: bool) -> dict:  # fmt: skip
        mtu = int(options.get(MTU_OPTION) or self.config.mtu)
        if not 68 <= mtu <= 65535:
            raise InvalidParameter(f"invalid MTU {mtu}")
        ipam_config = _ipam_config(space)
        return {
            "Driver": "bridge", "Internal": False, "Attachable": False, "EnableIPv6": False,
            "Options": options, "Labels": labels,
            "IPAM": {"Driver": "default", "Options": None, "Config": [ipam_config]},
            "Bridge": bridge_name, "Mtu": mtu, "UserSubnet": user_subnet, "DNS": dns,
        }  # fmt: skip

    def _add(self, name: str, spec: dict, network_id: str | None = None) -> NetworkRecord:
        spec = {"Scope": "local", "Internal": False, "Attachable": False, "EnableIPv6": False, **spec}
        record = NetworkRecord(network_id or secrets.token_hex(32), name, timestamps.now(), spec)
        self.networks.add(record)
        return record

    def _bring_up(self, record: NetworkRecord) -> None:
        links = self.links(record)
        self.drivers[links.driver].create(links)
        if links.driver == "bridge":  # sub-interface networks get no NAT nor isolation, as in docker
            space, space6 = self.address_space(record), self.address_space6(record)
            icc = _icc(record.spec.get("Options") or {})
            self.firewall.add_network(NetworkRules(record.id, links.device, space.subnet,
                                                   internal=record.spec["Internal"],
                                                   subnet6=space6.subnet if space6 else None, icc=icc))  # fmt: skip

    def _space(self, record: NetworkRecord, version: int) -> ipam.AddressSpace | None:
        for config in record.spec["IPAM"]["Config"] or []:
            subnet = ipam.parse_network(config["Subnet"])
            if subnet.version == version:
                user = record.spec["UserSubnet"] if version == 4 else record.spec.get("UserSubnet6", True)
                return ipam.AddressSpace.build(subnet, config["Gateway"], config.get("IPRange", ""),
                                               user_configured=user,
                                               auxiliary=config.get("AuxiliaryAddresses") or {})  # fmt: skip
        return None

    def address_space(self, record: NetworkRecord) -> ipam.AddressSpace:
        """The IPv4 address space of a bridge network."""
        space = self._space(record, 4)
        assert space is not None, "every bridge network has an IPv4 subnet"
        return space

    def address_space6(self, record: NetworkRecord) -> ipam.AddressSpace | None:
        """The IPv6 address space of a network created with --ipv6."""
        return self._space(record, 6) if record.spec.get("EnableIPv6") else None

    def _used_subnets(self, exclude_bridges: set[str] = frozenset(), exclude_network: str = "") -> dict:
        """What a new network's subnet must not overlap: the host's routes and addresses, and our networks."""
        ours = {r.spec["Bridge"] for r in self.networks.all() if r.spec["Driver"] == "bridge"}
        used = interfaces.host_subnets(ignore_links=ours | set(exclude_bridges))
        for record in self.networks.all():
            if record.spec["Driver"] in LINK_DRIVERS and record.name != exclude_network:
                for space in (self.address_space(record), self.address_space6(record)):
                    if space is not None:
                        used[space.subnet] = f"network {record.name}"
        return used

    # -- remove ------------------------------------------------------------------------------

    def remove(self, name_or_id: str) -> None:
        record = self.get(name_or_id)
        if record.name in PREDEFINED:
            raise PermissionDenied(f"{record.name} is a pre-defined network and cannot be removed")
        with self.lock:
            active = self.endpoints.of_network(record.id)
            if active:
                raise PermissionDenied(f"error while removing network: network {record.name} id {record.id} has "
                                       "active endpoints")  # fmt: skip
            self.firewall.remove_network(record.id)
            if record.spec["Driver"] in LINK_DRIVERS:
                self.drivers[record.spec["Driver"]].delete(self.links(record))
            self.networks.delete(record.id)
        self._event(record, "destroy")

    def prune(self, matches: Callable[[NetworkRecord], bool] = lambda record: True) -> list[str]:
        """docker network prune: user-defined networks without endpoints; their names."""
        deleted = []
        for record in self.networks.all():
            if record.name in PREDEFINED or not matches(record) or self.endpoints.of_network(record.id):
                continue
            with contextlib.suppress(NotFound, PermissionDenied):
                self.remove(record.id)
                deleted.append(record.name)
        return deleted

    # -- endpoints ---------------------------------------------------------------------------

    def add_endpoint(self, network: NetworkRecord, container_id: str, name: str, settings: dict) -> EndpointRecord:
        """Join a container (id, name) to a network in the store (the kernel side comes when it runs)."""
        asked = settings.get("IPAMConfig") or {}
        for key, version in (("IPv4Address", 4), ("IPv6Address", 6)):
            if asked.get(key):  # validate it now: in the subnet, which the user configured
                space = self._space(network, version) if version == 4 or network.spec.get("EnableIPv6") else None
                if space is None:
                    raise InvalidParameter(f"network {network.name} has no IPv{version} subnet for {asked[key]}")
                space.allocate(set(), asked[key])
        with self.lock:
            if any(e.container_id == container_id for e in self.endpoints.of_network(network.id)):
                raise PermissionDenied(f"endpoint with name {name} already exists in network {network.name}")
            endpoint = EndpointRecord(secrets.token_hex(32), network.id, container_id, settings)
            self.endpoints.add(endpoint)
        return endpoint

    def allocate(self, network: NetworkRecord, endpoint: EndpointRecord) -> tuple[str, str]:
        """Addresses for the endpoint of a starting container, recorded: ("address/prefix", IPv6 one or "")."""
        space, space6 = self.address_space(network), self.address_space6(network)
        asked = endpoint.config.get("IPAMConfig") or {}
        with self.lock:
            others = self.endpoints.of_network(network.id)
            address = space.allocate({ipaddress.ip_address(e.address) for e in others if e.address},
                                     asked.get("IPv4Address") or "")  # fmt: skip
            address6 = space6.allocate({ipaddress.ip_address(e.address6) for e in others if e.address6},
                                       asked.get("IPv6Address") or "") if space6 else None  # fmt: skip
            self.endpoints.set_address(endpoint.id, str(address), str(address6 or ""))
        cidr6 = f"{address6}/{space6.subnet.prefixlen}" if space6 and address6 else ""
        return f"{address}/{space.subnet.prefixlen}", cidr6

    def release(self, endpoint: EndpointRecord) -> None:
        self.endpoints.set_address(endpoint.id, "", "")

    def _event(self, record: NetworkRecord, action: str, **extra: str) -> None:
        self.events.emit("network", action, record.id, {"name": record.name, "type": record.spec["Driver"], **extra})

    def event(self, record: NetworkRecord, action: str, container_id: str) -> None:
        self._event(record, action, container=container_id)


def _ipam_config(space: ipam.AddressSpace) -> dict:
    config = {"Subnet": str(space.subnet), "Gateway": str(space.gateway)}
    if space.ip_range != space.subnet:
        config["IPRange"] = str(space.ip_range)
    if space.auxiliary:
        config["AuxiliaryAddresses"] = {name: str(address) for name, address in space.auxiliary}
    return config


def _icc(options: dict[str, str]) -> bool:
    """The network's enable_icc. Create checks it; a network stored before it was checked may hold any text,
    which meant on (the default), and must not stop the daemon's start."""
    try:
        return units.go_bool(options.get(ICC_OPTION, "true"))
    except ValueError:
        log.warning(
            "network option %s=%r is not a boolean: inter-container traffic stays on", ICC_OPTION, options[ICC_OPTION]
        )
        return True
