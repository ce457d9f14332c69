"""IPAM: subnets chosen around what is in use, addresses handed out and refused as dockerd does."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import Conflict, InvalidParameter, PermissionDenied
from dockyard.network import ipam

net = ipaddress.ip_network
addr = ipaddress.ip_address


def test_the_first_default_pool_subnet_is_dockers_172_17():
    assert ipam.choose_subnet(ipam.DEFAULT_POOLS, {}) == net("172.17.0.0/16")


def test_a_subnet_routed_on_the_host_is_skipped():
    used = {net("172.17.0.0/16"): "route on docker0", net("172.18.5.0/24"): "route on tun0"}
    assert ipam.choose_subnet(ipam.DEFAULT_POOLS, used) == net("172.19.0.0/16")


def test_after_the_172_pools_come_192_168_slices_of_20():
    used = {net("172.16.0.0/12"): "route on vpn0"}
    assert ipam.choose_subnet(ipam.DEFAULT_POOLS, used) == net("192.168.0.0/20")


def test_exhausted_pools_are_refused():
    pools = (ipam.Pool.parse({"base": "10.9.0.0/24", "size": 25}),)
    with pytest.raises(PermissionDenied, match="non-overlapping"):
        ipam.choose_subnet(pools, {net("10.9.0.0/24"): "network a"})


@given(
    used=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 30)).map(
            lambda t: ipaddress.ip_network((t[0], t[1]), strict=False)
        ),
        max_size=12,
    )
)
def test_a_chosen_subnet_never_overlaps_anything_in_use(used):
    pools = (ipam.Pool.parse({"base": "10.0.0.0/8", "size": 24}), *ipam.DEFAULT_POOLS)
    try:
        chosen = ipam.choose_subnet(pools, {u: "x" for u in used})
    except PermissionDenied:
        return
    assert not any(chosen.overlaps(u) for u in used)


def test_an_overlapping_requested_subnet_is_refused_naming_the_other():
    with pytest.raises(PermissionDenied, match=r"10\.1\.0\.0/16 overlaps 10\.1\.2\.0/24 \(network blue\)"):
        ipam.check_subnet(net("10.1.0.0/16"), {net("10.1.2.0/24"): "network blue"})


def test_pool_entries_are_checked():
    with pytest.raises(InvalidParameter):
        ipam.Pool.parse({"base": "10.0.0.0/16", "size": 8})
    with pytest.raises(InvalidParameter):
        ipam.Pool.parse({"base": "nonsense", "size": 24})


def test_a_subnet_with_host_bits_names_the_right_one():
    with pytest.raises(InvalidParameter, match=r"10\.1\.0\.0/16"):
        ipam.parse_network("10.1.2.3/16")


def test_addresses_skip_network_and_gateway_and_go_up():
    space = ipam.AddressSpace.build(net("10.5.0.0/24"), user_configured=True)
    assert space.gateway == addr("10.5.0.1")
    assert space.allocate(set()) == addr("10.5.0.2")
    assert space.allocate({addr("10.5.0.2"), addr("10.5.0.3")}) == addr("10.5.0.4")


def test_ip_range_limits_dynamic_addresses_but_not_static_ones():
    space = ipam.AddressSpace.build(net("10.5.0.0/24"), "10.5.0.254", "10.5.0.128/25", user_configured=True)
    assert space.allocate(set()) == addr("10.5.0.128")
    assert space.allocate(set(), "10.5.0.9") == addr("10.5.0.9")


def test_auxiliary_addresses_are_never_handed_out():
    space = ipam.AddressSpace.build(net("10.5.0.0/24"), user_configured=True, auxiliary={"router": "10.5.0.2"})
    assert space.allocate(set()) == addr("10.5.0.3")
    with pytest.raises(Conflict):
        space.allocate(set(), "10.5.0.2")
    with pytest.raises(InvalidParameter, match="auxiliary address"):
        ipam.AddressSpace.build(net("10.5.0.0/24"), user_configured=True, auxiliary={"x": "10.6.0.1"})


def test_a_full_range_is_refused():
    space = ipam.AddressSpace.build(net("10.5.0.0/30"), user_configured=True)
    with pytest.raises(Conflict, match="no available IP addresses"):
        space.allocate({addr("10.5.0.2")})


def test_static_addresses_are_checked():
    space = ipam.AddressSpace.build(net("10.5.0.0/24"), user_configured=True)
    with pytest.raises(Conflict, match="Address already in use"):
        space.allocate({addr("10.5.0.7")}, "10.5.0.7")
    with pytest.raises(Conflict, match="Address already in use"):
        space.allocate(set(), "10.5.0.1")  # the gateway
    with pytest.raises(InvalidParameter, match="no configured subnet"):
        space.allocate(set(), "10.6.0.7")
    automatic = ipam.AddressSpace.build(net("172.17.0.0/16"), user_configured=False)
    with pytest.raises(InvalidParameter, match="user configured subnets"):
        automatic.allocate(set(), "172.17.0.9")


def test_gateway_and_range_must_lie_in_the_subnet():
    with pytest.raises(InvalidParameter, match="gateway"):
        ipam.AddressSpace.build(net("10.5.0.0/24"), "10.6.0.1", user_configured=True)
    with pytest.raises(InvalidParameter, match="ip-range"):
        ipam.AddressSpace.build(net("10.5.0.0/24"), "", "10.6.0.0/25", user_configured=True)


@given(st.sets(st.integers(2, 14), max_size=13))
def test_an_allocated_address_is_free_in_range_and_not_reserved(taken_offsets):
    space = ipam.AddressSpace.build(net("10.7.0.0/28"), user_configured=True)
    taken = {addr(int(addr("10.7.0.0")) + o) for o in taken_offsets}
    try:
        got = space.allocate(taken)
    except Conflict:
        assert len(taken) == 13
        return
    assert got not in taken
    assert got not in (addr("10.7.0.0"), addr("10.7.0.1"), addr("10.7.0.15"))
    assert got in space.subnet


def test_mac_addresses_are_02_42_and_the_ip():
    assert ipam.mac_address(addr("172.17.0.2")) == "02:42:ac:11:00:02"
