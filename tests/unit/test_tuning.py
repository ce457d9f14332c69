"""tuning.bridge_mtu's plan; the RTM_NEWLINK message tuning.tune_link sends, and how it reads the acknowledgement."""

from __future__ import annotations

import errno
import struct

import pytest

from dockyard.errors import Internal
from dockyard.network import tuning


def test_setlink_message_carries_the_four_limits_for_the_link():
    message = tuning.setlink_message(index=7, size=196608, seq=3)
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", message)
    assert (length, kind, flags, seq) == (len(message), 16, 0x5, 3)  # RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK
    family, link_type, index, _, change = struct.unpack_from("=BxHiII", message, 16)
    assert (family, link_type, index, change) == (0, 0, 7, 0)
    attrs = [struct.unpack_from("=HHI", message, offset) for offset in range(32, len(message), 8)]
    assert attrs == [(8, kind, 196608) for kind in (41, 58, 63, 64)]


def ack(code: int, kind: int = 2) -> bytes:
    return struct.pack("=IHHII", 36, kind, 0, 1, 0) + struct.pack("=i", code) + bytes(16)


def test_ack_error_is_the_negated_code():
    assert tuning.ack_error(ack(0)) == 0
    assert tuning.ack_error(ack(-errno.EINVAL)) == errno.EINVAL


def test_ack_error_refuses_what_is_no_acknowledgement():
    with pytest.raises(Internal):
        tuning.ack_error(ack(0, kind=16))


def test_an_mtu_other_than_dockers_is_kept_everywhere():
    assert tuning.bridge_mtu(9000) == tuning.BridgeMTU(9000)
    assert tuning.bridge_mtu(1400) == tuning.BridgeMTU(1400)


def test_docker_default_mtu_becomes_large_links_with_docker_mtu_routes():
    assert tuning.bridge_mtu(1500) == tuning.BridgeMTU(tuning.LINK_MTU, beyond=1500)
