"""The daemon's configuration: dockerd's flags and a daemon.json, flags winning.

Only what the engine uses so far is accepted; an unknown key in daemon.json is
refused by name (as dockerd does), so a typo never silently does nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
from dataclasses import dataclass, field

from dockyard import units
from dockyard.daemon import container_options, listeners
from dockyard.distribution.settings import RegistrySettings
from dockyard.errors import InvalidParameter
from dockyard.logs import options as log_options
from dockyard.network import ports
from dockyard.network.ipam import DEFAULT_POOLS, Pool
from dockyard.runtime import runtimes as runtime_table
from dockyard.services import shutdown
from dockyard.services.container_defaults import ContainerDefaults

DEFAULT_SOCKET = "unix:///run/dockyard/dockyard.sock"


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    data_root: str = "/var/lib/dockyard"
    exec_root: str = "/run/dockyard"
    pidfile: str = ""  # default: <exec root>/dockyard.pid
    log_level: str = "info"
    storage_driver: str = "overlay"
    group: str = "dockyard"  # the socket's group, if such a group exists
    # Networking (dockerd's names): the default bridge network's bridge and gateway/prefix, the MTU,
    # and the pools networks without a subnet are cut from ([{"base": "10.10.0.0/16", "size": 24}]).
    bridge: str = "dockyard0"
    bip: str = ""
    mtu: int = 1500
    ipv6: bool = False  # IPv6 on the default bridge, in fixed_cidr_v6
    fixed_cidr_v6: str = ""
    ip: str = ports.ANY_V4  # the host address of the default bridge's published ports without one
    icc: bool = True  # traffic between the default bridge's containers
    default_address_pools: list[dict] = field(default_factory=list)
    # Published ports the kernel's NAT cannot serve (from [::1], or [::] to an IPv4-only container) go
    # through Dockyard's in-process proxy unless this is off (network/proxy.py); docs/networking.md.
    userland_proxy: bool = True
    userland_proxy_path: str = ""  # dockerd's docker-proxy binary: refused, ours runs in the daemon
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""  # default: <cert path>/ca.pem (dockerd's)
    tlscert: str = ""  # default: <cert path>/cert.pem
    tlskey: str = ""  # default: <cert path>/key.pem
    insecure_tcp: bool = False  # consent to a TCP listener without TLS (dockyard.daemon.listeners)
    # Containers outlive the daemon (their shims hold them) unless this is off: then, as dockerd without
    # --live-restore, a clean shutdown stops them and a start after a crash kills those still running.
    live_restore: bool = True
    # Without live restore, how long a shutdown waits for the containers to stop (dockyard.services.shutdown).
    shutdown_timeout: int = shutdown.DEFAULT_SHUTDOWN_TIMEOUT
    log_driver: str = "json-file"  # for containers whose LogConfig names none
    log_opts: dict[str, str] = field(default_factory=dict)
    # Registries reached over plain HTTP (host[:port] or CIDR) and the mirrors (distribution/settings.py).
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    # Containers' defaults (dockyard.daemon.container_options), checked into container_defaults by load().
    dns: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    default_ulimits: dict[str, dict] = field(default_factory=dict)
    default_shm_size: str | int = ""
    init: bool = False
    init_path: str = ""
    no_new_privileges: bool = False
    seccomp_profile: str = ""
    cgroup_parent: str = ""
    default_cgroupns_mode: str = ""  # dockerd's: private on cgroup v2, else host
    container_defaults: ContainerDefaults = field(default_factory=ContainerDefaults)
    # What docker info reports: Labels, Debug (also the debug log level), ExperimentalBuild.
    labels: list[str] = field(default_factory=list)
    debug: bool = False
    experimental: bool = False
    # OCI runtimes (dockyard.runtime.runtimes): daemon.json's "runtimes" ({name: {path, runtimeArgs}}) and
    # --add-runtime's name=path, the default-runtime, and the table load() makes of them.
    runtimes: dict[str, dict] = field(default_factory=dict)
    add_runtime: list[str] = field(default_factory=list)
    default_runtime: str = ""
    runtime_table: runtime_table.RuntimeTable = field(default_factory=runtime_table.RuntimeTable)

    @property
    def pid_path(self) -> str:
        return self.pidfile or os.path.join(self.exec_root, "dockyard.pid")

    @property
    def firewall_table(self) -> str:
        """The nftables table of this daemon: "dockyard", or one named after a non-default exec root, so that
        two daemons on one host (tests, a second engine) never rewrite or reconcile away each other's rules."""
        if self.exec_root == DaemonConfig.exec_root:
            return "dockyard"
        return f"dockyard-{hashlib.sha256(os.path.abspath(self.exec_root).encode()).hexdigest()[:8]}"

    @property
    def pools(self) -> tuple[Pool, ...]:
        """The pools networks without a subnet are cut from: the configured ones, else dockerd's defaults."""
        return tuple(Pool.parse(entry) for entry in self.default_address_pools) or DEFAULT_POOLS

    @property
    def registries(self) -> RegistrySettings:
        return RegistrySettings.parse(self.insecure_registries, self.registry_mirrors)

    @property
    def listeners(self) -> list[listeners.Listener]:
        return [listeners.parse(host, tls=self.tls_settings.enabled) for host in self.hosts]

    @property
    def tls_settings(self) -> listeners.TlsSettings:
        base = listeners.default_cert_path()
        return listeners.TlsSettings(
            tls=self.tls,
            verify=self.tlsverify,
            ca_cert=self.tlscacert or os.path.join(base, "ca.pem"),
            cert=self.tlscert or os.path.join(base, "cert.pem"),
            key=self.tlskey or os.path.join(base, "key.pem"),
        )


