"""Containers' network sandboxes: the namespace, its endpoints, /etc/hosts and resolv.conf, inspect's NetworkSettings.

    create   NetworkMode and NetworkingConfig checked, endpoints recorded (no kernel work)
    start    setup(): netns handle <exec root>/netns/dy-<id>; per endpoint an address, a veth
             into the network's bridge (eth0, eth1...), the default route via the first
             non-internal one, published ports (-p, -P) DNATed to that first endpoint's
             address; then hosts and resolv.conf for the container's files
    connect  the same for one more endpoint, on a running container at once
    exit     teardown(): ports unpublished, veths deleted, addresses released, the handle unmounted and removed
    rm       the endpoints deleted

Network modes: default/bridge (the default bridge network), a user network by name
or ID, host (no namespace of its own), none (lo only), container:<name|id> (the
other container's namespace and files). The daemon's reconcile() at start removes
what the store no longer explains: handles of containers that do not run, veths
and bridges this daemon made for endpoints and networks that are gone.

on_endpoint_up / on_endpoint_down: called with (container record, network record,
endpoint record) after an endpoint gets its address and before it loses it, for the
embedded DNS server and published ports; on_endpoint_up also for every live endpoint
when a restarted daemon reconciles (so the hooks must be idempotent).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from dockyard.core.network import Attachment
from dockyard.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from dockyard.kernel import netns
from dockyard.metadata.containers import ContainerRecord
from dockyard.metadata.networks import EndpointRecord, NetworkRecord
from dockyard.network import bridge, etc_files, interfaces, ipam, links, ports, resolvconf
from dockyard.network.nftables import Firewall
from dockyard.runtime.namespace_modes import CONTAINER, HOST, NONE  # NetworkMode's share the names
from dockyard.services.container_defaults import ContainerDefaults
from dockyard.services.networks import BIND_IP_OPTION, LINK_DRIVERS, PREDEFINED, NetworkService

log = logging.getLogger(__name__)
EndpointHook = Callable[[ContainerRecord, NetworkRecord, EndpointRecord], None]


@dataclass(frozen=True)
class Sandbox:
    """What a starting container's spec and files need from its network."""

    netns_path: str | None  # the namespace to join; None for the host's
    hostname: str
    hosts: str
    resolv_conf: str
    env: list[str] = field(default_factory=list)  # what legacy links add to the container's environment


def network_mode(host_config: dict) -> str:
    mode = host_config.get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


