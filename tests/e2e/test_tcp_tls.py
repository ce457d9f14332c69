"""The Engine API on TCP with TLS, beside the unix socket: the docker CLI and docker-py with client certificates."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from support import certs
from support.daemon import DockyardDaemon

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    base = tmp_path_factory.mktemp("dy-tls")
    files = certs.make(str(base / "certs"))
    port = _free_port()
    daemon = DockyardDaemon(
        str(base), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", files["ca"],
        "--tlscert", files["server_cert"], "--tlskey", files["server_key"],
    )  # fmt: skip
    with daemon:
        yield daemon, port, files


def _docker_over_tcp(daemon, port: int, cert_path: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(daemon.env, DOCKER_HOST=f"tcp://127.0.0.1:{port}", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=cert_path)
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_docker_cli_with_a_client_certificate_reaches_the_daemon_over_tls(tls):
    daemon, port, files = tls
    result = _docker_over_tcp(daemon, port, os.path.dirname(files["client_cert"]), "version", "--format", "{{json .}}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Server"]["Platform"]["Name"] == "Dockyard Engine"
    # The unix socket still serves at the same time.
    assert daemon.request("GET", "/_ping")[0] == 200


def test_docker_py_with_a_client_certificate_lists_containers(tls, monkeypatch):
    import docker

    # requests prefers these variables to the session's CA (psf/requests#3829): they would hide ours.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    _, port, files = tls
    tls_config = docker.tls.TLSConfig(client_cert=(files["client_cert"], files["client_key"]), ca_cert=files["ca"],
                                      verify=True)  # fmt: skip
    client = docker.DockerClient(base_url=f"https://127.0.0.1:{port}", tls=tls_config, version="auto")
    try:
        assert client.ping() is True
        assert client.containers.list(all=True) == []
    finally:
        client.close()


def test_a_client_without_a_certificate_is_refused(tls):
    _, port, files = tls
    context = ssl.create_default_context(cafile=files["ca"])  # trusts the server, presents no certificate
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            connection.request("GET", "/_ping")
            connection.getresponse().read()
    finally:
        connection.close()


def test_a_client_certificate_from_another_ca_is_refused(tls, tmp_path):
    daemon, port, files = tls
    foreign = certs.make(str(tmp_path / "foreign"))
    shutil.copy(files["ca"], foreign["client_ca"])  # trusts our server, presents a certificate our CA never signed
    result = _docker_over_tcp(daemon, port, os.path.dirname(foreign["client_cert"]), "ps")
    assert result.returncode != 0
    # TLS 1.3: the server checks the certificate after the handshake and drops the connection.
    assert "error during connect" in result.stderr or "certificate" in result.stderr, result.stderr


def test_a_client_that_does_not_speak_tls_is_refused(tls):
    _, port, _ = tls
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/_ping")
        status = connection.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        status = None
    finally:
        connection.close()
    assert status != 200


def test_tls_without_verify_lets_a_client_in_without_a_certificate(tmp_path):
    files = certs.make(str(tmp_path / "certs"))
    port = _free_port()
    args = (
        "-H",
        f"tcp://127.0.0.1:{port}",
        "--tls",
        "--tlscert",
        files["server_cert"],
        "--tlskey",
        files["server_key"],
    )
    with DockyardDaemon(str(tmp_path), *args):
        context = ssl.create_default_context(cafile=files["ca"])
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        try:
            connection.request("GET", "/_ping")
            assert connection.getresponse().read() == b"OK"
        finally:
            connection.close()


def test_plain_tcp_is_refused_unless_the_user_consents(tmp_path):
    port = _free_port()
    refused = DockyardDaemon(str(tmp_path / "refused"), "-H", f"tcp://127.0.0.1:{port}")
    result = subprocess.run(refused.argv(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "without TLS" in result.stderr and "--insecure-tcp" in result.stderr
    assert not os.path.exists(refused.data_root)
    with DockyardDaemon(str(tmp_path / "consented"), "-H", f"tcp://127.0.0.1:{port}", "--insecure-tcp") as daemon:
        env = dict(daemon.env, DOCKER_HOST=f"tcp://127.0.0.1:{port}")
        result = subprocess.run(["docker", "info", "--format", "{{.Name}}"], env=env, capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr


def test_missing_certificates_stop_the_start_with_their_name(tmp_path):
    missing = str(tmp_path / "nowhere.pem")
    daemon = DockyardDaemon(
        str(tmp_path), "-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", missing, "--tlscert", missing,
        "--tlskey", missing,
    )  # fmt: skip
    result = subprocess.run(daemon.argv(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "--tlscert" in result.stderr and "does not exist" in result.stderr
