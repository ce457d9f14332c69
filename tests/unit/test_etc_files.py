"""The hosts file a container gets, as docker writes them."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter
from dockyard.network import etc_files


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