# daemon.json key -> DaemonConfig field
_FILE_KEYS = {
    "hosts": "hosts",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "pidfile": "pidfile",
    "log-level": "log_level",
    "storage-driver": "storage_driver",
    "group": "group",
    "bridge": "bridge",
    "bip": "bip",
    "mtu": "mtu",
    "ipv6": "ipv6",
    "fixed-cidr-v6": "fixed_cidr_v6",
    "ip": "ip",
    "icc": "icc",
    "default-address-pools": "default_address_pools",
    "tls": "tls",
    "tlsverify": "tlsverify",
    "tlscacert": "tlscacert",
    "tlscert": "tlscert",
    "tlskey": "tlskey",
    "insecure-tcp": "insecure_tcp",
    "log-driver": "log_driver",
    "log-opts": "log_opts",
    "live-restore": "live_restore",
    "userland-proxy": "userland_proxy",
    "userland-proxy-path": "userland_proxy_path",  # refused: see load()
    "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors",
    "shutdown-timeout": "shutdown_timeout",
    "labels": "labels",
    "debug": "debug",
    "experimental": "experimental",
    **container_options.FILE_KEYS,
    "runtimes": "runtimes",
    "default-runtime": "default_runtime",
}
# daemon.json directives whose value is a list of strings, or of objects, or a JSON boolean ("false" as a
# string would be true to Python: dockerd's Go decoding refuses it too).
_STRING_LISTS = ("hosts", "insecure-registries", "registry-mirrors")
_OBJECT_LISTS = ("default-address-pools",)
_BOOLEANS = ("ipv6", "tls", "tlsverify", "insecure-tcp", "live-restore", "userland-proxy")
# Flags whose daemon.json directive has another name (dockerd's --add-runtime fills "runtimes").
_FLAG_DIRECTIVES = {"add_runtime": "runtimes"}
_LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyard daemon", description="serve the Docker Engine API")
    p.add_argument(
        "-H", "--host", action="append", dest="hosts", metavar="unix://PATH|tcp://HOST:PORT", help="where to listen"
    )
    p.add_argument("--data-root", help="root of persistent state (default /var/lib/dockyard)")
    p.add_argument("--exec-root", help="root of run-time state: sockets, pid file (default /run/dockyard)")
    p.add_argument("-p", "--pidfile", help="path of the pid file (default <exec-root>/dockyard.pid)")
    p.add_argument("-l", "--log-level", choices=_LOG_LEVELS)
    p.add_argument("-s", "--storage-driver", choices=("overlay", "native"))
    p.add_argument("-G", "--group", help="group owning the unix socket (default dockyard, if it exists)")
    p.add_argument("-b", "--bridge", help="bridge of the default bridge network (default dockyard0)")
    p.add_argument("--bip", help="the default bridge's address with its prefix, e.g. 172.30.0.1/16")
    p.add_argument("--mtu", type=int, help="MTU of the containers' interfaces (default 1500)")
    p.add_argument("--ipv6", action="store_true", default=None, help="IPv6 on the default bridge network")
    p.add_argument("--fixed-cidr-v6", help="the default bridge's IPv6 subnet, e.g. fd00:d0c::/64 (with --ipv6)")
    p.add_argument("--ip", help="host address of the default bridge's published ports (default 0.0.0.0)")
    p.add_argument("--icc", nargs="?", const=True, type=_boolean, metavar="true|false",
                   help="traffic between the default bridge's containers (default true)")  # fmt: skip
    p.add_argument("--tls", action="store_true", default=None, help="serve TCP with TLS (implied by --tlsverify)")
    p.add_argument("--tlsverify", action="store_true", default=None, help="require client certificates")
    p.add_argument("--tlscacert", help="CA that signs the client certificates (default ~/.docker/ca.pem)")
    p.add_argument("--tlscert", help="the server's certificate (default ~/.docker/cert.pem)")
    p.add_argument("--tlskey", help="the server's key (default ~/.docker/key.pem)")
    p.add_argument(
        "--insecure-tcp", action="store_true", default=None, help="allow a TCP listener without TLS (anyone may use it)"
    )
    p.add_argument(
        "--live-restore", nargs="?", const=True, type=_boolean, metavar="true|false",
        help="containers keep running while the daemon is down (default true)",
    )  # fmt: skip
    p.add_argument(
        "--default-address-pool", action="append", dest="default_address_pools", metavar="base=CIDR,size=N",
        help="a pool networks without a subnet are cut from (repeatable; default: dockerd's)",
    )  # fmt: skip
    p.add_argument(
        "--userland-proxy", nargs="?", const=True, type=_boolean, metavar="true|false",
        help="serve the published ports NAT cannot (from [::1], IPv6 to IPv4) in the daemon (default true)",
    )  # fmt: skip
    p.add_argument("--userland-proxy-path", help=argparse.SUPPRESS)  # refused by load(), with the reason
    p.add_argument(
        "--insecure-registry", action="append", dest="insecure_registries", metavar="HOST[:PORT]|CIDR",
        help="a registry reached over plain HTTP (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--registry-mirror", action="append", dest="registry_mirrors", metavar="URL", help="a registry mirror"
    )
    p.add_argument("--shutdown-timeout", type=int, metavar="SECONDS",
                   help="how long a shutdown waits for containers without live restore (default 15)")  # fmt: skip
    p.add_argument("--log-driver", help="containers' default log driver: json-file, local or none")
    p.add_argument("--log-opt", action="append", dest="log_opts", metavar="KEY=VALUE", help="its default options")
    container_options.add_flags(p)
    p.add_argument("--label", action="append", dest="labels", metavar="KEY=VALUE", help="a label of the daemon")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug mode: the debug log level")
    p.add_argument("--experimental", action="store_true", default=None, help="report experimental features on")
    p.add_argument(
        "--add-runtime", action="append", metavar="NAME=PATH", help="an OCI runtime with runc's command line"
    )
    p.add_argument("--default-runtime", help="the runtime of containers that name none (default dockyard)")
    p.add_argument("--config-file", default="/etc/dockyard/daemon.json", help="daemon.json (default %(default)s)")
    return p


