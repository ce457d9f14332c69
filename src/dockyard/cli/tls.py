"""The client side of TLS, as the docker CLI reads its flags and environment (cli/flags/options.go).

--tlsverify (or DOCKER_TLS_VERIFY set to anything) checks the daemon's certificate against
--tlscacert; --tls alone encrypts without checking. A client certificate (--tlscert/--tlskey)
is presented when given. Unset paths default to ca.pem, cert.pem and key.pem in
DOCKER_CERT_PATH (else ~/.docker), and a default file that does not exist is left out. Any
--tlsverify on the command line, even =false, turns TLS on. `ssl` is imported only here, and
only when TLS is on: it costs milliseconds every other command would pay.
"""

from __future__ import annotations

import _socket
import os

from dockyard.cli.flags import BOOL, STRING, Flag

FLAGS = (
    Flag("tls", "", BOOL, "Use TLS; implied by --tlsverify"),
    Flag("tlscacert", "", STRING, "Trust certs signed only by this CA"),
    Flag("tlscert", "", STRING, "Path to TLS certificate file"),
    Flag("tlskey", "", STRING, "Path to TLS key file"),
    Flag("tlsverify", "", BOOL, "Use TLS and verify the remote"),
)
DEFAULT_TLS_PORT = 2376


class TLSOptions:
    __slots__ = ("ca", "cert", "key", "verify")

    def __init__(self, *, ca: str | None, cert: str | None, key: str | None, verify: bool) -> None:
        self.ca, self.cert, self.key, self.verify = ca, cert, key, verify

    def wrap(self, sock: _socket.socket, hostname: str) -> _socket.socket:
        """sock with the TLS handshake done; ssl.SSLError (an OSError) when it fails."""
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # docker's tlsconfig minimum
        if self.verify:
            context.load_verify_locations(cafile=self.ca) if self.ca else context.load_default_certs()
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert and self.key:
            context.load_cert_chain(self.cert, self.key)
        return context.wrap_socket(sock, server_hostname=hostname)


def options(opts, environ=os.environ) -> TLSOptions | None:
    """The TLS to use for the parsed global flags `opts`, None for none."""
    given = opts.given
    verify = opts.tlsverify if "tlsverify" in given else bool(environ.get("DOCKER_TLS_VERIFY"))
    if not (opts.tls or verify or "tlsverify" in given):
        return None
    cert_path = environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")

    def path(flag: str, default_name: str) -> str | None:
        if flag in given:
            return getattr(opts, flag)
        default = os.path.join(cert_path, default_name)
        return default if os.path.exists(default) else None

    return TLSOptions(ca=path("tlscacert", "ca.pem"), cert=path("tlscert", "cert.pem"),
                      key=path("tlskey", "key.pem"), verify=verify)  # fmt: skip


def half_close(sock: _socket.socket) -> None:
    """End our sending side and keep reading: a TCP FIN under TLS too.

    SSLSocket.shutdown drops the TLS session, after which the rest of the output could not
    be read; the socket's own shutdown leaves it in place.
    """
    _socket.socket.shutdown(sock, _socket.SHUT_WR)
