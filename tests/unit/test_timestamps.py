"""RFC 3339 times as the Engine API writes them, read back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dockyard import timestamps


@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**9))
def test_a_written_time_reads_back_to_the_microsecond(ns):
    assert abs(timestamps.seconds(timestamps.from_ns(ns)) - ns / 10**9) < 2e-6


def test_zero_empty_and_unreadable_times_are_zero():
    assert [timestamps.seconds(s) for s in (timestamps.ZERO, "", "yesterday")] == [0.0, 0.0, 0.0]


def test_an_offset_is_honoured():
    assert timestamps.seconds("2026-11-23T13:00:00+01:00") == timestamps.seconds("2026-11-23T12:00:00Z")
