"""The daemon's system endpoints and version negotiation, through the docker CLI, docker-py and raw HTTP."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from support.daemon import DockyardDaemon
from support.swagger import validate


def test_ping_has_the_headers_clients_negotiate_with(daemon):
    for method in ("GET", "HEAD"):
        status, headers, body = daemon.request(method, "/_ping")
        assert status == 200
        assert headers["API-Version"] == "1.50" and headers["OSType"] == "linux"
        assert body == (b"OK" if method == "GET" else b"")


def test_the_docker_cli_negotiates_and_reports_the_engine(daemon):
    out = daemon.docker("version", "--format", "{{json .Server}}").stdout
    server = json.loads(out)
    assert server["Platform"]["Name"] == "Dockyard Engine"
    assert (server["ApiVersion"], server["MinAPIVersion"]) == ("1.50", "1.24")


def test_version_and_info_have_the_engine_api_shape(daemon):
    for path, definition in (("/version", "SystemVersion"), ("/v1.50/info", "SystemInfo")):
        status, headers, body = daemon.request("GET", path)
        assert status == 200 and headers["Content-Type"] == "application/json"
        validate(json.loads(body), definition, version="1.50")
    info = json.loads(daemon.request("GET", "/info")[2])
    assert info["DockerRootDir"] == daemon.data_root and info["NCPU"] == os.cpu_count()


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v1.24/version", 200, None),
        ("/v1.41/_ping", 200, None),
        ("/v1.99/version", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"),
        ("/v1.12/version", 400, "client version 1.12 is too old. Minimum supported API version is 1.24"),
        ("/v1.50/no/such/endpoint", 404, None),
    ],
)
def test_versioned_paths(daemon, path, status, message):
    got, _, body = daemon.request("GET", path)
    assert got == status
    if message:
        assert json.loads(body)["message"].startswith(message)


def test_docker_py_sees_the_same_engine(daemon):
    client = daemon.client()
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.50"
        assert client.info()["Driver"] == "overlay"
    finally:
        client.close()


def test_the_socket_is_for_root_and_the_daemon_s_group_only(daemon):
    mode = os.stat(daemon.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660


def test_a_second_daemon_on_the_same_exec_root_is_refused(daemon):
    second = subprocess.run(
        DockyardDaemon(daemon.base).argv(), capture_output=True, text=True, timeout=30
    )  # the same pid file
    assert second.returncode == 1
    assert "pid file found, ensure dockyard is not running" in second.stderr


def test_bad_configuration_is_refused_by_name(tmp_path):
    (tmp_path / "daemon.json").write_text('{"data-root": "/x", "colour": "blue"}')
    result = subprocess.run(DockyardDaemon(str(tmp_path)).argv(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "the following directives don't match any configuration option: colour" in result.stderr
    assert not os.path.exists(tmp_path / "root")


def test_sigterm_stops_the_daemon_and_removes_its_socket_and_pid_file(tmp_path):
    running = DockyardDaemon(str(tmp_path)).start()
    pidfile = os.path.join(running.exec_root, "dockyard.pid")
    assert os.path.exists(pidfile)
    assert running.stop() == 0
    running.remove_network_objects()
    assert not os.path.exists(running.socket) and not os.path.exists(pidfile)
