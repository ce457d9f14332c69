"""Host ports are allocated as dockerd's portallocator does.

The allocator's reservations are replaced by a recorder here (the real sockets are exercised in
tests/integration/test_firewall.py), so these tests hold no host port.
"""

from __future__ import annotations

import errno
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import Conflict, InvalidParameter
from dockyard.network.port_allocator import PortAllocator, kernel_port_range
from dockyard.network.ports import PortMapping, PortRequest, Proto

protos = st.sampled_from(list(Proto))


def test_kernel_port_range_is_read_and_falls_back_like_dockerd(tmp_path):
    path = tmp_path / "range"
    path.write_text("32768\t60999\n")
    assert kernel_port_range(str(path)) == (32768, 60999)
    assert kernel_port_range(str(tmp_path / "missing")) == (49153, 65535)


class Recorder:
    """Stands in for the bound sockets; refuses the ports in `busy` as a host process holding them would,
    and addresses other than loopback, 0.0.0.0 and :: as a host without them would."""

    def __init__(self, busy=()):
        self.busy = set(busy)
        self.open: set[PortMapping] = set()

    def __call__(self, mapping):
        if mapping.host_ip not in ("0.0.0.0", "::", "127.0.0.1", "::1", "10.0.0.1"):
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        if mapping.host_port in self.busy:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        self.open.add(mapping)
        recorder = self

        class Held:
            def close(self):
                recorder.open.discard(mapping)

        return Held()


def allocator(low=100, high=104, busy=()):
    reserve = Recorder(busy)
    return PortAllocator((low, high), reserve), reserve


def test_random_ports_count_on_from_the_last_and_wrap():
    ports, _ = allocator()
    assert [m.host_port for m in ports.allocate("a", [PortRequest(80, Proto.TCP)] * 3)] == [100, 101, 102]
    ports.release("a")
    assert [m.host_port for m in ports.allocate("b", [PortRequest(80, Proto.TCP)] * 3)] == [103, 104, 100]


def test_random_ports_skip_what_the_host_holds():
    ports, _ = allocator(busy={100, 101})
    assert ports.allocate("a", [PortRequest(80, Proto.TCP)])[0].host_port == 102


def test_the_same_host_port_is_refused_with_dockers_message_and_nothing_is_held():
    ports, reserve = allocator()
    ports.allocate("a", [PortRequest(80, Proto.TCP, "", 8080, 8080)])
    with pytest.raises(Conflict, match=r"^Bind for 0\.0\.0\.0:8080 failed: port is already allocated$"):
        ports.allocate("b", [PortRequest(81, Proto.TCP, "", 8081, 8081), PortRequest(80, Proto.TCP, "", 8080, 8080)])
    assert ports.held("b") == []
    assert {m.host_port for m in reserve.open} == {8080}


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        ("", "127.0.0.1", True),
        ("127.0.0.1", "", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "10.0.0.1", False),
        ("", "::", False),
        ("::", "::1", True),
    ],
)
def test_any_address_overlaps_every_address_of_its_family(first, second, conflict):
    ports, _ = allocator()
    ports.allocate("a", [PortRequest(80, Proto.TCP, first, 8080, 8080)])
    request = PortRequest(80, Proto.TCP, second, 8080, 8080)
    if conflict:
        with pytest.raises(Conflict, match="port is already allocated"):
            ports.allocate("b", [request])
    else:
        assert ports.allocate("b", [request])[0].host_port == 8080


def test_protocols_have_separate_ports():
    ports, _ = allocator()
    ports.allocate("a", [PortRequest(53, Proto.TCP, "", 5353, 5353)])
    assert ports.allocate("b", [PortRequest(53, Proto.UDP, "", 5353, 5353)])[0].proto == Proto.UDP


def test_a_host_range_gives_its_first_free_port_and_names_the_range_when_full():
    ports, _ = allocator()
    got = [ports.allocate(str(i), [PortRequest(80, Proto.TCP, "", 9000, 9001)])[0].host_port for i in range(2)]
    assert got == [9000, 9001]
    with pytest.raises(Conflict, match=r"^Bind for 0\.0\.0\.0:9000-9001 failed: port is already allocated$"):
        ports.allocate("c", [PortRequest(80, Proto.TCP, "", 9000, 9001)])


