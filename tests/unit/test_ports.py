"""Port specs parse as the docker CLI and dockerd parse them, and NetworkSettings.Ports looks as docker shows it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.network.ports import (
    PortMapping,
    PortRequest,
    Proto,
    api_ports,
    mappings_from_api,
    parse_publish,
    port_requests,
)

# docker run -p value -> the PortBindings the docker CLI 28 sends (go-connections nat.ParsePortSpecs).
PUBLISH = {
    "80": {"80/tcp": [{"HostIp": "", "HostPort": ""}]},
    "8080:80": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
    "127.0.0.1:8080:80/udp": {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
    "127.0.0.1::80": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
    "[::1]:8080:80": {"80/tcp": [{"HostIp": "::1", "HostPort": "8080"}]},
    "8000-8001:80-81/sctp": {
        "80/sctp": [{"HostIp": "", "HostPort": "8000"}],
        "81/sctp": [{"HostIp": "", "HostPort": "8001"}],
    },
    "8000-8010:80": {"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]},
    "80-81": {"80/tcp": [{"HostIp": "", "HostPort": ""}], "81/tcp": [{"HostIp": "", "HostPort": ""}]},
    "53/UDP": {"53/udp": [{"HostIp": "", "HostPort": ""}]},
}

BAD_PUBLISH = {
    "80/icmp": "invalid proto: icmp",
    "x:80": "invalid hostPort: x",
    "8080:0": "invalid containerPort: 0",
    "8080:70000": "invalid containerPort: 70000",
    "1.2.3:80:80": "invalid IP address: 1.2.3",
    "8000-8002:80-81": "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
    "81-80": "invalid containerPort: 81-80",
}


@pytest.mark.parametrize("spec", PUBLISH)
def test_parse_publish_matches_the_docker_cli(spec):
    exposed, bindings = parse_publish([spec])
    assert bindings == PUBLISH[spec]
    assert exposed == {key: {} for key in PUBLISH[spec]}


@pytest.mark.parametrize("spec", BAD_PUBLISH)
def test_parse_publish_refuses_what_the_docker_cli_refuses(spec):
    with pytest.raises(InvalidParameter, match=f"^{re.escape(BAD_PUBLISH[spec])}$"):
        parse_publish([spec])


def test_two_publishes_of_one_container_port_are_two_bindings():
    _, bindings = parse_publish(["8080:80", "127.0.0.1:9090:80"])
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "9090"}]}


ports = st.integers(1, 65535)
protos = st.sampled_from(list(Proto))
host_ips = st.sampled_from(["", "127.0.0.1", "10.1.2.3", "::1"])


@st.composite
def specs(draw):
    """(spec text, expected requests) for docker run -p values built from the grammar."""
    low = draw(st.integers(1, 65500))
    count = draw(st.integers(1, 4))
    proto = draw(protos)
    host_ip = draw(host_ips)
    host_low = draw(st.one_of(st.none(), st.integers(1, 65500)))
    container = f"{low}" if count == 1 else f"{low}-{low + count - 1}"
    text = container
    if host_low is not None:
        host = f"{host_low}" if count == 1 else f"{host_low}-{host_low + count - 1}"
        text = f"{host}:{container}"
    if host_ip:
        text = f"{f'[{host_ip}]' if ':' in host_ip else host_ip}:{'' if host_low is None else host}:{container}"
    text += f"/{proto}"
    expected = [
        PortRequest(low + i, proto, host_ip, host_low + i if host_low else 0, host_low + i if host_low else 0)
        for i in range(count)
    ]
    return text, expected


@given(specs())
@settings(max_examples=300)
def test_a_parsed_spec_asks_for_what_it_says(case):
    text, expected = case
    _, bindings = parse_publish([text])
    assert sorted(port_requests(bindings), key=lambda r: r.container_port) == expected


@given(st.text(max_size=30))
def test_parse_publish_never_fails_other_than_invalid_parameter(text):
    try:
        parse_publish([text])
    except InvalidParameter:
        pass


def test_port_requests_from_the_api_shapes():
    bindings = {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": ""}],
        "53/udp": [{"HostIp": "", "HostPort": "0"}],
        "90": [{"HostPort": "9000-9010"}],
        "443/tcp": [],
    }
    assert port_requests(bindings, ["22/tcp"], publish_all=False) == [
        PortRequest(53, Proto.UDP, "", 0, 0),
        PortRequest(80, Proto.TCP, "", 8080, 8080),
        PortRequest(80, Proto.TCP, "127.0.0.1", 0, 0),
        PortRequest(90, Proto.TCP, "", 9000, 9010),
    ]


def test_publish_all_adds_every_exposed_port_without_a_binding():
    requests = port_requests({"80/tcp": [{"HostPort": "8080"}], "443/tcp": None}, ["22/tcp", "80/tcp", "53/udp"], True)
    assert requests == [
        PortRequest(80, Proto.TCP, "", 8080, 8080),
        PortRequest(22, Proto.TCP),
        PortRequest(53, Proto.UDP),
        PortRequest(443, Proto.TCP),
    ]


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ({"80/tcpx": []}, "invalid port specification: '80/tcpx'"),
        ({"x/tcp": []}, "invalid port specification: 'x/tcp'"),
        ({"80/tcp": [{"HostPort": "99999"}]}, "invalid port specification: '99999'"),
        ({"80/tcp": [{"HostIp": "nowhere", "HostPort": "1"}]}, "invalid IP address: nowhere"),
        ({"80-81/tcp": [{"HostPort": "1-3"}]}, "invalid ranges specified for container and host Ports: 80-81 and 1-3"),
    ],
)
def test_bad_port_bindings_are_invalid_parameters(bindings, message):
    with pytest.raises(InvalidParameter, match=f"^{re.escape(message)}$"):
        port_requests(bindings)


def test_api_ports_lists_exposed_ports_as_null_and_published_ones_as_docker_shows_them():
    mappings = [PortMapping(80, Proto.TCP, "0.0.0.0", 32768), PortMapping(80, Proto.TCP, "127.0.0.1", 8080)]
    assert api_ports(mappings, ["80/tcp", "53/udp"]) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": None,
    }


mappings = st.builds(PortMapping, ports, protos, st.sampled_from(["0.0.0.0", "127.0.0.1", "::", "::1"]), ports)


@given(st.lists(mappings, max_size=6))
def test_api_ports_read_back_give_the_mappings(published):
    assert sorted(mappings_from_api(api_ports(published, ["1/tcp"])), key=repr) == sorted(published, key=repr)
