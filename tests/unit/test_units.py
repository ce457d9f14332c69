"""dockyard.units against go-units' outputs (the figures docker prints)."""

from __future__ import annotations

import pytest

from dockyard.units import bytes_size, from_human_size, human_duration, human_size, ram_in_bytes


@pytest.mark.parametrize(
    ("size", "precision", "expected"),
    [
        (0, 4, "0B"),
        (999, 4, "999B"),
        (1000, 4, "1kB"),
        (1024, 4, "1.024kB"),
        (2_025_000, 4, "2.025MB"),
        (2_025_000, 3, "2.02MB"),
        (4096, 3, "4.1kB"),
        (1e20, 4, "100EB"),
        (1e27, 4, "1000YB"),
        (999_999, 4, "1000kB"),
    ],
)
def test_human_size_is_decimal_with_significant_digits(size, precision, expected):
    assert human_size(size, precision) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "0B"), (1023, "1023B"), (1024, "1KiB"), (1_572_864, "1.5MiB"), (8_346_120_192, "7.773GiB")],
)
def test_bytes_size_is_binary(size, expected):
    assert bytes_size(size) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (3 * 60, "3 minutes"),
        (59 * 60 + 59, "59 minutes"),
        (89 * 60, "About an hour"),
        (90 * 60, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (59 * 86400, "8 weeks"),
        (60 * 86400, "2 months"),
        (729 * 86400, "24 months"),
        (731 * 86400, "2 years"),
    ],
)
def test_human_duration_matches_go_units(seconds, expected):
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("32", 32), ("32b", 32), ("32K", 32 * 1024), ("32kb", 32 * 1024), ("32KiB", 32 * 1024),
     ("1.5g", int(1.5 * 1024**3)), ("512m", 512 * 1024**2), ("1 MB", 1024**2), ("2T", 2 * 1024**4)],
)  # fmt: skip
def test_ram_in_bytes_reads_docker_memory_flags(text, expected):
    assert ram_in_bytes(text) == expected


def test_from_human_size_is_decimal():
    assert from_human_size("1.5GB") == 1_500_000_000
    assert from_human_size("32kb") == 32_000


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "invalid size: ''"), ("-1", "invalid size: '-1'"), ("32x", "invalid suffix: 'x'"),
     ("1kibb", "invalid suffix: 'kibb'")],
)  # fmt: skip
def test_bad_sizes_are_refused_with_go_units_messages(text, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ram_in_bytes(text)
