"""The daemon's configuration through real clients: registries and address pools from flags, and the
start refused, naming the directive and leaving nothing behind, when a value is bad."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import time
import urllib.request

import docker
import pytest

from e2e.conftest import busybox_daemon_in
from support.daemon import DockyardDaemon


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    base = tmp_path_factory.mktemp("dy-config")
    with DockyardDaemon(
        str(base),
        "--insecure-registry", "myreg:5000", "--insecure-registry", "10.1.0.0/16",
        "--registry-mirror", "http://10.9.9.9:5000",
        "--default-address-pool", "base=10.213.0.0/16,size=24",
    ) as running:  # fmt: skip
        yield running


def test_docker_info_shows_the_insecure_registries_and_mirrors(configured):
    registry = json.loads(configured.docker("info", "--format", "{{json .RegistryConfig}}").stdout)
    assert registry["InsecureRegistryCIDRs"] == ["10.1.0.0/16", "127.0.0.0/8"]
    assert registry["IndexConfigs"] == {
        "myreg:5000": {"Name": "myreg:5000", "Mirrors": [], "Secure": False, "Official": False}
    }
    assert registry["Mirrors"] == ["http://10.9.9.9:5000/"]
    text = configured.docker("info").stdout
    insecure = text.split(" Insecure Registries:\n")[1].split("\n Registry Mirrors:")[0].split()
    assert insecure == ["myreg:5000", "10.1.0.0/16", "127.0.0.0/8"]
    assert "Registry Mirrors:\n  http://10.9.9.9:5000/" in text


def test_docker_py_reads_the_registry_config(configured):
    client = docker.DockerClient(base_url=configured.host)
    try:
        assert client.info()["RegistryConfig"]["Mirrors"] == ["http://10.9.9.9:5000/"]
    finally:
        client.close()


def test_a_network_without_a_subnet_is_cut_from_the_flag_s_pool(configured):
    configured.docker("network", "create", "dy-pool-net")
    try:
        inspect = json.loads(configured.docker("network", "inspect", "dy-pool-net").stdout)[0]
        subnet = ipaddress.ip_network(inspect["IPAM"]["Config"][0]["Subnet"])
        assert subnet.prefixlen == 24 and subnet.subnet_of(ipaddress.ip_network("10.213.0.0/16"))
    finally:
        configured.docker("network", "rm", "dy-pool-net")


@pytest.mark.parametrize(
    ("flags", "file", "message"),
    [
        (["--insecure-registry", "myreg:5000/path"], None,
         'insecure registry myreg:5000/path is not valid: invalid host "myreg"'),
        ([], {"insecure-registries": ["ftp://x"]}, "insecure registry ftp://x should not contain '://'"),
        (["--registry-mirror", "10.9.9.9:5000"], None, 'invalid mirror: "10.9.9.9:5000" is not a valid URI'),
        (["--default-address-pool", "base=10.20.0.0/16,size=x"], None,
         'invalid argument "base=10.20.0.0/16,size=x" for "--default-address-pool" flag: invalid size value'),
        ([], {"default-address-pools": [{"base": "10.20.0.0/16", "size": 8}]}, "invalid pools size: 8"),
        (["--userland-proxy-path", "/usr/bin/true"], None, "userland-proxy-path is not supported"),
        (["--userland-proxy=maybe"], None, "argument --userland-proxy: invalid boolean value 'maybe'"),
        (["--log-opt", "foo=bar"], None, "failed to set log opts: unknown log opt 'foo' for json-file log driver"),
        ([], {"log-driver": "local", "log-opts": {"labels": "a"}},
         "failed to set log opts: unknown log opt 'labels' for log driver local"),
    ],
)  # fmt: skip
def test_a_bad_value_refuses_the_start_naming_it_and_leaves_nothing(tmp_path, flags, file, message):
    daemon = DockyardDaemon(str(tmp_path), *flags)
    assert message in daemon.refused_start(file)[-1]


HTTPD = "mkdir /www && echo published > /www/index.html && exec httpd -f -p 7100 -h /www"


def test_without_the_userland_proxy_ipv6_host_addresses_are_not_published(tmp_path):
    """daemon.json "userland-proxy": false, as dockerd: 127.0.0.1 still answers (NAT); an IPv4-only
    container gets no [::] mapping, and its [::1] one is dropped, shown unpublished."""
    (tmp_path / "daemon.json").write_text(json.dumps({"userland-proxy": False}))
    with busybox_daemon_in(tmp_path) as daemon:
        daemon.docker("run", "-d", "--name", "dy-noproxy", "-p", "18097:7100", "-p", "[::1]:18098:7101",
                      "busybox", "sh", "-c", HTTPD)  # fmt: skip
        assert daemon.docker("port", "dy-noproxy").stdout.splitlines() == ["7100/tcp -> 0.0.0.0:18097"]
        ports = json.loads(daemon.docker("inspect", "dy-noproxy").stdout)[0]["NetworkSettings"]["Ports"]
        assert ports == {"7100/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18097"}], "7101/tcp": None}
        for _ in range(50):  # httpd starts in the background
            try:
                with urllib.request.urlopen("http://127.0.0.1:18097/", timeout=5) as response:
                    assert response.read() == b"published\n"
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("nothing answered on 127.0.0.1:18097")
        with socket.socket(socket.AF_INET6) as client:
            client.settimeout(2)
            with pytest.raises(OSError):
                client.connect(("::1", 18097))
