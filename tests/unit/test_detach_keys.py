"""The detach-key parser (docker's syntax and message) and the scanner that finds the sequence in input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.api.detach_keys import DetachScanner, parse
from dockyard.errors import InvalidParameter


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (None, b"\x10\x11"),
        ("", b"\x10\x11"),
        ("ctrl-p,ctrl-q", b"\x10\x11"),
        ("ctrl-a,x", b"\x01x"),
        ("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x00\x1b\x1c\x1d\x1e\x1f"),
        ("a,b,c", b"abc"),
        ("ctrl-z", b"\x1a"),
    ],
)
def test_docker_s_detach_key_syntax(text, keys):
    assert parse(text) == keys


@pytest.mark.parametrize("text", ["ctrl-P", "ctrl-1", "ctrl-", "ab", "ctrl-a,,x", "é", "alt-x"])
def test_bad_detach_keys_are_refused_with_docker_s_message(text):
    with pytest.raises(InvalidParameter) as raised:
        parse(text)
    assert str(raised.value) == f"Invalid detach keys ({text}) provided"


def _feed_in_chunks(scanner: DetachScanner, data: bytes, cuts: list[int]) -> tuple[bytes, bool]:
    out, start = b"", 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        passed, detached = scanner.feed(data[start:cut])
        out += passed
        if detached:
            return out, True
        start = max(start, cut)
    return out, False


@given(st.binary(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=5))
def test_input_without_the_sequence_passes_unchanged_however_it_is_cut(data, cuts):
    keys = b"\x10\x11"
    if keys in data:
        return
    out, detached = _feed_in_chunks(DetachScanner(keys), data, cuts)
    assert not detached
    # All of it passes, but a last byte that may begin the sequence, held until the next one shows.
    assert out == data or (out == data[:-1] and data.endswith(keys[:1]))


@given(st.binary(), st.binary(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=5))
def test_the_sequence_detaches_and_only_what_came_before_it_passes(before, after, cuts):
    keys = b"\x01x"
    data = before + keys + after
    out, detached = _feed_in_chunks(DetachScanner(keys), data, cuts)
    assert detached
    assert out == before[: data.index(keys)]


def test_a_false_start_is_released_and_a_repeated_first_key_still_detaches():
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"a\x10") == (b"a", False)
    assert scanner.feed(b"b") == (b"\x10b", False)
    assert scanner.feed(b"\x10\x10\x11") == (b"\x10", True)
    overlapping = DetachScanner(b"aab")
    assert overlapping.feed(b"xaaab") == (b"xa", True)
