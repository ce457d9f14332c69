"""The daemon's configuration: the registry, address-pool and userland-proxy directives, from flags or
daemon.json, checked as dockerd checks them."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.daemon import config
from dockyard.errors import InvalidParameter


def load(tmp_path, *flags: str, file: dict | None = None) -> config.DaemonConfig:
    path = tmp_path / "daemon.json"
    if file is not None:
        path.write_text(json.dumps(file))
    return config.load(["--config-file", str(path), *flags])


def test_registries_from_flags_or_the_file_but_not_both(tmp_path):
    loaded = load(tmp_path, "--insecure-registry", "myreg:5000", "--insecure-registry", "10.1.0.0/16",
                  "--registry-mirror", "http://10.9.9.9:5000")  # fmt: skip
    assert loaded.registries.info()["InsecureRegistryCIDRs"] == ["10.1.0.0/16", "127.0.0.0/8"]
    assert loaded.registries.insecure_names == ("myreg:5000",)
    assert loaded.registries.mirrors == ("http://10.9.9.9:5000/",)
    from_file = load(tmp_path, file={"insecure-registries": ["myreg:5000"], "registry-mirrors": ["https://m/"]})
    assert from_file.registries.insecure_names == ("myreg:5000",) and from_file.registries.mirrors == ("https://m/",)
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file: insecure-registries"):
        load(tmp_path, "--insecure-registry", "other:5000")


def test_a_bad_registry_refuses_the_start(tmp_path):
    with pytest.raises(InvalidParameter, match="insecure registry ftp://x should not contain '://'"):
        load(tmp_path, "--insecure-registry", "ftp://x")
    with pytest.raises(InvalidParameter, match="invalid mirror: path, query, or fragment"):
        load(tmp_path, file={"registry-mirrors": ["http://m/path"]})
    with pytest.raises(InvalidParameter, match="insecure-registries must be a list of strings"):
        load(tmp_path, file={"insecure-registries": "myreg:5000"})


def test_default_address_pools_from_the_repeatable_flag(tmp_path):
    loaded = load(tmp_path, "--default-address-pool", "base=10.20.0.0/16,size=24",
                  "--default-address-pool", "BASE=10.30.0.0/16,Size=26")  # fmt: skip
    assert [(str(pool.base), pool.size) for pool in loaded.pools] == [("10.20.0.0/16", 24), ("10.30.0.0/16", 26)]
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file: default-address-pools"):
        load(tmp_path, "--default-address-pool", "base=10.20.0.0/16,size=24",
             file={"default-address-pools": [{"base": "10.40.0.0/16", "size": 24}]})  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("base10", "invalid field 'base10' must be a key=value pair"),
        ("base=10.20.0.0/16,size=x", r'invalid size value: "x" \(must be integer\)'),
        ("base=10.20.0.0/16,size=24,foo=1", "unexpected key 'foo' in 'foo=1'"),
        ("base=nope,size=24", 'invalid base pool "nope": invalid CIDR address: nope'),
        ("base=10.20.0.0/16", "invalid pools size: 0"),
        ("base=10.20.0.0/16,size=8", "invalid pools size: 8"),
        ("base=10.20.0.0/16,size=33", "invalid pools size: 33"),
    ],
)
def test_bad_pools_get_dockerd_s_message(tmp_path, flag, message):
    with pytest.raises(InvalidParameter, match=message):
        load(tmp_path, "--default-address-pool", flag)


@given(st.ip_addresses(v=4), st.integers(0, 32), st.integers(0, 32))
def test_a_pool_flag_is_taken_exactly_when_its_size_fits_its_base(address, prefix, size):
    base = f"{address}/{prefix}"
    try:
        (pool,) = config.load(["--config-file", "/nonexistent/daemon.json",
                               "--default-address-pool", f"base={base},size={size}"]).pools  # fmt: skip
    except InvalidParameter:
        assert size < prefix or size == 0
    else:
        assert pool.base == ipaddress.ip_network(base, strict=False) and pool.size == size >= prefix and size > 0


def test_userland_proxy_is_on_unless_turned_off(tmp_path):
    assert load(tmp_path).userland_proxy is True
    assert load(tmp_path, "--userland-proxy=false").userland_proxy is False
    assert load(tmp_path, "--userland-proxy").userland_proxy is True
    assert load(tmp_path, file={"userland-proxy": False}).userland_proxy is False


def test_a_boolean_directive_takes_only_json_booleans(tmp_path):
    with pytest.raises(InvalidParameter, match="userland-proxy must be true or false"):
        load(tmp_path, file={"userland-proxy": "false"})


def test_userland_proxy_path_is_refused_with_the_reason(tmp_path):
    with pytest.raises(InvalidParameter, match=r"userland-proxy-path is not supported: .* inside the daemon"):
        load(tmp_path, file={"userland-proxy-path": "/usr/libexec/docker/docker-proxy"})
