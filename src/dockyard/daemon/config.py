"""The daemon's configuration: dockerd's flags and a daemon.json, flags winning.

Only what the engine uses so far is accepted; an unknown key in daemon.json is
refused by name (as dockerd does), so a typo never silently does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass, field

from dockyard.daemon import listeners
from dockyard.errors import InvalidParameter
from dockyard.logs import options as log_options
from dockyard.runtime import runtimes as runtime_table

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
    default_address_pools: list[dict] = field(default_factory=list)
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""  # default: <cert path>/ca.pem (dockerd's)
    tlscert: str = ""  # default: <cert path>/cert.pem
    tlskey: str = ""  # default: <cert path>/key.pem
    insecure_tcp: bool = False  # consent to a TCP listener without TLS (dockyard.daemon.listeners)
    # Containers outlive the daemon (their shims hold them) unless this is off: then, as dockerd without
    # --live-restore, a clean shutdown stops them and a start after a crash kills those still running.
    live_restore: bool = True
    log_driver: str = "json-file"  # for containers whose LogConfig names none
    log_opts: dict[str, str] = field(default_factory=dict)
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
    "runtimes": "runtimes",
    "default-runtime": "default_runtime",
}
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
    p.add_argument("--log-driver", help="containers' default log driver: json-file, local or none")
    p.add_argument("--log-opt", action="append", dest="log_opts", metavar="KEY=VALUE", help="its default options")
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
    for flag, key in _FLAG_DIRECTIVES.items():
        value = getattr(args, flag)
        if value is not None:
            if key in from_file:
                _refuse_both(key, value, from_file[key])
            setattr(config, flag, value)
    for key, name in _FILE_KEYS.items():
        value = getattr(args, name, None)  # default-address-pools is a daemon.json directive only
        if value is None:
            continue
        if key in from_file:
            _refuse_both(key, value, from_file[key])
        setattr(config, name, value)
    if config.ipv6 != bool(config.fixed_cidr_v6):
        raise InvalidParameter("IPv6 on the default bridge needs both --ipv6 and --fixed-cidr-v6")
    if not 0 < len(config.bridge) <= 15:
        raise InvalidParameter(f"invalid bridge name {config.bridge!r}: 1 to 15 characters")
    config.tls = config.tls or config.tlsverify
    listeners.check(config.listeners, config.tls_settings, insecure_tcp=config.insecure_tcp)
    log_options.check_driver(config.log_driver, config.log_opts)
    config.runtime_table = runtime_table.configure(config.runtimes, config.add_runtime, config.default_runtime)
    return config


def _refuse_both(key: str, from_flag: object, from_file: object) -> None:
    # dockerd refuses this for every directive: which of the two was meant is not ours to guess.
    raise InvalidParameter(
        "the following directives are specified both as a flag and in the configuration file: "
        f"{key}: (from flag: {from_flag}, from file: {from_file})"
    )


def _boolean(text: str) -> bool:
    """A Go bool flag's value: --live-restore=false."""
    value = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")
    return value


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
    return document