def load(argv: list[str]) -> DaemonConfig:
    args = parser().parse_args(argv)
    config = DaemonConfig()
    from_file = _read_file(args.config_file)
    for key, value in from_file.items():
        setattr(config, _FILE_KEYS[key], value)
    if args.log_opts is not None:
        args.log_opts = _key_values(args.log_opts)
    if args.default_address_pools is not None:
        args.default_address_pools = [_pool_flag(text) for text in args.default_address_pools]
    container_options.from_flags(args)
    for flag, key in _FLAG_DIRECTIVES.items():
        value = getattr(args, flag)
        if value is not None:
            if key in from_file:
                _refuse_both(key, value, from_file[key])
            setattr(config, flag, value)
    for key, name in _FILE_KEYS.items():
        value = getattr(args, name, None)  # "runtimes" has no flag of its name: --add-runtime fills it
        if value is None:
            continue
        if key in from_file:
            _refuse_both(key, value, from_file[key])
        setattr(config, name, value)
    if config.ipv6 != bool(config.fixed_cidr_v6):
        raise InvalidParameter("IPv6 on the default bridge needs both --ipv6 and --fixed-cidr-v6")
    try:
        config.ip = ports.host_ip(str(config.ip)) or ports.ANY_V4
    except InvalidParameter:
        raise InvalidParameter(f"invalid ip: IP address is not correctly formatted: {config.ip}") from None
    if not 0 < len(config.bridge) <= 15:
        raise InvalidParameter(f"invalid bridge name {config.bridge!r}: 1 to 15 characters")
    config.tls = config.tls or config.tlsverify
    listeners.check(config.listeners, config.tls_settings, insecure_tcp=config.insecure_tcp)
    try:
        log_options.check_driver(config.log_driver, config.log_opts)
    except InvalidParameter as exc:
        raise InvalidParameter(f"failed to set log opts: {exc}") from None  # dockerd's words at start
    if config.userland_proxy_path:
        raise InvalidParameter(
            "userland-proxy-path is not supported: Dockyard's userland proxy runs inside the daemon, "
            "there is no proxy binary to choose"
        )
    _ = config.pools, config.registries  # parsed now: a bad entry refuses the start, not a later request
    config.container_defaults = container_options.build(
        {key: getattr(config, name) for key, name in container_options.FILE_KEYS.items()}
    )
    _check_labels(config.labels)
    for key in ("debug", "experimental", "icc"):
        if not isinstance(getattr(config, key), bool):
            raise InvalidParameter(f"invalid {key}: expected true or false")
    if not isinstance(config.shutdown_timeout, int) or isinstance(config.shutdown_timeout, bool):
        raise InvalidParameter("invalid shutdown-timeout: expected a number of seconds")
    if config.debug:
        config.log_level = "debug"
    config.runtime_table = runtime_table.configure(config.runtimes, config.add_runtime, config.default_runtime)
    return config


