"""Networks through the real docker CLI and docker-py: traffic between containers, modes, API shapes, cleanup.

Every subnet here is a private one of the test's own (10.23x.0.0/24); traffic stays on this machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from dockyard.network.interfaces import owned_links
from support.daemon import DockyardDaemon
from support.swagger import validate

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="networking needs root")


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def veths_of(daemon: DockyardDaemon) -> set[str]:
    """The container ends this daemon made on the host: tagged with its exec root, whatever other daemons
    on the machine make meanwhile."""
    return {name for name in owned_links(f"dockyard:{daemon.exec_root}") if name.startswith("dy-v")}


def eventually(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def handles(daemon: DockyardDaemon) -> set[str]:
    path = os.path.join(daemon.exec_root, "netns")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


@pytest.fixture
def net(busybox_daemon):
    """network(name, subnet, *flags) creates a network that is removed (with its containers) afterwards."""
    d = busybox_daemon
    made: list[str] = []

    def network(name: str, subnet: str, *flags: str) -> str:
        d.docker("network", "create", "--subnet", subnet, *flags, name)
        made.append(name)
        return name

    yield network
    for name in made:
        ids = d.docker("ps", "-aq", "--filter", f"network={name}", check=False).stdout.split()
        if ids:
            d.docker("rm", "-f", *ids, check=False)
        d.docker("network", "rm", name, check=False)


def ip_of(d: DockyardDaemon, container: str, network: str) -> str:
    template = '{{(index .NetworkSettings.Networks "' + network + '").IPAddress}}'
    return d.docker("inspect", "--format", template, container).stdout.strip()


def test_two_containers_on_a_user_network_talk_over_tcp(busybox_daemon, net):
    d = busybox_daemon
    net("dy-talk", "10.231.0.0/24")
    d.docker("run", "-d", "--name", "dy-server", "--network", "dy-talk", "busybox",
             "sh", "-c", "echo hello-over-tcp | nc -l -p 7000")  # fmt: skip
    address = ip_of(d, "dy-server", "dy-talk")
    assert address == "10.231.0.2"
    listed = d.docker("ps", "--filter", "network=dy-talk", "--format", "{{.Names}} {{.Networks}}").stdout
    assert listed.split() == ["dy-server", "dy-talk"]
    time.sleep(0.3)
    got = d.docker("run", "--rm", "--network", "dy-talk", "busybox", "nc", "-w", "3", address, "7000").stdout
    assert got.strip() == "hello-over-tcp"


def test_bridge_links_are_large_and_the_way_out_keeps_dockers_mtu(busybox_daemon, net):
    """network.tuning.bridge_mtu: at docker's default MTU, 64 KiB packets inside the network, 1500 beyond it;
    a network with an MTU of its own gets exactly that."""
    d = busybox_daemon
    net("dy-mtu", "10.236.0.0/24")
    net("dy-mtu-own", "10.237.0.0/24", "-o", "com.docker.network.driver.mtu=1400")

    def link_and_default_route(network: str) -> tuple[str, str]:
        name = f"dy-mtu-probe-{network}"
        d.docker("run", "-d", "--name", name, "--network", network, "busybox", "sleep", "60")
        pid = d.docker("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
        inside = ["nsenter", "-t", pid, "-n", "ip"]  # the host's iproute2: busybox's ip shows no route metrics
        link = subprocess.run([*inside, "-o", "link", "show", "eth0"], capture_output=True, text=True, check=True)
        route = subprocess.run([*inside, "route", "show", "default"], capture_output=True, text=True, check=True)
        d.docker("rm", "-f", name)
        return link.stdout, route.stdout

    link, route = link_and_default_route("dy-mtu")
    assert " mtu 65535 " in link
    assert " mtu 1500" in route
    link, route = link_and_default_route("dy-mtu-own")
    assert " mtu 1400 " in link
    assert " mtu " not in route


def test_containers_on_a_user_network_find_each_other_by_name_and_alias(busybox_daemon, net):
    d = busybox_daemon
    net("dy-names", "10.240.0.0/24")
    d.docker("run", "-d", "--name", "dy-named", "--network", "dy-names", "--network-alias", "web", "busybox",
             "sh", "-c", "echo by-name | nc -l -p 7001")  # fmt: skip
    lookup = d.docker("run", "--rm", "--network", "dy-names", "busybox", "nslookup", "web").stdout
    assert "10.240.0.2" in lookup
    got = d.docker("run", "--rm", "--network", "dy-names", "busybox", "nc", "-w", "3", "dy-named", "7001").stdout
    assert got.strip() == "by-name"  # the server answers once, then exits: its name goes with it
    # Names that are not ours are forwarded: --dns keeps that on this machine (nothing answers on the gateway).
    local = ("--network", "dy-names", "--dns", "10.240.0.1")
    missing = d.docker("run", "--rm", *local, "busybox", "nslookup", "web", check=False)
    assert "10.240.0.2" not in missing.stdout
    d.docker("run", "-d", "--name", "dy-before", "--network", "dy-names", "busybox", "sleep", "60")
    d.docker("rename", "dy-before", "dy-after")
    renamed = d.docker("run", "--rm", "--network", "dy-names", "busybox", "nslookup", "dy-after", check=False)
    assert "10.240.0." in renamed.stdout
    old_name = d.docker("run", "--rm", *local, "busybox", "nslookup", "dy-before", check=False)
    assert "10.240.0." not in old_name.stdout.split("Address:\t127.0.0.11:53")[-1]
    resolv = d.docker("run", "--rm", "--network", "dy-names", "busybox", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 127.0.0.11" in resolv


def test_a_container_on_both_networks_reaches_both(busybox_daemon, net):
    d = busybox_daemon
    net("dy-left", "10.232.0.0/24")
    net("dy-right", "10.233.0.0/24")
    d.docker("run", "-d", "--name", "dy-l", "--network", "dy-left", "busybox", "sleep", "60")
    d.docker("run", "-d", "--name", "dy-r", "--network", "dy-right", "busybox", "sleep", "60")
    d.docker("create", "--name", "dy-both", "--network", "dy-left", "busybox", "sleep", "60")
    d.docker("network", "connect", "--ip", "10.233.0.50", "--alias", "both", "dy-right", "dy-both")
    d.docker("start", "dy-both")
    script = f"ping -c1 -W2 {ip_of(d, 'dy-l', 'dy-left')} && ping -c1 -W2 {ip_of(d, 'dy-r', 'dy-right')}"
    assert d.docker("exec", "dy-both", "sh", "-c", script, check=False).returncode == 0
    assert ip_of(d, "dy-both", "dy-right") == "10.233.0.50"
    inspected = json.loads(d.docker("inspect", "dy-both").stdout)[0]["NetworkSettings"]["Networks"]
    assert inspected["dy-right"]["Aliases"] == ["both"]
    assert "both" in inspected["dy-right"]["DNSNames"]
    # disconnect on a running container takes its interface away at once
    d.docker("network", "disconnect", "dy-right", "dy-both")
    out = d.docker("exec", "dy-both", "ip", "addr").stdout
    assert "10.233.0.50" not in out and "10.232.0." in out
    assert "10.233.0.50" not in d.docker("exec", "dy-both", "cat", "/etc/hosts").stdout


def test_connecting_a_running_container_updates_its_hosts_and_resolv_conf(busybox_daemon, net):
    d = busybox_daemon
    net("dy-late", "10.252.0.0/24")
    d.docker("run", "-d", "--name", "dy-peer", "--network", "dy-late", "busybox", "sleep", "60")
    d.docker("run", "-d", "--name", "dy-latecomer", "busybox", "sleep", "60")  # the default bridge: no DNS
    assert "127.0.0.11" not in d.docker("exec", "dy-latecomer", "cat", "/etc/resolv.conf").stdout
    d.docker("network", "connect", "--ip", "10.252.0.77", "dy-late", "dy-latecomer")
    assert "10.252.0.77\t" in d.docker("exec", "dy-latecomer", "cat", "/etc/hosts").stdout
    assert "nameserver 127.0.0.11" in d.docker("exec", "dy-latecomer", "cat", "/etc/resolv.conf").stdout
    assert d.docker("exec", "dy-latecomer", "ping", "-c1", "-W2", "dy-peer", check=False).returncode == 0
    d.docker("rm", "-f", "dy-latecomer")


def test_a_container_on_another_network_cannot_reach_them(busybox_daemon, net):
    d = busybox_daemon
    net("dy-inside", "10.241.0.0/24")
    net("dy-outside", "10.242.0.0/24")
    d.docker("run", "-d", "--name", "dy-guarded", "--network", "dy-inside", "busybox", "sleep", "60")
    target = ip_of(d, "dy-guarded", "dy-inside")
    same = d.docker("run", "--rm", "--network", "dy-inside", "busybox", "ping", "-c1", "-W2", target, check=False)
    assert same.returncode == 0
    other = d.docker("run", "--rm", "--network", "dy-outside", "busybox", "ping", "-c1", "-W2", target, check=False)
    assert other.returncode != 0 and "1 packets transmitted, 0 packets received" in other.stdout


def test_an_internal_network_has_no_way_out_but_talks_inside(busybox_daemon, net):
    d = busybox_daemon
    net("dy-sealed", "10.243.0.0/24", "--internal")
    net("dy-open", "10.244.0.0/24")
    d.docker("run", "-d", "--name", "dy-sealed1", "--network", "dy-sealed", "busybox", "sleep", "60")
    gateway = "10.244.0.1"  # the host's address on another bridge: reachable from any non-internal network
    assert d.docker("run", "--rm", "--network", "dy-open", "busybox", "ping", "-c1", "-W2", gateway,
                    check=False).returncode == 0  # fmt: skip
    out = d.docker("run", "--rm", "--network", "dy-sealed", "busybox", "ping", "-c1", "-W2", gateway, check=False)
    assert out.returncode != 0
    inside = ip_of(d, "dy-sealed1", "dy-sealed")
    assert d.docker("run", "--rm", "--network", "dy-sealed", "busybox", "ping", "-c1", "-W2", inside,
                    check=False).returncode == 0  # fmt: skip


HTTPD = "mkdir /www && echo published-$HOSTNAME > /www/index.html && exec httpd -f -p 7100 -h /www"


def test_published_ports_answer_on_the_host_and_from_other_containers(busybox_daemon, net):
    import urllib.parse
    import urllib.request

    d = busybox_daemon
    net("dy-visitors", "10.245.0.0/24")
    d.docker("run", "-d", "--name", "dy-web", "--hostname", "webhost", "-p", "127.0.0.1::7100", "-p", "18093:7100",
             "busybox", "sh", "-c", HTTPD)  # fmt: skip
    mapped = d.docker("port", "dy-web", "7100/tcp").stdout.split()
    assert "0.0.0.0:18093" in mapped
    loopback = next(m for m in mapped if m.startswith("127.0.0.1:"))
    time.sleep(0.5)
    for url in (f"http://{loopback}/", "http://127.0.0.1:18093/"):
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read().decode().strip() == "published-webhost"
    # another network's container, through the host's address on its own bridge
    # (busybox-static's wget crashes in glibc's resolver: nc speaks the HTTP)
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.245.0.1 18093"
    got = d.docker("run", "--rm", "--network", "dy-visitors", "busybox", "sh", "-c", request).stdout
    assert got.splitlines()[-1].strip() == "published-webhost"
    summary = d.docker("ps", "--filter", "name=dy-web", "--format", "{{.Ports}}").stdout
    assert "0.0.0.0:18093->7100/tcp" in summary
    _, _, body = d.request("GET", "/v1.50/containers/json?filters=" + urllib.parse.quote('{"name":["dy-web"]}'))
    (listed,) = json.loads(body)
    validate(listed, "ContainerSummary", version="1.50")
    assert {"IP": "0.0.0.0", "PrivatePort": 7100, "PublicPort": 18093, "Type": "tcp"} in listed["Ports"]
    _, _, body = d.request("GET", "/v1.50/containers/dy-web/json")
    validate(json.loads(body), "ContainerInspectResponse", version="1.50")
    taken = d.docker("run", "-d", "--name", "dy-web2", "-p", "18093:7100", "busybox", "sleep", "60", check=False)
    assert taken.returncode != 0 and "port is already allocated" in taken.stderr
    d.docker("rm", "-f", "dy-web", "dy-web2")
    again = d.docker("run", "-d", "--name", "dy-web3", "-p", "18093:7100", "busybox", "sleep", "60", check=False)
    assert again.returncode == 0  # the port went with the container
    d.docker("rm", "-f", "dy-web3")


def test_ipv6_networks_give_both_families(busybox_daemon, net):
    d = busybox_daemon
    net("dy-six", "10.248.0.0/24", "--ipv6", "--subnet", "fd42:d0c:6::/64")
    d.docker("run", "-d", "--name", "dy-six1", "--network", "dy-six", "busybox", "sleep", "60")
    settings = json.loads(d.docker("inspect", "dy-six1").stdout)[0]["NetworkSettings"]["Networks"]["dy-six"]
    assert settings["GlobalIPv6Address"] == "fd42:d0c:6::2" and settings["GlobalIPv6PrefixLen"] == 64
    assert settings["IPv6Gateway"] == "fd42:d0c:6::1" and settings["IPAddress"] == "10.248.0.2"
    network = json.loads(d.docker("network", "inspect", "dy-six").stdout)[0]
    assert (
        network["EnableIPv6"] and {"Subnet": "fd42:d0c:6::/64", "Gateway": "fd42:d0c:6::1"} in network["IPAM"]["Config"]
    )
    assert [c["IPv6Address"] for c in network["Containers"].values()] == ["fd42:d0c:6::2/64"]
    script = (
        "ping -6 -c1 -W2 fd42:d0c:6::2 && ping -6 -c1 -W2 fd42:d0c:6::1 && ip -6 route && nslookup -type=aaaa dy-six1"
    )
    out = d.docker("run", "--rm", "--network", "dy-six", "busybox", "sh", "-c", script).stdout
    assert "default via fd42:d0c:6::1" in out and "Address: fd42:d0c:6::2" in out


def test_host_mode_sees_the_hosts_interfaces_and_none_only_lo(busybox_daemon):
    d = busybox_daemon
    host_side = d.docker("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net").stdout.split()
    assert "eth0" in host_side and set(host_side) <= links() | {"eth0"}
    assert d.docker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net").stdout.split() == ["lo"]
    # and up (IFF_UP), as dockerd leaves it
    flags = d.docker("run", "--rm", "--network", "none", "busybox", "cat", "/sys/class/net/lo/flags").stdout
    assert int(flags, 16) & 0x1


def test_container_mode_shares_the_other_containers_namespace(busybox_daemon, net):
    d = busybox_daemon
    net("dy-share", "10.234.0.0/24")
    d.docker("run", "-d", "--name", "dy-owner", "--network", "dy-share", "busybox", "sleep", "60")
    out = d.docker("run", "--rm", "--network", "container:dy-owner", "busybox", "ip", "addr").stdout
    assert "10.234.0.2/24" in out


def test_the_default_bridge_gives_docker_shaped_settings_and_files(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-plain", "--add-host", "gw:host-gateway", "--dns-search", "dy.test",
             "busybox", "sleep", "60")  # fmt: skip
    try:
        status, _, body = d.request("GET", "/containers/dy-plain/json")
        assert status == 200
        document = json.loads(body)
        validate(document, "ContainerInspectResponse", version="1.50")
        settings = document["NetworkSettings"]
        bridge = settings["Networks"]["bridge"]
        assert settings["IPAddress"] == bridge["IPAddress"] and bridge["IPAddress"]
        assert settings["MacAddress"] == "02:42:" + ":".join(f"{int(b):02x}" for b in bridge["IPAddress"].split("."))
        assert bridge["DNSNames"] is None  # no name resolution on the default bridge
        assert settings["SandboxKey"].startswith(d.exec_root)
        hosts = d.docker("exec", "dy-plain", "cat", "/etc/hosts").stdout
        assert f"{bridge['Gateway']}\tgw" in hosts and f"{bridge['IPAddress']}\t" in hosts
        resolv = d.docker("exec", "dy-plain", "cat", "/etc/resolv.conf").stdout
        assert "search dy.test" in resolv and "127.0.0.11" not in resolv
        route = d.docker("exec", "dy-plain", "ip", "route").stdout
        assert f"default via {bridge['Gateway']}" in route
    finally:
        d.docker("rm", "-f", "dy-plain", check=False)


def test_legacy_links_on_the_default_bridge_name_the_target(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-linked", "-e", "FOO=1", "--expose", "6379", "busybox", "sleep", "60")
    try:
        target_ip = d.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "dy-linked").stdout.strip()
        out = d.docker("run", "--rm", "--name", "dy-linker", "--link", "dy-linked:db", "busybox", "sh", "-c",
                       "cat /etc/hosts && ping -c1 -W2 db && env").stdout  # fmt: skip
        assert f"{target_ip}\tdb dy-linked " in out and "1 packets received" in out
        assert "DB_NAME=/dy-linker/db" in out and "DB_ENV_FOO=1" in out
        assert f"DB_PORT=tcp://{target_ip}:6379" in out
        missing = d.docker("run", "--rm", "--link", "dy-nosuch:x", "busybox", "true", check=False)
        assert "could not get container for dy-nosuch" in missing.stderr
    finally:
        d.docker("rm", "-f", "dy-linked", check=False)


def test_network_commands_and_their_api_shapes(busybox_daemon):
    d = busybox_daemon
    created = d.docker("network", "create", "--subnet", "10.235.0.0/24", "--gateway", "10.235.0.254",
                       "--ip-range", "10.235.0.128/25", "--label", "dy=1", "--internal", "--attachable",
                       "-o", "com.docker.network.bridge.name=dy-cmdtest", "-o", "com.docker.network.driver.mtu=1400",
                       "dy-cmd").stdout.strip()  # fmt: skip
    try:
        assert "dy-cmdtest" in links()
        status, _, body = d.request("GET", "/networks/dy-cmd")
        assert status == 200
        document = json.loads(body)
        validate(document, "Network", version="1.50")
        assert document["Id"] == created and document["Internal"] and document["Attachable"]
        assert document["IPAM"]["Config"] == [{"Subnet": "10.235.0.0/24", "Gateway": "10.235.0.254",
                                               "IPRange": "10.235.0.128/25"}]  # fmt: skip
        assert d.docker("network", "ls", "--filter", "label=dy=1", "--format", "{{.Name}}").stdout.split() == ["dy-cmd"]
        d.docker("run", "-d", "--name", "dy-inner", "--network", "dy-cmd", "busybox", "sleep", "60")
        assert ip_of(d, "dy-inner", "dy-cmd") == "10.235.0.128"
        mtu = d.docker("exec", "dy-inner", "cat", "/sys/class/net/eth0/mtu").stdout.strip()
        assert mtu == "1400"
        assert "default" not in d.docker("exec", "dy-inner", "ip", "route").stdout  # internal: no way out
        status, _, body = d.request("GET", "/v1.50/networks")
        assert status == 200
        for listed in json.loads(body):
            validate(listed, "Network", version="1.50")
        containers = json.loads(d.docker("network", "inspect", "dy-cmd").stdout)[0]["Containers"]
        assert [c["Name"] for c in containers.values()] == ["dy-inner"]
        refused = d.docker("network", "rm", "dy-cmd", check=False)
        assert refused.returncode != 0 and "active endpoints" in refused.stderr
        overlap = d.docker("network", "create", "--subnet", "10.235.0.0/16", "dy-overlap", check=False)
        assert overlap.returncode != 0 and "overlaps 10.235.0.0/24 (network dy-cmd)" in overlap.stderr
    finally:
        d.docker("rm", "-f", "dy-inner", check=False)
        d.docker("network", "rm", "dy-cmd", check=False)
    assert "dy-cmdtest" not in links()
    d.docker("network", "create", "--subnet", "10.236.0.0/24", "dy-pruned")
    assert d.docker("network", "prune", "-f").stdout.split() == ["Deleted", "Networks:", "dy-pruned"]
    assert d.docker("network", "ls", "--format", "{{.Name}}").stdout.split() == ["bridge", "host", "none"]


def test_docker_py_networks(busybox_daemon):
    client = busybox_daemon.client()
    try:
        import docker

        pool = docker.types.IPAMPool(subnet="10.237.0.0/24")
        network = client.networks.create("dy-py", ipam=docker.types.IPAMConfig(pool_configs=[pool]), labels={"x": "y"})
        container = client.containers.run("busybox", "sleep 60", detach=True, name="dy-pyc")
        network.connect(container, aliases=["pyalias"])
        network.reload()
        assert [c.name for c in network.containers] == ["dy-pyc"]
        container.reload()
        assert set(container.attrs["NetworkSettings"]["Networks"]) == {"bridge", "dy-py"}
        network.disconnect(container)
        assert [n.name for n in client.networks.list(names=["dy-py"])] == ["dy-py"]
        container.remove(force=True)
        network.remove()
        assert client.networks.list(names=["dy-py"]) == []
    finally:
        for name in ("dy-pyc",):
            busybox_daemon.docker("rm", "-f", name, check=False)
        busybox_daemon.docker("network", "rm", "dy-py", check=False)
        client.close()


def test_network_events(busybox_daemon):
    d = busybox_daemon
    since = str(time.time())
    d.docker("network", "create", "--subnet", "10.238.0.0/24", "dy-ev")
    d.docker("run", "--rm", "--network", "dy-ev", "busybox", "true")
    d.docker("network", "rm", "dy-ev")
    out = d.docker("events", "--since", since, "--until", str(time.time() + 1), "--filter", "type=network",
                   "--format", "{{.Action}}").stdout.split()  # fmt: skip
    assert out == ["create", "connect", "disconnect", "destroy"]


def test_nothing_remains_after_rm_and_after_kill_9_and_restart(tmp_path):
    from conftest import bootstrap_busybox  # the e2e conftest

    daemon = DockyardDaemon(str(tmp_path / "dy-netrestore"))
    bootstrap_busybox(daemon.data_root)
    daemon.start()
    try:
        daemon.docker("network", "create", "--subnet", "10.239.0.0/24", "dy-keep")
        daemon.docker("run", "-d", "--name", "dy-live", "--network", "dy-keep", "-p", "18094:7100", "busybox",
                      "sh", "-c", HTTPD)  # fmt: skip
        daemon.docker("run", "-d", "--name", "dy-gone", "--network", "dy-keep", "busybox", "sleep", "300")
        daemon.docker("run", "-d", "--name", "dy-quit", "busybox", "sh", "-c", "sleep 2")
        live_ip = ip_of(daemon, "dy-live", "dy-keep")
        assert len(handles(daemon)) == 3
        daemon.docker("rm", "-f", "dy-gone")
        assert len(handles(daemon)) == 2
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
        time.sleep(2.5)  # dy-quit exits while no daemon runs: its veth and namespace are stale
        daemon.start()
        assert handles(daemon) == {f"dy-{daemon.docker('inspect', '-f', '{{.Id}}', 'dy-live').stdout.strip()}"}
        assert eventually(lambda: len(veths_of(daemon)) == 1)  # dy-live's
        ping = daemon.docker("run", "--rm", "--network", "dy-keep", "busybox", "ping", "-c1", "-W2", live_ip)
        assert ping.returncode == 0
        # its published port still answers, and is still held: nobody else gets it
        import urllib.request

        with urllib.request.urlopen("http://127.0.0.1:18094/", timeout=5) as response:
            assert response.read().startswith(b"published-")
        taken = daemon.docker("run", "-d", "-p", "18094:80", "busybox", "true", check=False)
        assert "port is already allocated" in taken.stderr
        # the restarted daemon serves the embedded DNS of the container it re-adopted
        assert live_ip in daemon.docker("exec", "dy-live", "nslookup", "dy-live").stdout
        daemon.docker("rm", "-f", "dy-live", "dy-quit")
        daemon.docker("network", "rm", "dy-keep")
        assert handles(daemon) == set()
        # the kernel deletes a namespace's veth pairs in the background once it goes
        assert eventually(lambda: veths_of(daemon) == set())
        mounts = subprocess.run(["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
        assert os.path.join(daemon.exec_root, "netns") not in mounts
    finally:
        daemon.close()


def test_daemon_json_pools_and_bip_shape_the_networks(tmp_path):
    from conftest import bootstrap_busybox  # the e2e conftest

    daemon = DockyardDaemon(str(tmp_path / "dy-netconfig"))
    os.makedirs(daemon.base, exist_ok=True)
    config = {"default-address-pools": [{"base": "10.246.0.0/16", "size": 24}], "bip": "10.247.0.1/24"}

    def configure() -> None:
        with open(os.path.join(daemon.base, "daemon.json"), "w") as f:
            json.dump(config, f)

    configure()
    bootstrap_busybox(daemon.data_root)
    try:
        daemon.start()

        def ipam_of(name: str) -> dict:
            return json.loads(daemon.docker("network", "inspect", name).stdout)[0]["IPAM"]["Config"][0]

        default_id = daemon.docker("network", "inspect", "-f", "{{.Id}}", "bridge").stdout.strip()
        assert ipam_of("bridge") == {"Subnet": "10.247.0.0/24", "Gateway": "10.247.0.1"}
        daemon.docker("network", "create", "dy-pool1")
        daemon.docker("network", "create", "dy-pool2")
        assert ipam_of("dy-pool1")["Subnet"] == "10.246.0.0/24"
        assert ipam_of("dy-pool2")["Subnet"] == "10.246.1.0/24"
        static = daemon.docker("run", "--rm", "--ip", "10.247.0.9", "busybox", "true", check=False)
        assert "user specified IP address is supported on user defined networks only" in static.stderr
        out = daemon.docker("run", "--rm", "busybox", "ip", "addr").stdout
        assert "10.247.0.2/24" in out
        daemon.stop()
        config["bip"] = "10.247.5.1/24"
        configure()
        daemon.start()
        assert ipam_of("bridge") == {"Subnet": "10.247.5.0/24", "Gateway": "10.247.5.1"}
        assert daemon.docker("network", "inspect", "-f", "{{.Id}}", "bridge").stdout.strip() == default_id
        addresses = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", daemon.bridge], capture_output=True,
                                   text=True).stdout  # fmt: skip
        assert "10.247.5.1/24" in addresses and "10.247.0.1" not in addresses
        assert "10.247.5.2/24" in daemon.docker("run", "--rm", "busybox", "ip", "addr").stdout
        # IPv6 on the default bridge (dockerd's ipv6 and fixed-cidr-v6)
        daemon.stop()
        config |= {"ipv6": True, "fixed-cidr-v6": "fd42:d0c:247::/64"}
        configure()
        daemon.start()
        bridge = json.loads(daemon.docker("network", "inspect", "bridge").stdout)[0]
        assert bridge["EnableIPv6"]
        assert {"Subnet": "fd42:d0c:247::/64", "Gateway": "fd42:d0c:247::1"} in bridge["IPAM"]["Config"]
        out = daemon.docker("run", "--rm", "busybox", "sh", "-c", "ip addr && ping -6 -c1 -W2 fd42:d0c:247::1").stdout
        assert "fd42:d0c:247::2/64" in out and "1 packets received" in out
    finally:
        daemon.close()


def test_macvlan_networks_on_a_parent_interface(busybox_daemon, net):
    from pyroute2 import IPRoute

    d = busybox_daemon
    parent = f"dy-e{os.getpid() % 0xFFFF:04x}"
    with IPRoute() as ipr:  # a veth pair stands for the host's parent interface (no dummy module here)
        ipr.link("add", ifname=parent, kind="veth", peer={"ifname": parent + "p"})
        for name in (parent, parent + "p"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    try:
        net("dy-mac", "10.251.0.0/24", "-d", "macvlan", "-o", f"parent={parent}")
        d.docker("run", "-d", "--name", "dy-mac1", "--network", "dy-mac", "busybox", "sleep", "60")
        out = d.docker("run", "--rm", "--network", "dy-mac", "busybox", "sh", "-c",
                       "ping -c1 -W2 dy-mac1 && ip -o link show eth0").stdout  # fmt: skip
        assert "1 packets received" in out and "02:42:0a:fb:00:03" in out  # by name, with docker's MAC
        network = json.loads(d.docker("network", "inspect", "dy-mac").stdout)[0]
        assert network["Driver"] == "macvlan" and network["Options"] == {"parent": parent}
        refused = d.docker("network", "create", "-d", "macvlan", "-o", "parent=dy-nosuch", "dy-mac2", check=False)
        assert "parent interface was not found on the host: dy-nosuch" in refused.stderr
    finally:
        d.docker("rm", "-f", "dy-mac1", check=False)
        d.docker("network", "rm", "dy-mac", check=False)
        with IPRoute() as ipr:
            assert ipr.link_lookup(ifname=parent), "the user's parent interface is left alone"
            ipr.link("del", ifname=parent)
