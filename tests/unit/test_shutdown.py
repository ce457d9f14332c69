"""How long a shutdown without live restore waits for the containers: dockerd's reckoning, and giving up."""

from __future__ import annotations

import threading

import pytest

from dockyard.daemon import config
from dockyard.errors import InvalidParameter
from dockyard.services.shutdown import run_all, wait_limit


@pytest.mark.parametrize(
    ("shutdown_timeout", "stop_timeouts", "expected"),
    [
        (15, [], 15),
        (15, [10, 2], 15),
        (15, [30], 35),  # a container's own stop timeout plus 5 s of grace
        (1, [10], 15),
        (-1, [10], None),  # no limit
        (15, [10, -1], None),  # a container that waits for ever for its stop signal
    ],
)
def test_the_wait_is_at_least_each_container_s_stop_timeout_plus_grace(shutdown_timeout, stop_timeouts, expected):
    assert wait_limit(shutdown_timeout, stop_timeouts) == expected


def test_every_task_runs_and_those_still_running_at_the_limit_are_counted():
    done, never = threading.Event(), threading.Event()
    assert run_all([done.set, done.wait], None) == 0 and done.is_set()
    assert run_all([never.wait, lambda: None], 0) == 1  # never.wait is still blocked: given up on
    never.set()


def test_shutdown_timeout_from_flag_or_file(tmp_path):
    missing = str(tmp_path / "none.json")
    assert config.load(["--config-file", missing]).shutdown_timeout == 15
    assert config.load(["--config-file", missing, "--shutdown-timeout", "3"]).shutdown_timeout == 3
    (tmp_path / "daemon.json").write_text('{"shutdown-timeout": "soon"}')
    with pytest.raises(InvalidParameter, match="invalid shutdown-timeout"):
        config.load(["--config-file", str(tmp_path / "daemon.json")])