def _check_labels(labels: object) -> None:
    """moby's opts.ValidateLabel and GetConflictFreeLabels: KEY=VALUE, outside docker's namespaces, a key
    given twice only with the same value."""
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise InvalidParameter("invalid labels: expected a list of KEY=VALUE strings")
    seen: dict[str, str] = {}
    for label in labels:
        key, sep, value = label.partition("=")
        if not sep:
            raise InvalidParameter(f"invalid labels: bad attribute format: {label}")
        if label.lower().startswith(("com.docker.", "io.docker.", "org.dockerproject.")):
            raise InvalidParameter(f"invalid labels: label {label} is not allowed: the namespaces com.docker.*, "
                                   "io.docker.*, and org.dockerproject.* are reserved for internal use")  # fmt: skip
        if seen.get(key, value) != value:
            raise InvalidParameter(f"conflict labels for {key}={value} and {key}={seen[key]}")
        seen[key] = value


def _refuse_both(key: str, from_flag: object, from_file: object) -> None:
    # dockerd refuses this for every directive: which of the two was meant is not ours to guess.
    raise InvalidParameter(
        "the following directives are specified both as a flag and in the configuration file: "
        f"{key}: (from flag: {from_flag}, from file: {from_file})"
    )


def _boolean(text: str) -> bool:
    """A Go bool flag's value: --live-restore=false."""
    try:
        return units.go_bool(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}") from None


def _pool_flag(text: str) -> dict:
    """--default-address-pool base=10.10.0.0/16,size=24 as a daemon.json entry (dockerd's PoolsOpt)."""
    entry: dict = {}
    for item in next(csv.reader([text])) if text else []:
        key, sep, value = item.partition("=")
        if not sep:
            problem = f"invalid field '{item}' must be a key=value pair"
        elif key.lower() == "base":
            entry["base"], problem = value, ""
        elif key.lower() != "size":
            problem = f"unexpected key '{key}' in '{item}'"
        elif value.lstrip("+-").isdigit():
            entry["size"], problem = int(value), ""
        else:
            problem = f'invalid size value: "{value}" (must be integer)'
        if problem:
            raise InvalidParameter(f'invalid argument "{text}" for "--default-address-pool" flag: {problem}')
    return entry


def _key_values(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"invalid --log-opt {pair!r}: expected KEY=VALUE")
        options[key] = value
    return options


def _read_file(path: str) -> dict:
    try:
        with open(path) as f:
            document = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise InvalidParameter(f"unable to configure the daemon with file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidParameter(f"unable to configure the daemon with file {path}: expected a JSON object")
    unknown = sorted(set(document) - set(_FILE_KEYS))
    if unknown:
        raise InvalidParameter(
            f"unable to configure the daemon with file {path}: the following directives don't match any "
            f"configuration option: {', '.join(unknown)}"
        )
    if document.get("log-level", "info") not in _LOG_LEVELS:
        raise InvalidParameter(f"unable to configure the daemon with file {path}: invalid log-level")
    if not isinstance(document.get("log-opts", {}), dict):
        raise InvalidParameter(f"unable to configure the daemon with file {path}: log-opts must be an object")
    for key, kind in [*((key, str) for key in _STRING_LISTS), *((key, dict) for key in _OBJECT_LISTS)]:
        value = document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
            what = "strings" if kind is str else "objects"
            raise InvalidParameter(f"unable to configure the daemon with file {path}: {key} must be a list of {what}")
    for key in _BOOLEANS:
        if not isinstance(document.get(key, False), bool):
            raise InvalidParameter(f"unable to configure the daemon with file {path}: {key} must be true or false")
    return document