@dataclass
class SandboxService:
    networks: NetworkService
    firewall: Firewall
    exec_root: str
    container: Callable[[str], ContainerRecord]  # by name or id; NotFound if none
    containers: Callable[[], list[ContainerRecord]]  # all of them
    image_config: Callable[[ContainerRecord], dict]  # a container's image's config (legacy links read it)
    files_dir: Callable[[str], str]  # a container's directory of hostname, hosts, resolv.conf
    resolv_conf_path: str = "/etc/resolv.conf"
    defaults: ContainerDefaults = field(default_factory=ContainerDefaults)  # the daemon's dns, dns-search and dns-opts
    on_endpoint_up: list[EndpointHook] = field(default_factory=list)
    on_endpoint_down: list[EndpointHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.netns_dir = os.path.join(self.exec_root, "netns")
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.netns_dir, f"dy-{container_id}")

    # -- create and remove ------------------------------------------------------------------

    def plan(self, config: dict, host_config: dict, networking_config: dict | None) -> list[tuple[NetworkRecord, dict]]:
        """Check a create request's networking; the networks to join with their EndpointSettings."""
        # Bad port specifications are refused now rather than at the start.
        bindings, publish_all = host_config.get("PortBindings"), bool(host_config.get("PublishAllPorts"))
        ports.port_requests(bindings, config.get("ExposedPorts") or {}, publish_all)
        for link in host_config.get("Links") or []:  # docker refuses a link to a container that does not exist
            target, _ = links.parse_link(link)
            try:
                self.container(target)
            except NotFound:
                raise InvalidParameter(f"could not get container for {target}") from None
        mode = network_mode(host_config)
        wanted = dict((networking_config or {}).get("EndpointsConfig") or {})
        if mode.startswith(CONTAINER):
            self.container(mode.removeprefix(CONTAINER))
            if wanted:
                raise InvalidParameter("conflicting options: container type network can't be used with other networks")
            return []
        primary = self.networks.get(mode)
        # The CLI names the primary network as --network gave it ("default" when none was given).
        given = [wanted.pop(key) for key in {mode, primary.name, primary.id, "default"} if key in wanted]
        primary_settings = dict(next((entry for entry in given if entry), {}))
        if config.get("MacAddress") and not primary_settings.get("MacAddress"):
            # Before API 1.44 the MAC address was the container's, not an endpoint's.
            primary_settings["MacAddress"] = config["MacAddress"]
        joins = [(primary, primary_settings)]
        if primary.name in (HOST, NONE) and wanted:
            raise InvalidParameter("conflicting options: cannot attach both user-defined and non-user-defined "
                                   "network-modes")  # fmt: skip
        joins += [(self.networks.get(name), settings or {}) for name, settings in wanted.items()]
        for network, settings in joins:
            self._check_settings(network, settings)
        return joins

    def _check_settings(self, network: NetworkRecord, settings: dict) -> None:
        user_defined = network.name not in PREDEFINED
        if settings.get("Aliases") and not user_defined:
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        static = (settings.get("IPAMConfig") or {}).get("IPv4Address")
        static6 = (settings.get("IPAMConfig") or {}).get("IPv6Address")
        if (static or static6) and not user_defined:
            raise InvalidParameter("user specified IP address is supported on user defined networks only")

    def add_endpoints(self, container_id: str, name: str, joins: list[tuple[NetworkRecord, dict]]) -> None:
        for network, settings in joins:
            self.networks.add_endpoint(network, container_id, name, settings)

    def remove_container(self, container_id: str) -> None:
        self.teardown(container_id)
        self.networks.endpoints.delete_container(container_id)

    # -- start and stop -----------------------------------------------------------------------

    def setup(self, record: ContainerRecord, exposed_ports: list[str]) -> Sandbox:
        """The container's namespace, endpoints and published ports (exposed_ports: the image's and its own)."""
        mode = network_mode(record.host_config)
        hostname = record.config.get("Hostname") or record.id[:12]
        if mode.startswith(CONTAINER):
            return self._shared(mode.removeprefix(CONTAINER))
        if mode == HOST:
            name = record.config.get("Hostname") or socket.gethostname()
            return Sandbox(None, name, _read("/etc/hosts"), self.container_dns(record).resolv_conf)
        path = self.netns_path(record.id)
        netns.remove(path)  # what a run that died with the host may have left
        netns.create(path)
        try:
            endpoints = self._link_endpoints(record.id)
            if not endpoints:  # attaching an endpoint brings lo up too
                interfaces.bring_up_loopback(path)
            for index, (network, endpoint) in enumerate(endpoints):
                self._plug(record, network, endpoint, f"eth{index}", default_route=index == 0)
            if endpoints:
                self._publish(record, endpoints[0], exposed_ports)
            resolv = self.container_dns(record).resolv_conf
            return Sandbox(path, hostname, self._hosts(record, hostname), resolv, self._link_environment(record))
        except BaseException:
            self.teardown(record.id)
            raise

    def _shared(self, other_name: str) -> Sandbox:
        other = self.container(other_name)
        if not other.state.get("Running"):
            raise Conflict(f"cannot join network namespace of a non running container: {other.id}")
        files = self.files_dir(other.id)
        return Sandbox(
            self._namespace_of(other),
            _read(os.path.join(files, "hostname")).strip(),
            _read(os.path.join(files, "hosts")),
            _read(os.path.join(files, "resolv.conf")),
        )

    def _namespace_of(self, record: ContainerRecord) -> str | None:
        mode = network_mode(record.host_config)
        if mode.startswith(CONTAINER):
            return self._namespace_of(self.container(mode.removeprefix(CONTAINER)))
        return None if mode == HOST else self.netns_path(record.id)

    def _link_endpoints(self, container_id: str) -> list[tuple[NetworkRecord, EndpointRecord]]:
        found = []
        for endpoint in self.networks.endpoints.of_container(container_id):
            network = self.networks.networks.get(endpoint.network_id)
            if network is not None and network.spec["Driver"] in LINK_DRIVERS:
                found.append((network, endpoint))
        return found

    def _plug(self, record: ContainerRecord, network: NetworkRecord, endpoint: EndpointRecord, ifname: str, *,
              default_route: bool) -> None:  # fmt: skip
        """Give the endpoint its addresses and its veth."""
        cidr, cidr6 = self.networks.allocate(network, endpoint)
        address = ipaddress.ip_interface(cidr).ip
        space6 = self.networks.address_space6(network)
        try:
            links = self.networks.links(network)
            self.networks.drivers[links.driver].attach(
                links,
                self.netns_path(record.id),
                Attachment(
                    endpoint_id=endpoint.id, ifname=ifname, address=cidr,
                    gateway=str(self.networks.address_space(network).gateway),
                    mac=endpoint.config.get("MacAddress") or ipam.mac_address(address), mtu=network.spec["Mtu"],
                    default_route=default_route and not network.spec.get("Internal"),
                    address6=cidr6, gateway6=str(space6.gateway) if space6 else "",
                ),
            )  # fmt: skip
        except BaseException:
            self.networks.release(endpoint)
            raise
        endpoint.address, endpoint.address6 = str(address), str(ipaddress.ip_interface(cidr6).ip) if cidr6 else ""
        self.networks.event(network, "connect", record.id)
        self._call(self.on_endpoint_up, record, network, endpoint)

    def _publish(
        self, record: ContainerRecord, primary: tuple[NetworkRecord, EndpointRecord], exposed: list[str]
    ) -> None:
        """-p and -P on the address of the endpoint with the default route; as docker, none on an internal
        network, nor on a macvlan or ipvlan one (its addresses are reachable as they are)."""
        network, endpoint = primary
        hc = record.host_config
        requests = ports.port_requests(hc.get("PortBindings"), exposed, bool(hc.get("PublishAllPorts")))
        # The network's host_binding_ipv4 (the default bridge's is the daemon's --ip) for those without HostIp;
        # docker's default 0.0.0.0 means every address of both families.
        bind_ip = (network.spec.get("Options") or {}).get(BIND_IP_OPTION, ports.ANY_V4)
        if bind_ip != ports.ANY_V4:
            requests = [replace(r, host_ip=bind_ip) if not r.host_ip else r for r in requests]
        mappings = []
        if network.spec["Driver"] == "bridge" and not network.spec.get("Internal"):
            mappings = self.firewall.publish(record.id, endpoint.address, requests, endpoint.address6 or None)
        endpoint.ports = ports.api_ports(mappings, exposed)
        self.networks.endpoints.set_ports(endpoint.id, endpoint.ports)

    def _unplug(self, container_id: str, network: NetworkRecord, endpoint: EndpointRecord, *, detach: bool) -> None:
        with contextlib.suppress(NotFound):
            self._call(self.on_endpoint_down, self.container(container_id), network, endpoint)
        if detach:
            self._detach(network, endpoint)
        self.networks.release(endpoint)
        self.networks.event(network, "disconnect", container_id)

    def _detach(self, network: NetworkRecord, endpoint: EndpointRecord) -> None:
        links = self.networks.links(network)
        self.networks.drivers[links.driver].detach(links, self.netns_path(endpoint.container_id), endpoint.id)

    def teardown(self, container_id: str) -> None:
        """Undo setup (what of it was done): idempotent.

        The interfaces go with the namespace: the kernel deletes them in the background once
        the handle is dropped (deleting a veth pair ourselves costs a stopping container ~20 ms).
        Only when other containers share the namespace (container:<id>) and keep it alive are
        they deleted here, so the released addresses are really free."""
        self.firewall.unpublish(container_id)
        shared = any(self._joins(r, container_id) for r in self.containers() if r.state.get("Running"))
        for network, endpoint in self._link_endpoints(container_id):
            if endpoint.ports:
                self.networks.endpoints.set_ports(endpoint.id, {})
            if endpoint.address:
                self._unplug(container_id, network, endpoint, detach=shared)
        netns.remove(self.netns_path(container_id))

    def _joins(self, record: ContainerRecord, container_id: str) -> bool:
        """Whether record runs in container_id's namespace (--network container:<name or id>)."""
        mode = network_mode(record.host_config)
        if not mode.startswith(CONTAINER):
            return False
        try:
            return self.container(mode.removeprefix(CONTAINER)).id == container_id
        except NotFound:
            return False

    def _hosts(self, record: ContainerRecord, hostname: str) -> str:
        """/etc/hosts: localhost, --add-host entries, and the container's name on each of its addresses."""
        addresses = [a for _, e in self._link_endpoints(record.id) for a in (e.address, e.address6) if a]
        default = self.networks.get("bridge")
        gateway = str(self.networks.address_space(default).gateway)
        extra = [etc_files.parse_extra_host(e, gateway) for e in record.host_config.get("ExtraHosts") or []]
        extra += self._linked_hosts(record)
        return etc_files.hosts(hostname, record.config.get("Domainname") or "", addresses, extra)

    def _link_environment(self, record: ContainerRecord) -> list[str]:
        """ALIAS_NAME, ALIAS_PORT..., ALIAS_ENV_... of each legacy link to a running container on the default
        bridge (dockyard.network.links)."""
        env: list[str] = []
        for alias, target, address in self._reachable_links(record):
            image = self.image_config(target)
            exposed = [*(image.get("ExposedPorts") or {}), *(target.config.get("ExposedPorts") or {})]
            target_env = [*(image.get("Env") or []), *(target.config.get("Env") or [])]
            env += links.environment(alias, record.name, address, exposed, target_env)
        return env

    def _linked_hosts(self, record: ContainerRecord) -> list[tuple[str, str]]:
        """Legacy --link on the default bridge: "alias name id" on the linked container's address there, as
        docker writes them (on user networks the embedded DNS answers links instead)."""
        return [(f"{alias} {target.name} {target.id[:12]}", address)
                for alias, target, address in self._reachable_links(record)]  # fmt: skip

    def _reachable_links(self, record: ContainerRecord) -> Iterator[tuple[str, ContainerRecord, str]]:
        """(alias, target, its address) of each legacy link whose target runs on the default bridge."""
        for link in record.host_config.get("Links") or []:
            target_name, alias = links.parse_link(link)
            with contextlib.suppress(NotFound):
                target = self.container(target_name)
                address = self._default_bridge_address(target)
                if address:
                    yield alias, target, address

    def _default_bridge_address(self, record: ContainerRecord) -> str:
        default = self.networks.get("bridge")
        found = [e.address for e in self.networks.endpoints.of_container(record.id) if e.network_id == default.id]
        return found[0] if found and record.state.get("Running") else ""

    def container_dns(self, record: ContainerRecord) -> resolvconf.ContainerDns:
        """The container's resolv.conf and where its embedded DNS server forwards (nowhere if it is only on
        internal networks: docker's SERVFAIL for outside names)."""
        host = resolvconf.ResolvConf.parse(_read(self.resolv_conf_path))
        networks = [n for n, _ in self._link_endpoints(record.id)]
        hc = record.host_config
        dns = resolvconf.container_dns(
            host, embedded=any(n.spec.get("DNS") for n in networks), host_network=network_mode(hc) == HOST,
            dns=hc.get("Dns") or self.defaults.dns, dns_search=hc.get("DnsSearch") or self.defaults.dns_search,
            dns_options=hc.get("DnsOptions") or self.defaults.dns_options,
            ipv6=any(n.spec.get("EnableIPv6") for n in networks),
        )  # fmt: skip
        if networks and all(n.spec.get("Internal") for n in networks):
            return resolvconf.ContainerDns(dns.resolv_conf)
        return dns

    # -- connect and disconnect ---------------------------------------------------------------

    def connect(self, network_name: str, container_name: str, settings: dict) -> None:
        """docker network connect: on a running container the endpoint comes up at once."""
        network = self.networks.get(network_name)
        record = self.container(container_name)
        mode = network_mode(record.host_config)
        if HOST in (network.name, mode):
            raise PermissionDenied("container cannot be disconnected from host network or connected to host network")
        if network.name == NONE or mode == NONE or mode.startswith(CONTAINER):
            raise PermissionDenied(
                "container sharing network namespace with another container or host cannot be connected to any "
                "other network"
            )
        self._check_settings(network, settings)
        endpoint = self.networks.add_endpoint(network, record.id, record.name, settings)
        if not record.state.get("Running"):
            return
        try:
            used = [e for _, e in self._link_endpoints(record.id) if e.address]
            self._plug(record, network, endpoint, _free_ifname(self.netns_path(record.id), len(used)),
                       default_route=not used)  # fmt: skip
        except BaseException:
            self.networks.endpoints.delete(endpoint.id)
            raise
        self._rewrite_files(record)

    def disconnect(self, network_name: str, container_name: str, *, force: bool = False) -> None:
        network = self.networks.get(network_name)
        try:
            record = self.container(container_name)
        except NotFound:
            if not force:
                raise
            stale = [e for e in self.networks.endpoints.of_network(network.id) if e.container_id == container_name]
            for endpoint in stale:
                self.networks.endpoints.delete(endpoint.id)
            return
        if network.name == HOST:
            raise PermissionDenied("container cannot be disconnected from host network or connected to host network")
        endpoint = next((e for e in self.networks.endpoints.of_container(record.id) if e.network_id == network.id),
                        None)  # fmt: skip
        if endpoint is None:
            raise PermissionDenied(f"container {record.id} is not connected to network {network.name}")
        if endpoint.address:
            self._unplug(record.id, network, endpoint, detach=True)
        self.networks.endpoints.delete(endpoint.id)
        if record.state.get("Running"):
            self._rewrite_files(record)

    def _rewrite_files(self, record: ContainerRecord) -> None:
        """hosts and resolv.conf of a running container after connect or disconnect, as docker updates them.

        Written in place: the container sees them through bind mounts of these very files (inodes)."""
        files = self.files_dir(record.id)
        hostname = _read(os.path.join(files, "hostname")).strip() or record.id[:12]
        for name, text in (("hosts", self._hosts(record, hostname)),
                           ("resolv.conf", self.container_dns(record).resolv_conf)):  # fmt: skip
            with open(os.path.join(files, name), "w") as f:
                f.write(text)

    def renamed(self, container_id: str) -> None:
        """docker rename: the embedded DNS answers the new name (the hooks see the endpoints again)."""
        record = self.container(container_id)
        if record.state.get("Running"):
            for network, endpoint in self._link_endpoints(container_id):
                if endpoint.address:
                    self._call(self.on_endpoint_up, record, network, endpoint)

    # -- what clients see ----------------------------------------------------------------------

    def settings(self, record: ContainerRecord) -> dict:
        """Container inspect's NetworkSettings, shaped as docker shapes it."""
        running = bool(record.state.get("Running"))
        path = self._namespace_of(record) if running and not network_mode(record.host_config).startswith(
            CONTAINER) else None  # fmt: skip
        networks = {}
        published: dict = {}
        legacy = {"EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                  "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": ""}  # fmt: skip
        for endpoint in self.networks.endpoints.of_container(record.id):
            network = self.networks.networks.get(endpoint.network_id)
            if network is None:
                continue
            entry = self.endpoint_settings(record, network, endpoint)
            networks[network.name] = entry
            if running:
                published |= endpoint.ports
            if network.name == "bridge":
                legacy = {key: entry[key] for key in legacy}
        return {
            "Bridge": "", "SandboxID": record.id if path else "", "SandboxKey": path or "",
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": published, "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            **legacy, "Networks": networks,
        }  # fmt: skip

    def endpoint_settings(self, record: ContainerRecord, network: NetworkRecord, endpoint: EndpointRecord) -> dict:
        up = bool(endpoint.address) and bool(record.state.get("Running"))
        asked = endpoint.config
        entry = {
            "IPAMConfig": asked.get("IPAMConfig") or None, "Links": asked.get("Links") or None,
            "Aliases": asked.get("Aliases") or None, "MacAddress": asked.get("MacAddress") or "",
            "DriverOpts": asked.get("DriverOpts") or None,
            "GwPriority": asked.get("GwPriority") or 0, "NetworkID": network.id, "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": None,
        }  # fmt: skip
        if up:
            space = self.networks.address_space(network)
            address = ipaddress.ip_address(endpoint.address)
            entry |= {
                "EndpointID": endpoint.id, "Gateway": str(space.gateway), "IPAddress": endpoint.address,
                "IPPrefixLen": space.subnet.prefixlen,
                "MacAddress": asked.get("MacAddress") or ipam.mac_address(address),
            }  # fmt: skip
            space6 = self.networks.address_space6(network)
            if space6 and endpoint.address6:
                entry |= {"IPv6Gateway": str(space6.gateway), "GlobalIPv6Address": endpoint.address6,
                          "GlobalIPv6PrefixLen": space6.subnet.prefixlen}  # fmt: skip
        if network.spec.get("DNS"):
            entry["DNSNames"] = self.dns_names(record, endpoint)
        return entry

    @staticmethod
    def dns_names(record: ContainerRecord, endpoint: EndpointRecord) -> list[str]:
        """The names the embedded DNS answers for this endpoint: name, aliases, short ID (docker 25+)."""
        names = [record.name, *(endpoint.config.get("Aliases") or [])]
        if record.id[:12] not in names:
            names.append(record.id[:12])
        return list(dict.fromkeys(names))

    def network_containers(self, network: NetworkRecord) -> dict:
        """network inspect's Containers: the running containers with an endpoint on it."""
        found = {}
        for endpoint in self.networks.endpoints.of_network(network.id):
            try:
                record = self.container(endpoint.container_id)
            except NotFound:
                continue
            if not record.state.get("Running") or (network.spec["Driver"] in LINK_DRIVERS and not endpoint.address):
                continue
            entry = self.endpoint_settings(record, network, endpoint)
            prefix = f"/{entry['IPPrefixLen']}" if entry["IPAddress"] else ""
            ipv6 = f"{entry['GlobalIPv6Address']}/{entry['GlobalIPv6PrefixLen']}" if entry["GlobalIPv6Address"] else ""
            found[record.id] = {"Name": record.name, "EndpointID": endpoint.id, "MacAddress": entry["MacAddress"],
                                "IPv4Address": entry["IPAddress"] + prefix, "IPv6Address": ipv6}  # fmt: skip
        return found

    # -- after a daemon restart ------------------------------------------------------------------

    def reconcile(self, running: Callable[[str], bool]) -> None:
        """Drop what no running container explains: addresses, namespace handles, this daemon's links."""
        networks = {r.id: r for r in self.networks.list() if r.spec["Driver"] in LINK_DRIVERS}
        live = {e.container_id for e in self.networks.endpoints.all() if e.address and running(e.container_id)}
        self.firewall.reconcile([i for i, r in networks.items() if r.spec["Driver"] == "bridge"], live)
        wanted_links = {self.networks.links(r).device for r in networks.values()}
        for endpoint in self.networks.endpoints.all():
            if endpoint.address and not running(endpoint.container_id):
                self._detach(networks[endpoint.network_id], endpoint)
                self.networks.release(endpoint)
            elif endpoint.address:
                wanted_links.add(bridge.host_end(endpoint.id))
                self._restore_endpoint(endpoint)
        for name in os.listdir(self.netns_dir):
            if not (name.startswith("dy-") and running(name.removeprefix("dy-"))):
                netns.remove(os.path.join(self.netns_dir, name))
        for name in interfaces.owned_links(self.networks.config.owner):
            if name not in wanted_links:
                log.info("reconcile: removing stale link %s", name)
                interfaces.delete_link(name)

    def _restore_endpoint(self, endpoint: EndpointRecord) -> None:
        """A live endpoint after a restart: its host ports held again, and the hooks rebuild what lived in the
        old daemon."""
        if endpoint.ports:
            mappings = ports.mappings_from_api(endpoint.ports)
            self.firewall.restore(endpoint.container_id, endpoint.address, mappings, endpoint.address6 or None)
        network = self.networks.networks.get(endpoint.network_id)
        if network is not None:
            self._call(self.on_endpoint_up, self.container(endpoint.container_id), network, endpoint)

    @staticmethod
    def _call(hooks: list[EndpointHook], *args) -> None:
        for hook in hooks:
            hook(*args)


def _free_ifname(path: str, start: int) -> str:
    """The first ethN not in the namespace (an earlier disconnect may have left a gap)."""
    from dockyard.network.netlink import IPRoute

    def names() -> set[str]:
        with IPRoute() as ipr:
            return {link.get("IFLA_IFNAME") for link in ipr.get_links()}

    taken = netns.run_in_netns(path, names)
    index = start
    while f"eth{index}" in taken:
        index += 1
    return f"eth{index}"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
