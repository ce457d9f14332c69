"""The embedded DNS server answering from inside real network namespaces.

Every namespace is a scratch one named dy-dnstest-…; every upstream is a fake
nameserver on a 127.0.0.x address of this host: no query leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from dockyard.errors import NotFound
from dockyard.network.dns import EmbeddedDns
from dockyard.network.resolvconf import ResolvConf, Upstream, container_dns
from support.dns import FakeBackend, FakeUpstream, LoopThread, ask, scratch_netns

pytestmark = pytest.mark.integration


@pytest.fixture
def loop():
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def backend() -> FakeBackend:
    backend = FakeBackend()
    backend.add("c1", "web", "172.30.0.2")
    backend.add("c1", "db", "172.30.0.3", "fd00::3")
    backend.add("c2", "other", "172.31.0.9")
    return backend


@pytest.fixture
def dns(loop, backend):
    server = EmbeddedDns(backend, timeout=1.0)
    yield server
    loop.run(server.close())


@pytest.fixture
def netns():
    with scratch_netns() as path:
        yield path


@pytest.fixture
def upstream(loop):
    fake = loop.run(FakeUpstream("127.0.0.21", {"outside.test": ["192.0.2.7"]}).start())
    yield fake
    loop.run(fake.close())


def a_records(reply: DNSRecord | None) -> list[str]:
    assert reply is not None, "no reply"
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def test_a_container_name_resolves_inside_its_namespace_over_udp_and_tcp(loop, dns, netns):
    loop.run(dns.serve("c1", netns))
    for tcp in (False, True):
        reply = ask(netns, DNSRecord.question("web"), tcp=tcp)
        assert a_records(reply) == ["172.30.0.2"]
        assert reply.header.rcode == RCODE.NOERROR and reply.rr[0].ttl == 600


def test_each_namespace_sees_its_own_containers_names(loop, dns, netns):
    with scratch_netns() as second:
        loop.run(dns.serve("c1", netns))
        loop.run(dns.serve("c2", second))
        assert a_records(ask(second, DNSRecord.question("other"))) == ["172.31.0.9"]
        # c2 has no upstreams: a name it cannot see is not answered from c1's table.
        reply = ask(second, DNSRecord.question("web"))
        assert reply is not None and reply.header.rcode == RCODE.SERVFAIL and not reply.rr
        assert dns.serving() == {"c1", "c2"}


def test_busybox_nslookup_inside_the_namespace(loop, dns, netns, backend):
    if shutil.which("busybox") is None:
        pytest.skip("busybox is not installed")
    loop.run(dns.serve("c1", netns))
    name = os.path.basename(netns)
    result = subprocess.run(
        ["ip", "netns", "exec", name, "busybox", "nslookup", "-type=a", "web", "127.0.0.11"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "172.30.0.2" in result.stdout


def test_many_addresses_are_cut_over_udp_and_complete_over_tcp(loop, dns, netns, backend):
    everyone = [f"172.30.2.{n}" for n in range(1, 81)]
    backend.add("c1", "pool", *everyone)
    loop.run(dns.serve("c1", netns))
    cut = ask(netns, DNSRecord.question("pool"))
    assert cut is not None and cut.header.tc == 1 and 0 < len(cut.rr) < len(everyone)
    whole = ask(netns, DNSRecord.question("pool"), tcp=True)
    assert a_records(whole) == sorted(everyone) and whole.header.tc == 0


def test_ptr_for_a_container_address(loop, dns, netns):
    loop.run(dns.serve("c1", netns))
    reply = ask(netns, DNSRecord.question("2.0.30.172.in-addr.arpa", "PTR"))
    assert reply is not None and [str(rr.rdata) for rr in reply.rr] == ["web."]


def test_unknown_names_are_forwarded_to_the_upstream(loop, dns, netns, backend, upstream):
    backend.upstream_servers["c1"] = [upstream.upstream]
    loop.run(dns.serve("c1", netns))
    assert a_records(ask(netns, DNSRecord.question("outside.test"))) == ["192.0.2.7"]
    missing = ask(netns, DNSRecord.question("missing.test"))
    assert missing is not None and missing.header.rcode == RCODE.NXDOMAIN
    assert upstream.queries == [("udp", "outside.test"), ("udp", "missing.test")]


def test_an_ipv6_upstream_is_reached_over_udp_and_tcp(loop, dns, netns, backend):
    if not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6 on this host")
    v6 = loop.run(FakeUpstream("::1", {"outside.test": ["192.0.2.8"]}, mode="truncate").start())
    try:
        backend.upstream_servers["c1"] = [v6.upstream]
        loop.run(dns.serve("c1", netns))
        assert a_records(ask(netns, DNSRecord.question("outside.test"))) == ["192.0.2.8"]
        assert v6.queries == [("udp", "outside.test"), ("tcp", "outside.test")]
    finally:
        loop.run(v6.close())


def test_a_query_over_tcp_is_forwarded_over_tcp(loop, dns, netns, backend, upstream):
    backend.upstream_servers["c1"] = [upstream.upstream]
    loop.run(dns.serve("c1", netns))
    assert a_records(ask(netns, DNSRecord.question("outside.test"), tcp=True)) == ["192.0.2.7"]
    assert upstream.queries == [("tcp", "outside.test")]


def test_a_truncated_upstream_reply_is_fetched_again_over_tcp(loop, dns, netns, backend, upstream):
    upstream.mode = "truncate"
    backend.upstream_servers["c1"] = [upstream.upstream]
    loop.run(dns.serve("c1", netns))
    reply = ask(netns, DNSRecord.question("outside.test"))
    assert a_records(reply) == ["192.0.2.7"] and not reply.header.tc
    assert upstream.queries == [("udp", "outside.test"), ("tcp", "outside.test")]


def test_when_the_tcp_retry_fails_the_client_gets_the_truncated_reply(loop, dns, netns, backend, upstream):
    upstream.mode = "truncate-no-tcp"
    backend.upstream_servers["c1"] = [upstream.upstream]
    loop.run(dns.serve("c1", netns))
    reply = ask(netns, DNSRecord.question("outside.test"))
    assert reply is not None and reply.header.tc == 1 and reply.header.rcode == RCODE.NOERROR
    assert upstream.queries == [("udp", "outside.test"), ("tcp", "outside.test")]


def test_a_failing_upstream_is_skipped_for_the_next(loop, dns, netns, backend, upstream):
    broken = loop.run(FakeUpstream("127.0.0.22", {}, mode="servfail").start())
    silent = loop.run(FakeUpstream("127.0.0.23", {}, mode="silent").start())
    try:
        backend.upstream_servers["c1"] = [broken.upstream, silent.upstream, upstream.upstream]
        loop.run(dns.serve("c1", netns))
        assert a_records(ask(netns, DNSRecord.question("outside.test"))) == ["192.0.2.7"]
        assert broken.queries and silent.queries
    finally:
        loop.run(broken.close())
        loop.run(silent.close())


def test_an_upstream_nobody_listens_on_is_skipped_without_waiting(loop, backend, netns, upstream):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.25", 0))
        closed_port = probe.getsockname()[1]  # free again once the probe is closed
    patient = EmbeddedDns(backend, timeout=60)
    try:
        backend.upstream_servers["c1"] = [Upstream("127.0.0.25", closed_port), upstream.upstream]
        loop.run(patient.serve("c1", netns))
        # The ICMP "port unreachable" moves on at once: the answer comes long before the
        # 60 s upstream timeout (the client gives up after 10 s).
        assert a_records(ask(netns, DNSRecord.question("outside.test"), timeout=10)) == ["192.0.2.7"]
    finally:
        loop.run(patient.close())


def test_servfail_when_no_upstream_answers(loop, dns, netns, backend):
    silent = loop.run(FakeUpstream("127.0.0.24", {}, mode="silent").start())
    try:
        backend.upstream_servers["c1"] = [silent.upstream]
        loop.run(dns.serve("c1", netns))
        reply = ask(netns, DNSRecord.question("outside.test"))
        assert reply is not None and reply.header.rcode == RCODE.SERVFAIL
        assert silent.queries == [("udp", "outside.test")]
    finally:
        loop.run(silent.close())


def test_garbage_is_dropped_and_the_server_keeps_answering(loop, dns, netns):
    loop.run(dns.serve("c1", netns))
    assert ask(netns, b"\x00\x01garbage", timeout=0.5) is None
    assert ask(netns, DNSRecord.question("web").reply().pack(), timeout=0.5) is None  # a response, not a query
    assert a_records(ask(netns, DNSRecord.question("web"))) == ["172.30.0.2"]


def test_serve_again_replaces_the_sockets_as_after_a_daemon_restart(loop, backend, netns):
    first = EmbeddedDns(backend)
    loop.run(first.serve("c1", netns))
    loop.run(first.serve("c1", netns))  # the same server again: replaces, no EADDRINUSE
    loop.run(first.close())  # the old daemon's sockets are gone...
    second = EmbeddedDns(backend)
    try:
        loop.run(second.serve("c1", netns))  # ...and a new daemon binds again
        assert a_records(ask(netns, DNSRecord.question("web"))) == ["172.30.0.2"]
    finally:
        loop.run(second.close())


def test_stop_closes_the_sockets(loop, dns, netns):
    loop.run(dns.serve("c1", netns))
    loop.run(dns.stop("c1"))
    assert ask(netns, DNSRecord.question("web"), timeout=0.5) is None
    assert dns.serving() == set()


def test_a_missing_namespace_is_not_found(loop, dns, tmp_path):
    with pytest.raises(NotFound):
        loop.run(dns.serve("c1", str(tmp_path / "dy-no-such-netns")))
    assert dns.serving() == set()


def test_the_daemon_thread_stays_in_its_own_namespace(loop, dns, netns):
    before = os.readlink("/proc/thread-self/ns/net")
    loop.run(dns.serve("c1", netns))
    assert os.readlink("/proc/thread-self/ns/net") == before


def test_a_real_container_resolves_through_its_resolv_conf(loop, dns, netns, backend, upstream, make_bundle, run):
    # A busybox container run by dockyard-runtime in the served namespace, with the
    # resolv.conf Dockyard writes for user networks: libc-style lookups by name, ours
    # answered, others forwarded, nothing but the file telling it where to ask.
    backend.upstream_servers["c1"] = [upstream.upstream]
    loop.run(dns.serve("c1", netns))
    bundle = make_bundle(["sh", "-c", "nslookup web; nslookup outside.test"])
    namespaces = [ns for ns in bundle.config["linux"]["namespaces"] if ns["type"] != "network"]
    bundle.config["linux"]["namespaces"] = [*namespaces, {"type": "network", "path": netns}]
    # No search domain: busybox's nslookup tries only "name.<search>" for a bare name, so
    # with one it would ask for web.example.test (so it would under docker too).
    conf = container_dns(ResolvConf.parse("nameserver 10.9.9.9\noptions edns0\n"), embedded=True)
    with open(os.path.join(bundle.rootfs, "etc", "resolv.conf"), "w") as f:
        f.write(conf.resolv_conf)
    code, out, err = run(bundle)
    assert code == 0, out + err
    assert "127.0.0.11" in out and "172.30.0.2" in out and "192.0.2.7" in out, out
