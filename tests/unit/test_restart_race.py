"""A stop, kill or rm -f against a restart policy's restart wins, as in dockerd: a pending restart is
cancelled; one already starting the container finishes first, then the stop stops it. The container's start
and stop are replaced by fakes, so each step of the race is placed by events rather than by timing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dockyard import timestamps
from dockyard.errors import Conflict, NotModified
from dockyard.metadata.containers import ContainerRecord
from dockyard.metadata.db import Database
from dockyard.services import containers as containers_module
from dockyard.services.containers import ContainerService

CONTAINER_ID = "c" * 64
EXITED = {"Status": "exited", "Running": False, "Paused": False, "Restarting": False, "Pid": 0, "ExitCode": 1,
          "StartedAt": timestamps.ZERO, "FinishedAt": timestamps.ZERO}  # fmt: skip


class FakeRuns:
    """start() and _terminate() of the service under test: starts wait until `go` is set."""

    def __init__(self, service: ContainerService) -> None:
        self.service = service
        self.starting = threading.Event()
        self.go = threading.Event()
        self.starts = 0
        self.terminated = 0

    def start(self, container_id: str) -> None:
        self.starting.set()
        assert self.go.wait(30), "the test never let the start go on"
        self.starts += 1
        state = {**EXITED, "Status": "running", "Running": True, "ExitCode": 0}
        self.service.records.set_state(container_id, state)

    def terminate(self, record: ContainerRecord, timeout=None, sig=None) -> None:
        self.terminated += 1
        self.service.records.set_state(record.id, EXITED)


@pytest.fixture
def service(tmp_path) -> Iterator[ContainerService]:
    db = Database(str(tmp_path / "metadata.db"))
    found = ContainerService(data_root=str(tmp_path / "data"), exec_root=str(tmp_path / "exec"), db=db,
                             images=None, volumes=None, shims=None, network=None)  # fmt: skip
    found.records.add(ContainerRecord(
        id=CONTAINER_ID, name="dy-race", image_id="", image_name="busybox", created=timestamps.now(), config={},
        host_config={"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}, state=dict(EXITED),
    ))  # fmt: skip
    yield found
    db.close()


@pytest.fixture
def runs(service) -> FakeRuns:
    fake = FakeRuns(service)
    service.start = fake.start
    service._terminate = fake.terminate
    return fake


def _exit_for_a_restart(service: ContainerService) -> None:
    service._schedule_restart(CONTAINER_ID, timestamps.ZERO, timestamps.ZERO)
    assert service.records.get(CONTAINER_ID).state["Status"] == "restarting"


def _exit_for_a_restart_refused(service: ContainerService) -> None:
    service._schedule_restart(CONTAINER_ID, timestamps.ZERO, timestamps.ZERO)
    assert service.records.get(CONTAINER_ID).state["Status"] == "exited"  # stopped by the user: no restart


def test_a_stop_while_the_restart_starts_the_container_stops_it_afterwards(service, runs):
    _exit_for_a_restart(service)
    assert runs.starting.wait(30)  # the restart runs: its start is under way
    original_get = service.get

    def get_then_let_the_start_go_on(name_or_id: str) -> ContainerRecord:
        found = original_get(name_or_id)
        runs.go.set()  # the stop has begun: the start may now end, before or after the stop decides
        return found

    service.get = get_then_let_the_start_go_on
    service.stop(CONTAINER_ID)  # not 304: the restarting container is stopped
    record = service.records.get(CONTAINER_ID)
    assert (runs.starts, runs.terminated, record.manually_stopped) == (1, 1, True)
    assert record.state["Status"] == "exited"
    _exit_for_a_restart_refused(service)


@pytest.mark.parametrize("end", ["stop", "kill", "remove"])
def test_a_stop_kill_or_rm_force_cancels_a_pending_restart(service, runs, monkeypatch, end):
    monkeypatch.setattr(containers_module, "_BACKOFF_START", 3600.0)  # the restart stays pending
    removed = []
    service._remove_stopped = lambda container_id, volumes=False: removed.append(container_id)
    _exit_for_a_restart(service)
    {"stop": service.stop, "kill": service.kill, "remove": lambda name: service.remove(name, force=True)}[end](
        CONTAINER_ID
    )
    assert service._pending_restarts == {}  # its timer is cancelled
    if end == "remove":
        assert removed == [CONTAINER_ID]
        return
    record = service.records.get(CONTAINER_ID)
    assert (record.state["Status"], record.manually_stopped, runs.starts) == ("exited", True, 0)
    with pytest.raises(Conflict if end == "kill" else NotModified):  # stopped now: as for any stopped one
        getattr(service, end)(CONTAINER_ID)
