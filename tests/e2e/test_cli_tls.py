"""`dockyard` over TCP with TLS, as the docker CLI: a private dockerd listening with --tlsverify on loopback,
certificates made here with `cryptography`; flags, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, refusals, and a hijacked
`run -i` through the TLS connection."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket

import pytest

from support.cli import CLI, DOCKYARD
from support.dockerd import PrivateDockerd, skip_reason

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def _issue(directory, name: str, subject: str, issuer=None, *, ca=False, usage=None):
    """A key and certificate written to name-key.pem and name.pem; signed by issuer (cert, key) or self."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer[0].subject if issuer else subject_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage == "server":
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif usage == "client":
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    certs = tmp_path_factory.mktemp("dy-tls")
    ca = _issue(certs, "ca", "dy-test-ca", ca=True)
    _issue(certs, "server", "localhost", ca, usage="server")
    _issue(certs, "cert", "dy-client", ca, usage="client")
    (certs / "key.pem").write_bytes((certs / "cert-key.pem").read_bytes())  # docker's names in DOCKER_CERT_PATH
    _issue(certs, "other-ca", "dy-other-ca", ca=True)
    port = _free_port()
    args = ("--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "server.pem"),
            "--tlskey", str(certs / "server-key.pem"), "-H", f"tcp://127.0.0.1:{port}")  # fmt: skip
    with PrivateDockerd(extra_args=args) as engine:
        yield engine, certs, f"tcp://127.0.0.1:{port}"


def _run(argv: list[str], env: dict, **kwargs):
    import subprocess

    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(argv, env=env, timeout=120, **kwargs)


def _env(engine, **extra) -> dict:
    env = {k: v for k, v in engine.env.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    env["DOCKER_CONFIG"] = engine.env["DOCKER_CONFIG"]
    return env | extra


@pytest.mark.parametrize("program", ["docker", DOCKYARD])
def test_tlsverify_flags_and_the_environment_reach_the_daemon(tls_engine, program):
    engine, certs, host = tls_engine
    files = ["--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "cert.pem"),
             "--tlskey", str(certs / "cert-key.pem")]  # fmt: skip
    expected = engine.docker("version", "--format", "{{.Server.Version}}").stdout
    by_flags = _run([program, "-H", host, "--tlsverify", *files, "version", "--format", "{{.Server.Version}}"],
                    _env(engine))  # fmt: skip
    assert (by_flags.returncode, by_flags.stdout) == (0, expected), by_flags.stderr
    env = _env(engine, DOCKER_HOST=host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    by_env = _run([program, "ps", "-a", "--format", "{{.Names}}"], env)
    assert (by_env.returncode, by_env.stdout) == (0, engine.docker("ps", "-a", "--format", "{{.Names}}").stdout)
    # --tls alone: encrypted, the daemon's certificate not checked (any CA will do), ours still presented.
    unchecked = _run([program, "-H", host, "--tls", "--tlscacert", str(certs / "other-ca.pem"), "--tlscert",
                      str(certs / "cert.pem"), "--tlskey", str(certs / "cert-key.pem"), "info", "--format",
                      "{{.ID}}"], _env(engine))  # fmt: skip
    assert unchecked.returncode == 0 and unchecked.stdout.strip(), unchecked.stderr


@pytest.mark.parametrize("program", ["docker", DOCKYARD])
def test_an_untrusted_daemon_or_a_missing_client_certificate_is_refused(tls_engine, program):
    engine, certs, host = tls_engine
    wrong_ca = _run([program, "-H", host, "--tlsverify", "--tlscacert", str(certs / "other-ca.pem"), "--tlscert",
                     str(certs / "cert.pem"), "--tlskey", str(certs / "cert-key.pem"), "ps"], _env(engine))  # fmt: skip
    assert wrong_ca.returncode == 1 and "certificate" in wrong_ca.stderr
    assert "unknown authority" in wrong_ca.stderr or "verify failed" in wrong_ca.stderr
    no_cert = _run([program, "-H", host, "--tlsverify", "--tlscacert", str(certs / "ca.pem"), "ps"], _env(engine))
    assert no_cert.returncode == 1 and no_cert.stdout == ""


def test_run_i_streams_input_through_a_tls_connection(tls_engine, busybox_daemon, tmp_path):
    engine, certs, host = tls_engine
    archive = tmp_path / "busybox.tar"
    CLI("dockyard", busybox_daemon)("save", "-o", str(archive), "busybox")
    env = _env(engine, DOCKER_HOST=host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    loaded = _run([DOCKYARD, "load", "-i", str(archive)], env)
    assert loaded.stdout == "Loaded image: busybox:latest\n", loaded.stderr
    try:
        echoed = _run([DOCKYARD, "run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "cat; exit 3"],
                      env, input="through TLS\n")  # fmt: skip
        assert (echoed.returncode, echoed.stdout) == (3, "through TLS\n"), echoed.stderr
    finally:
        engine.docker("rmi", "-f", "busybox:latest", check=False)
    assert os.path.exists(certs / "ca.pem")
