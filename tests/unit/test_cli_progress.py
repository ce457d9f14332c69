"""Pull/push/load progress as docker's jsonmessage prints it on a terminal and elsewhere."""

from __future__ import annotations

import io

from dockyard.cli import progress


def test_the_bar_is_docker_s_on_a_wide_terminal():
    detail = {"current": 1_200_000, "total": 3_400_000}
    assert progress.bar(detail, 120) == "[=================>                                 ]    1.2MB/3.4MB"
    assert progress.bar(detail, 100) == "   1.2MB/3.4MB"  # 110 columns or fewer: no bar
    assert progress.bar({"current": 5_000_000}, 120) == "     5MB"  # no total: the count alone


def test_the_time_left_follows_the_rate_so_far():
    detail = {"current": 1_000_000, "total": 4_000_000, "start": 1000}
    assert progress.bar(detail, 80, now=1010).endswith("1MB/4MB 30s")
    assert progress.bar(detail | {"total": 100_000_000}, 80, now=1010).endswith(" 16m30s")


def test_plain_output_prints_a_line_per_message_with_the_daemon_s_progress_text():
    out = io.StringIO()
    messages = [
        {"status": "Pulling fs layer", "id": "abc"},
        {"status": "Downloading", "id": "abc", "progress": "[=>  ] 1kB/2kB", "progressDetail": {"current": 1}},
        {"status": "Pull complete", "id": "abc"},
        {"status": "Digest: sha256:00"},
    ]
    progress.show(iter(messages), out)
    assert out.getvalue() == (
        "abc: Pulling fs layer\nabc: Downloading [=>  ] 1kB/2kB\nabc: Pull complete\nDigest: sha256:00\n"
    )
