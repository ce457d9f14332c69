"""Where the daemon listens: dockerd's -H addresses, and the TLS that a TCP address needs.

    unix:///run/dockyard/dockyard.sock      a unix socket (mode 0660, the daemon's group)
    tcp://127.0.0.1:2376, tcp://:2376       TCP; no port: 2376 with TLS, 2375 without (dockerd's defaults)
    127.0.0.1:2376                          TCP too, as dockerd reads an address without a scheme

A TCP socket without TLS lets anyone who can reach it run containers as root.
dockerd 20.10 only warns (and sleeps 15 s); Dockyard refuses to start unless
--insecure-tcp says that this is wanted. --tlsverify requires a client
certificate signed by --tlscacert; --tls alone encrypts but lets any client in.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from dockyard.errors import InvalidParameter

INSECURE_FLAG = "--insecure-tcp"


@dataclass(frozen=True)
class Listener:
    address: str  # as given, for messages and logs
    path: str = ""  # a unix socket's path, or "" for TCP
    host: str = ""  # TCP: "" listens on every interface
    port: int = 0

    @property
    def is_tcp(self) -> bool:
        return not self.path


@dataclass(frozen=True)
class TlsSettings:
    tls: bool = False
    verify: bool = False
    ca_cert: str = ""
    cert: str = ""
    key: str = ""

    @property
    def enabled(self) -> bool:
        return self.tls or self.verify


def parse(address: str, *, tls: bool) -> Listener:
    """One -H address; InvalidParameter names what is wrong with it."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidParameter(f"invalid host {address!r}: a unix socket needs an absolute path")
        return Listener(address, path=rest)
    if scheme != "tcp":
        raise InvalidParameter(f"invalid host {address!r}: only unix:// and tcp:// are supported")
    host, colon, port_text = rest.rstrip("/").rpartition(":")
    if not colon:
        host, port_text = rest.rstrip("/"), ""
    host = host.removeprefix("[").removesuffix("]")  # [::1]:2376
    port = 2376 if tls else 2375
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidParameter(f"invalid host {address!r}: bad port {port_text!r}")
        port = int(port_text)
    return Listener(address, host=host, port=port)


def check(listeners: list[Listener], tls: TlsSettings, *, insecure_tcp: bool) -> None:
    """Refuse a TCP listener without TLS unless the user consented, and TLS without its files."""
    plain = [listener.address for listener in listeners if listener.is_tcp and not tls.enabled]
    if plain and not insecure_tcp:
        raise InvalidParameter(
            f"refusing to listen on {', '.join(plain)} without TLS: anyone who reaches it can run containers "
            f"as root. Use --tlsverify with --tlscacert, --tlscert and --tlskey, or {INSECURE_FLAG} to "
            "accept an unauthenticated, unencrypted API"
        )
    if tls.enabled and any(listener.is_tcp for listener in listeners):
        needed = [("--tlscert", tls.cert), ("--tlskey", tls.key)]
        if tls.verify:
            needed.append(("--tlscacert", tls.ca_cert))
        for flag, path in needed:
            if not os.path.isfile(path):
                raise InvalidParameter(f"could not load TLS configuration: {flag} {path!r} does not exist")


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """The TLS context of the TCP listeners: TLS 1.2 or newer, as dockerd; client certificates with verify."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key)
        if tls.verify:
            context.load_verify_locations(cafile=tls.ca_cert)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParameter(f"could not load TLS configuration: {exc}") from None
    return context


def default_cert_path() -> str:
    """dockerd's default directory for ca.pem, cert.pem and key.pem: $DOCKER_CERT_PATH, else ~/.docker."""
    return os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
