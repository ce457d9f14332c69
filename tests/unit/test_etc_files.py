"""The hosts and resolv.conf files a container gets, as docker writes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.network import etc_files

HOST = etc_files.ResolvConf.parse(
    "# managed\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n"
)


def test_loopback_name_servers_of_the_host_are_dropped():
    text = etc_files.resolv_conf(HOST, dns=[], search=[], options=[], embedded=False)
    assert text == "nameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n"


def test_only_loopback_name_servers_fall_back_to_dockers_defaults():
    host = etc_files.ResolvConf.parse("nameserver 127.0.0.53\n")
    assert etc_files.upstream_servers(host, []) == list(etc_files.FALLBACK_NAMESERVERS)


def test_dns_flags_replace_the_hosts_lines():
    text = etc_files.resolv_conf(HOST, dns=["10.9.9.9"], search=["a.test"], options=["ndots:2"], embedded=False)
    assert text == "nameserver 10.9.9.9\nsearch a.test\noptions ndots:2\n"


def test_dns_search_dot_means_no_search():
    text = etc_files.resolv_conf(HOST, dns=[], search=["."], options=[], embedded=False)
    assert "search" not in text


def test_user_networks_ask_the_embedded_server_which_forwards_to_the_others():
    text = etc_files.resolv_conf(HOST, dns=[], search=[], options=[], embedded=True)
    assert text.splitlines()[0] == "nameserver 127.0.0.11"
    assert "# ExtServers: [10.0.0.2]" in text
    assert text.count("nameserver") == 1


def test_hosts_lists_extra_hosts_then_the_container():
    text = etc_files.hosts("abc", "", ["10.1.0.2"], [("db", "10.1.0.9")])
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("10.1.0.9\tdb\n10.1.0.2\tabc\n")


def test_hosts_with_a_domain_names_both():
    assert etc_files.hosts("web", "example.test", ["10.1.0.2"], []).endswith("10.1.0.2\tweb.example.test web\n")


def test_add_host_accepts_host_gateway_and_both_separators():
    assert etc_files.parse_extra_host("gw:host-gateway", "172.17.0.1") == ("gw", "172.17.0.1")
    assert etc_files.parse_extra_host("v6=[::1]", "x") == ("v6", "::1")
    with pytest.raises(InvalidParameter):
        etc_files.parse_extra_host("nocolon", "x")


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_parsing_any_resolv_conf_never_fails(text):
    parsed = etc_files.ResolvConf.parse(text)
    assert all(" " not in server for server in parsed.nameservers)
