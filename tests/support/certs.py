"""A throw-away CA with a server and a client certificate, as `docker` expects them in DOCKER_CERT_PATH.

    make(directory) -> {"ca": ca.pem, "server_cert", "server_key", "client_cert", "client_key"}

The client files are named ca.pem, cert.pem and key.pem in <directory>/client, so that
DOCKER_CERT_PATH=<directory>/client works for the docker CLI.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: x509.Name, issuer_key, *, ca: bool, usage=None, names=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: str, certificate=None, key=None) -> str:
    with open(path, "wb") as f:
        if certificate is not None:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
    return path


def make(directory: str) -> dict[str, str]:
    os.makedirs(os.path.join(directory, "client"), exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("dy-test-ca", ca_key, _name("dy-test-ca"), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(
        "localhost", server_key, ca.subject, ca_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    )  # fmt: skip
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate("dy-test-client", client_key, ca.subject, ca_key, ca=False,
                          usage=ExtendedKeyUsageOID.CLIENT_AUTH)  # fmt: skip
    return {
        "ca": _write(os.path.join(directory, "ca.pem"), ca),
        "server_cert": _write(os.path.join(directory, "server-cert.pem"), server),
        "server_key": _write(os.path.join(directory, "server-key.pem"), key=server_key),
        "client_ca": _write(os.path.join(directory, "client", "ca.pem"), ca),
        "client_cert": _write(os.path.join(directory, "client", "cert.pem"), client),
        "client_key": _write(os.path.join(directory, "client", "key.pem"), key=client_key),
    }
