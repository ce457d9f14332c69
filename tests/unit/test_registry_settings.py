"""The daemon's registry settings: dockerd's validation of --insecure-registry and --registry-mirror, the
RegistryConfig `docker info` shows, and which registries may be reached over plain HTTP."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.distribution.settings import RegistrySettings, mirror
from dockyard.errors import InvalidParameter


def test_localhost_is_always_insecure_and_listed_last():
    settings = RegistrySettings.parse(["10.1.2.3/16", "myreg:5000"])
    assert settings.info()["InsecureRegistryCIDRs"] == ["10.1.0.0/16", "127.0.0.0/8"]
    assert RegistrySettings.parse().info()["InsecureRegistryCIDRs"] == ["127.0.0.0/8"]


def test_named_registries_are_index_configs_that_are_not_secure():
    info = RegistrySettings.parse(["myreg:5000", "http://other:5001", "myreg:5000"]).info()
    assert info["IndexConfigs"] == {
        "myreg:5000": {"Name": "myreg:5000", "Mirrors": [], "Secure": False, "Official": False},
        "other:5001": {"Name": "other:5001", "Mirrors": [], "Secure": False, "Official": False},
    }


def test_a_cidr_makes_the_registries_whose_address_lies_in_it_insecure():
    settings = RegistrySettings.parse(["10.1.0.0/16", "myreg:5000"])
    assert settings.is_insecure("10.1.4.5:5000")
    assert settings.is_insecure("127.0.0.1:5000")
    assert settings.is_insecure("localhost:5000", addresses=["127.0.0.1"])  # the caller resolves names
    assert settings.is_insecure("myreg:5000")
    assert not settings.is_insecure("myreg:5001")
    assert not settings.is_insecure("10.2.0.1")
    assert not settings.is_insecure("far.example:443", addresses=["192.0.2.7"])


def test_an_ipv6_registry_is_matched_by_its_address():
    settings = RegistrySettings.parse(["fd00:1::/64"])
    assert settings.is_insecure("[fd00:1::5]:5000")
    assert not settings.is_insecure("[fd00:2::5]:5000")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("myreg:5000/path", 'insecure registry myreg:5000/path is not valid: invalid host "myreg"'),
        ("ftp://x", "insecure registry ftp://x should not contain '://'"),
        ("-bad", r"invalid index name \(-bad\). Cannot begin or end with a hyphen"),
        ("myreg:99999", 'insecure registry myreg:99999 is not valid: invalid port "99999"'),
        ("my_reg", 'insecure registry my_reg is not valid: invalid host "my_reg"'),
    ],
)
def test_bad_insecure_registries_get_dockerd_s_message(entry, message):
    with pytest.raises(InvalidParameter, match=f"^{message}$"):
        RegistrySettings.parse([entry])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("10.9.9.9:5000", 'invalid mirror: "10.9.9.9:5000" is not a valid URI'),
        ("myhost", 'invalid mirror: unsupported scheme "" in "myhost"'),
        ("ftp://myhost", 'invalid mirror: unsupported scheme "ftp" in "ftp://myhost"'),
        ("http://m:5000/path", 'invalid mirror: path, query, or fragment at end of the URI "http://m:5000/path"'),
        ("http://m?x=1", r'invalid mirror: path, query, or fragment at end of the URI "http://m\?x=1"'),
        ("http://u:p@m", 'invalid mirror: username/password not allowed in URI "http://u:xxxxx@m"'),
    ],
)
def test_bad_mirrors_get_dockerd_s_message(url, message):
    with pytest.raises(InvalidParameter, match=f"^{message}$"):
        mirror(url)


def test_mirrors_keep_one_trailing_slash_and_no_duplicates():
    settings = RegistrySettings.parse(mirrors=["http://10.9.9.9:5000", "https://m.internal/", "http://10.9.9.9:5000/"])
    assert settings.info()["Mirrors"] == ["http://10.9.9.9:5000/", "https://m.internal/"]


_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(st.lists(_labels, min_size=1, max_size=4), st.one_of(st.none(), st.integers(0, 65535)))
def test_every_host_and_port_of_the_reference_grammar_is_a_named_insecure_registry(labels, port):
    name = ".".join(labels) + ("" if port is None else f":{port}")
    settings = RegistrySettings.parse([name])
    assert settings.insecure_names == (name,) and settings.is_insecure(name)


@given(st.ip_addresses(v=4), st.integers(0, 32))
def test_every_ipv4_cidr_holds_its_own_addresses(address, prefix):
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    settings = RegistrySettings.parse([f"{address}/{prefix}"])
    assert network in settings.insecure_networks
    assert settings.is_insecure(f"{address}:443")


@given(st.text(max_size=30))
def test_any_text_is_accepted_or_refused_with_invalid_parameter(text):
    try:
        RegistrySettings.parse([text], [text])
    except InvalidParameter:
        pass
