"""A container's resolv.conf from the host's, in docker's three shapes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dockyard.network.resolvconf import ResolvConf, Upstream, container_dns

HOST = """\
# a comment
; another
nameserver 10.255.255.53
nameserver 127.0.0.53
nameserver fd00::53
search corp.example lab.example
options edns0 ndots:2
sortlist 10.0.0.0/8
"""


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_parse_reads_every_directive_and_keeps_unknown_lines():
    conf = ResolvConf.parse(HOST + "nameserver not-an-address\ndomain last.example\n")
    assert conf.nameservers == ("10.255.255.53", "127.0.0.53", "fd00::53")
    assert conf.invalid == ("not-an-address",)
    assert conf.search == ("last.example",)  # the last search/domain wins
    assert conf.options == ("edns0", "ndots:2")
    assert conf.other == ("sortlist 10.0.0.0/8",)
    assert conf.option("ndots") == "2" and conf.option("edns0") == "" and conf.option("rotate") is None


def test_embedded_dns_points_at_127_0_0_11_and_forwards_to_all_host_servers():
    result = container_dns(ResolvConf.parse(HOST), embedded=True)
    assert directives(result.resolv_conf) == [
        "nameserver 127.0.0.11",
        "search corp.example lab.example",
        "options edns0 ndots:2",
        "sortlist 10.0.0.0/8",
    ]
    # The host's loopback resolver stays an upstream: forwarding happens in the host's namespace.
    assert result.upstreams == (Upstream("10.255.255.53"), Upstream("127.0.0.53"), Upstream("fd00::53"))
    assert "# ExtServers: [10.255.255.53 127.0.0.53 fd00::53]" in result.resolv_conf


def test_embedded_dns_adds_ndots_0_unless_a_valid_ndots_is_set():
    plain = container_dns(ResolvConf.parse("nameserver 10.0.0.1\n"), embedded=True)
    assert "options ndots:0" in directives(plain.resolv_conf)
    invalid = container_dns(ResolvConf.parse("nameserver 10.0.0.1\noptions ndots:x rotate\n"), embedded=True)
    assert "options rotate ndots:0" in directives(invalid.resolv_conf)


def test_embedded_dns_uses_the_dns_flags():
    result = container_dns(
        ResolvConf.parse(HOST),
        embedded=True,
        dns=["10.1.1.1"],
        dns_search=["svc.example"],
        dns_options=["timeout:3"],
    )
    assert directives(result.resolv_conf) == [
        "nameserver 127.0.0.11",
        "search svc.example",
        "options timeout:3 ndots:0",
        "sortlist 10.0.0.0/8",
    ]
    assert result.upstreams == (Upstream("10.1.1.1"),)


def test_dns_search_dot_means_no_search_domains():
    result = container_dns(ResolvConf.parse(HOST), embedded=True, dns_search=["."])
    assert not any(line.startswith("search") for line in directives(result.resolv_conf))


def test_embedded_dns_without_host_servers_falls_back_to_docker_defaults():
    result = container_dns(ResolvConf.parse("search x.example\n"), embedded=True)
    assert result.upstreams == (Upstream("8.8.8.8"), Upstream("8.8.4.4"))
    assert directives(result.resolv_conf)[0] == "nameserver 127.0.0.11"


def test_legacy_network_drops_loopback_and_ipv6_servers():
    result = container_dns(ResolvConf.parse(HOST), embedded=False)
    assert [line for line in directives(result.resolv_conf) if line.startswith("nameserver")] == [
        "nameserver 10.255.255.53"
    ]
    assert result.upstreams == ()
    with_v6 = container_dns(ResolvConf.parse(HOST), embedded=False, ipv6=True)
    assert "nameserver fd00::53" in directives(with_v6.resolv_conf)


def test_legacy_network_with_only_loopback_servers_uses_the_defaults():
    result = container_dns(ResolvConf.parse("nameserver 127.0.0.53\noptions edns0\n"), embedded=False)
    assert directives(result.resolv_conf) == ["nameserver 8.8.8.8", "nameserver 8.8.4.4", "options edns0"]
    assert "# Used default nameservers." in result.resolv_conf


def test_legacy_network_keeps_dns_flags_as_given_even_loopback():
    result = container_dns(ResolvConf.parse(HOST), embedded=False, dns=["127.0.0.1"])
    assert directives(result.resolv_conf)[0] == "nameserver 127.0.0.1"


def test_host_network_keeps_the_host_servers():
    result = container_dns(ResolvConf.parse(HOST), embedded=False, host_network=True)
    assert directives(result.resolv_conf)[:3] == [
        "nameserver 10.255.255.53",
        "nameserver 127.0.0.53",
        "nameserver fd00::53",
    ]


def test_upstream_prints_with_its_port():
    assert str(Upstream("10.0.0.1")) == "10.0.0.1:53"
    assert str(Upstream("fd00::1", 5353)) == "[fd00::1]:5353"


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:", min_size=1, max_size=12)
_address = st.ip_addresses().map(str)


@given(
    nameservers=st.lists(_address, max_size=4),
    search=st.lists(_word, max_size=4),
    options=st.lists(_word, max_size=4),
)
def test_render_then_parse_round_trips(nameservers, search, options):
    conf = ResolvConf(tuple(nameservers), tuple(search), tuple(options))
    assert ResolvConf.parse(conf.render(["a comment"])) == conf


@given(st.text(max_size=400))
def test_parse_never_fails_on_any_text(text):
    conf = ResolvConf.parse(text)
    assert all(isinstance(server, str) for server in conf.nameservers)
    container_dns(conf, embedded=True)
    container_dns(conf, embedded=False)