def test_a_pinned_port_the_host_uses_is_refused_with_the_reason():
    ports, _ = allocator(busy={8080})
    message = r"^failed to bind host port for 0\.0\.0\.0:8080:80/tcp: address already in use$"
    with pytest.raises(Conflict, match=message):
        ports.allocate("a", [PortRequest(80, Proto.TCP, "", 8080, 8080)])


def test_an_address_the_host_does_not_have_is_refused_at_once():
    ports, reserve = allocator()
    message = r"^failed to bind host port for 192\.0\.2\.99:100:80/tcp: cannot assign requested address$"
    with pytest.raises(InvalidParameter, match=message):
        ports.allocate("a", [PortRequest(80, Proto.TCP, "192.0.2.99")])
    assert reserve.open == set()


def test_restore_replaces_what_the_owner_held_and_refuses_ports_of_others():
    ports, _ = allocator()
    mapping = PortMapping(80, Proto.TCP, "0.0.0.0", 8080)
    ports.restore("a", [mapping])
    ports.restore("a", [mapping])
    assert ports.held("a") == [mapping]
    with pytest.raises(Conflict):
        ports.restore("b", [mapping])
    assert ports.held("b") == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["alloc", "release"]),
            st.sampled_from("abcd"),
            st.lists(st.tuples(protos, st.sampled_from(["", "127.0.0.1", "10.0.0.1"]), st.integers(0, 8)), max_size=3),
        ),
        max_size=25,
    )
)
@settings(max_examples=200)
def test_live_mappings_never_overlap(operations):
    ports, reserve = allocator(low=100, high=103)
    for operation, owner, wanted in operations:
        if operation == "release":
            ports.release(owner)
            continue
        requests = [PortRequest(80, proto, ip, 200 + p if p else 0, 200 + p if p else 0) for proto, ip, p in wanted]
        try:
            ports.allocate(owner, requests)
        except Conflict:
            pass
    live = [m for owner in "abcd" for m in ports.held(owner)]
    assert set(live) == reserve.open
    for i, x in enumerate(live):
        for y in live[i + 1 :]:
            same = (x.proto, x.host_port) == (y.proto, y.host_port)
            assert not (same and "0.0.0.0" in (x.host_ip, y.host_ip)) and not (same and x.host_ip == y.host_ip)
        assert x.host_port >= 200 or 100 <= x.host_port <= 103


def test_a_dual_stack_container_gets_one_host_port_on_both_any_addresses():
    ports, reserve = allocator()
    ports.allocate("a", [PortRequest(80, Proto.TCP, "::1", 100, 100)])
    got = ports.allocate("b", [PortRequest(80, Proto.TCP)], wildcards=lambda request: ("0.0.0.0", "::"))
    assert got == [PortMapping(80, Proto.TCP, "0.0.0.0", 101), PortMapping(80, Proto.TCP, "::", 101)]
    assert ports.release("b") == got
    assert {m.host_port for m in reserve.open} == {100}


def test_a_dual_stack_port_the_host_holds_on_one_family_is_refused_whole():
    ports, reserve = allocator(busy={8080})
    with pytest.raises(Conflict, match="address already in use"):
        ports.allocate("a", [PortRequest(80, Proto.TCP, "", 8080, 8080)], wildcards=lambda request: ("0.0.0.0", "::"))
    assert reserve.open == set()


def test_concurrent_allocations_never_share_a_port():
    ports, reserve = allocator(low=1000, high=1199)
    results: dict[str, list[PortMapping]] = {}

    def take(owner: str) -> None:
        results[owner] = ports.allocate(owner, [PortRequest(80, Proto.TCP)] * 20)

    threads = [threading.Thread(target=take, args=(f"c{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [m.host_port for mappings in results.values() for m in mappings]
    assert len(taken) == 160 and len(set(taken)) == 160
    assert len(reserve.open) == 160
