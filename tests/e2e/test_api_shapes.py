"""Every JSON answer of the containers, exec, images, volumes, networks and system areas against the Engine API
swagger (v1.50, what docker 28 speaks), as Podman's compat tests check theirs: strict, so an undocumented or
misspelt field fails too. Inspect, list, info, version, history and stats are checked beside their tests."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from support.swagger import validate, validate_response


def _json(daemon, method: str, path: str, body: dict | None = None, expect: int = 200):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    status, _, answer = daemon.request(method, f"/v1.50{path}", body=data, headers=headers)
    assert status == expect, answer
    return json.loads(answer)


@pytest.fixture(scope="module")
def running(busybox_daemon):
    created = _json(
        busybox_daemon, "POST", "/containers/create?name=dy-shapes", {"Image": "busybox", "Cmd": ["sleep", "600"]}, 201
    )
    validate_response(created, "POST", "/containers/create", status=201, version="1.50")
    busybox_daemon.request("POST", "/v1.50/containers/dy-shapes/start")
    yield created["Id"]
    busybox_daemon.docker("rm", "-f", "dy-shapes", check=False)


def test_top_changes_and_update_of_a_running_container(busybox_daemon, running):
    top = _json(busybox_daemon, "GET", "/containers/dy-shapes/top")
    validate_response(top, "GET", "/containers/{id}/top", version="1.50")
    assert any("sleep 600" in " ".join(process) for process in top["Processes"])
    busybox_daemon.docker("exec", "dy-shapes", "touch", "/made-here")
    changes = _json(busybox_daemon, "GET", "/containers/dy-shapes/changes")
    validate_response(changes, "GET", "/containers/{id}/changes", version="1.50")
    assert {"Path": "/made-here", "Kind": 1} in changes
    updated = _json(busybox_daemon, "POST", "/containers/dy-shapes/update", {"RestartPolicy": {"Name": "no"}})
    validate_response(updated, "POST", "/containers/{id}/update", version="1.50")


def test_exec_create_and_inspect(busybox_daemon, running):
    created = _json(busybox_daemon, "POST", "/containers/dy-shapes/exec", {"Cmd": ["sh", "-c", "exit 3"]}, 201)
    validate_response(created, "POST", "/containers/{id}/exec", status=201, version="1.50")
    before = _json(busybox_daemon, "GET", f"/exec/{created['Id']}/json")
    validate_response(before, "GET", "/exec/{id}/json", version="1.50")
    assert (before["Running"], before["ExitCode"]) == (False, None)
    status, _, _ = busybox_daemon.request(
        "POST",
        f"/v1.50/exec/{created['Id']}/start",
        body=b'{"Detach": true}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    for _ in range(100):
        after = _json(busybox_daemon, "GET", f"/exec/{created['Id']}/json")
        if after["ExitCode"] is not None and not after["Running"]:
            break
        time.sleep(0.05)
    validate_response(after, "GET", "/exec/{id}/json", version="1.50")
    assert after["ExitCode"] == 3 and after["ProcessConfig"]["entrypoint"] == "sh"


def test_wait_commit_delete_and_the_prunes(busybox_daemon):
    created = _json(
        busybox_daemon, "POST", "/containers/create?name=dy-shapes-done", {"Image": "busybox", "Cmd": ["true"]}, 201
    )
    busybox_daemon.request("POST", "/v1.50/containers/dy-shapes-done/start")
    waited = _json(busybox_daemon, "POST", "/containers/dy-shapes-done/wait")
    validate_response(waited, "POST", "/containers/{id}/wait", version="1.50")
    assert waited["StatusCode"] == 0
    committed = _json(busybox_daemon, "POST", "/commit?container=dy-shapes-done&repo=dy-shapes&tag=1", {}, 201)
    validate_response(committed, "POST", "/commit", status=201, version="1.50")
    deleted = _json(busybox_daemon, "DELETE", "/images/dy-shapes:1")
    validate_response(deleted, "DELETE", "/images/{name}", version="1.50")
    assert {"Untagged": "dy-shapes:1"} in deleted
    pruned = _json(busybox_daemon, "POST", "/containers/prune?filters=" + quote(json.dumps({"label!": ["keep"]})))
    validate_response(pruned, "POST", "/containers/prune", version="1.50")
    assert created["Id"] in pruned["ContainersDeleted"]
    images_pruned = _json(busybox_daemon, "POST", "/images/prune")
    validate_response(images_pruned, "POST", "/images/prune", version="1.50")


def test_system_df_and_events(busybox_daemon, running):
    df = _json(busybox_daemon, "GET", "/system/df")
    validate_response(df, "GET", "/system/df", version="1.50")
    assert any(container["Id"] == running for container in df["Containers"])
    since = int(time.time()) - 60
    status, _, body = busybox_daemon.request("GET", f"/v1.50/events?since={since}&until={int(time.time()) + 1}")
    assert status == 200
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert any(event["Type"] == "container" and event["Action"] == "start" for event in events)
    for event in events:
        # Not strict: dockerd 28 still sends the legacy status, id and from beside Type, Action and Actor
        # (API 1.52 drops them), and the swagger no longer documents them.
        validate_response(event, "GET", "/events", version="1.50", strict=False)
        assert {"status", "id", "from"} <= event.keys() or event["Type"] != "container"


def test_volume_create_list_prune_and_their_events(busybox_daemon):
    since = int(time.time()) - 1
    created = _json(busybox_daemon, "POST", "/volumes/create", {"Name": "dy-shapes-vol", "Labels": {"a": "b"}}, 201)
    validate_response(created, "POST", "/volumes/create", status=201, version="1.50")
    listed = _json(busybox_daemon, "GET", "/volumes")
    validate_response(listed, "GET", "/volumes", version="1.50")
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["dy-shapes-vol:/data"]}}
    user = _json(busybox_daemon, "POST", "/containers/create", {**body, "Volumes": {"/anonymous": {}}}, 201)["Id"]
    try:
        busybox_daemon.request("POST", f"/v1.50/containers/{user}/start")
        assert _json(busybox_daemon, "POST", f"/containers/{user}/wait")["StatusCode"] == 0
        df = _json(busybox_daemon, "GET", "/system/df?type=volume")
        validate_response(df, "GET", "/system/df", version="1.50")
        used = {volume["Name"]: volume["UsageData"]["RefCount"] for volume in df["Volumes"]}
        assert used["dy-shapes-vol"] == 1
    finally:
        busybox_daemon.request("DELETE", f"/v1.50/containers/{user}")
    pruned = _json(busybox_daemon, "POST", "/volumes/prune")
    validate_response(pruned, "POST", "/volumes/prune", version="1.50")
    assert len(pruned["VolumesDeleted"]) == 1  # the anonymous one: since API 1.42 named ones need all=true
    pruned = _json(busybox_daemon, "POST", "/volumes/prune?filters=" + quote(json.dumps({"all": ["true"]})))
    assert pruned["VolumesDeleted"] == ["dy-shapes-vol"]
    events = _events(busybox_daemon, since, "volume")
    assert {"create", "mount", "unmount", "destroy"} <= {event["Action"] for event in events}


def test_network_create_inspect_list_prune_and_their_events(busybox_daemon):
    since = int(time.time()) - 1
    created = _json(busybox_daemon, "POST", "/networks/create", {"Name": "dy-shapes-net", "Labels": {"a": "b"}}, 201)
    validate_response(created, "POST", "/networks/create", status=201, version="1.50")
    body = {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "dy-shapes-net"}}
    user = _json(busybox_daemon, "POST", "/containers/create?name=dy-shapes-netuser", body, 201)["Id"]
    try:
        busybox_daemon.request("POST", f"/v1.50/containers/{user}/start")
        inspected = _json(busybox_daemon, "GET", "/networks/dy-shapes-net")
        validate_response(inspected, "GET", "/networks/{id}", version="1.50")
        assert list(inspected["Containers"]) == [user]
        listed = _json(busybox_daemon, "GET", "/networks")
        validate_response(listed, "GET", "/networks", version="1.50")
    finally:
        busybox_daemon.request("DELETE", f"/v1.50/containers/{user}?force=1")
    pruned = _json(busybox_daemon, "POST", "/networks/prune")
    validate_response(pruned, "POST", "/networks/prune", version="1.50")
    assert pruned["NetworksDeleted"] == ["dy-shapes-net"]
    events = _events(busybox_daemon, since, "network")
    assert {"create", "connect", "disconnect", "destroy"} <= {event["Action"] for event in events}


def test_container_inspect_and_list_with_their_sizes(busybox_daemon, running):
    inspected = _json(busybox_daemon, "GET", "/containers/dy-shapes/json?size=1")
    validate_response(inspected, "GET", "/containers/{id}/json", version="1.50")
    assert inspected["SizeRootFs"] > 0 and inspected["SizeRw"] >= 0
    listed = _json(busybox_daemon, "GET", "/containers/json?all=1&size=1")
    validate_response(listed, "GET", "/containers/json", version="1.50")
    assert all(container["SizeRootFs"] > 0 for container in listed)


def _events(daemon, since: int, kind: str) -> list[dict]:
    """The events of one type since a time, each checked strictly: dockerd sends the legacy status, id and
    from for container and image events only."""
    query = f"since={since}&until={int(time.time()) + 1}&filters=" + quote(json.dumps({"type": [kind]}))
    status, _, body = daemon.request("GET", f"/v1.50/events?{query}")
    assert status == 200
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    for event in events:
        assert event["Type"] == kind
        validate_response(event, "GET", "/events", version="1.50")
    return events


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/containers/dy-nosuch/json", 404, "No such container: dy-nosuch"),
        ("GET", "/containers/dy-no/such/json", 404, "No such container: dy-no/such"),  # a link name
        ("GET", "/networks/dy-nosuch", 404, "network dy-nosuch not found"),
        ("GET", "/volumes/dy-nosuch", 404, "get dy-nosuch: no such volume"),
        ("GET", "/images/dy-nosuch/json", 404, "No such image: dy-nosuch:latest"),
        ("POST", "/swarm/leave", 503, "This node is not part of a swarm"),
        ("GET", "/no/such/endpoint", 404, "page not found"),
        ("GET", "/containers/dy-nosuch", 404, "page not found"),  # only DELETE serves it: dockerd says so too
    ],
)
def test_errors_are_docker_s_error_response(busybox_daemon, method, path, status, message):
    answer = _json(busybox_daemon, method, path, expect=status)
    validate(answer, "ErrorResponse", version="1.50")
    assert answer["message"] == message
