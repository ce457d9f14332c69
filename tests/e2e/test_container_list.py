"""docker ps keeps each container's summary ready between lists (dockyard.api.container_list): every kind of
change shows in the very next list, which the one before it has just warmed; the answer's bytes are the
plain encoding of its documents."""

from __future__ import annotations

import json
import os
import signal
import time
from urllib.parse import quote

import orjson

from conftest import busybox_daemon_in
from support.daemon import DockyardDaemon

WAIT_FOR_GO = "while [ ! -e /tmp/go ]; do sleep 0.1; done; rm /tmp/go; exit 4"


def _listed(d: DockyardDaemon, query: str = "all=1") -> dict[str, dict]:
    """The list answer by container name; it also checks that its bytes are what encoding its documents gives."""
    status, _, body = d.request("GET", f"/v1.50/containers/json?{query}")
    assert status == 200, body
    documents = json.loads(body)
    assert body == orjson.dumps(documents) + b"\n"
    return {summary["Names"][0].removeprefix("/"): summary for summary in documents}


def _filtered(d: DockyardDaemon, filters: dict, query: str = "all=1") -> list[str]:
    return list(_listed(d, f"{query}&filters={quote(json.dumps(filters))}"))


def _line(d: DockyardDaemon, name: str) -> dict:
    return _listed(d)[name]


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.1)


def test_each_change_shows_in_the_next_list(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-list-a", "busybox", "sh", "-c", WAIT_FOR_GO)
    assert (_line(d, "dy-list-a")["State"], _line(d, "dy-list-a")["Status"]) == ("created", "Created")
    d.docker("start", "dy-list-a")
    line = _line(d, "dy-list-a")
    assert line["State"] == "running" and line["Status"].startswith("Up ")
    assert line["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] != ""
    d.docker("pause", "dy-list-a")
    assert (_line(d, "dy-list-a")["State"], _line(d, "dy-list-a")["Status"].endswith("(Paused)")) == ("paused", True)
    d.docker("unpause", "dy-list-a")
    assert _line(d, "dy-list-a")["State"] == "running"
    d.docker("rename", "dy-list-a", "dy-list-b")
    assert "dy-list-a" not in _listed(d) and _listed(d)["dy-list-b"]["State"] == "running"
    d.docker("network", "create", "dy-list-net")
    d.docker("network", "connect", "dy-list-net", "dy-list-b")
    assert sorted(_line(d, "dy-list-b")["NetworkSettings"]["Networks"]) == ["bridge", "dy-list-net"]
    assert _filtered(d, {"network": ["dy-list-net"]}) == ["dy-list-b"]
    d.docker("network", "disconnect", "dy-list-net", "dy-list-b")
    assert sorted(_line(d, "dy-list-b")["NetworkSettings"]["Networks"]) == ["bridge"]
    assert _filtered(d, {"network": ["dy-list-net"]}) == []
    d.docker("exec", "dy-list-b", "touch", "/tmp/go")  # the container exits by itself
    assert d.docker("wait", "dy-list-b").stdout.strip() == "4"
    line = _line(d, "dy-list-b")
    assert line["State"] == "exited" and line["Status"].startswith("Exited (4) ")
    assert line["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    d.docker("start", "dy-list-b")
    assert _line(d, "dy-list-b")["State"] == "running"
    d.docker("stop", "-t", "0", "dy-list-b")
    assert _line(d, "dy-list-b")["Status"].startswith("Exited (137) ")
    d.docker("rm", "dy-list-b")
    assert "dy-list-b" not in _listed(d)
    d.docker("network", "rm", "dy-list-net")


def test_published_ports_show_while_the_container_runs(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-list-web", "-p", "127.0.0.1::80", "busybox", "sleep", "600")
    assert _line(d, "dy-list-web")["Ports"] == []
    d.docker("start", "dy-list-web")
    (port,) = _line(d, "dy-list-web")["Ports"]
    assert (port["IP"], port["PrivatePort"], port["Type"]) == ("127.0.0.1", 80, "tcp") and port["PublicPort"] > 0
    d.docker("rm", "-f", "dy-list-web")


def test_health_shows_in_the_next_list(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-list-health", "--health-cmd", "test -e /tmp/ok", "--health-interval",
             "300ms", "busybox", "sleep", "600")  # fmt: skip

    def health() -> str:
        return d.docker("inspect", "--format", "{{.State.Health.Status}}", "dy-list-health").stdout.strip()

    assert not _line(d, "dy-list-health")["Status"].endswith("(healthy)")
    assert _filtered(d, {"health": ["healthy"]}, "all=0") == []
    d.docker("exec", "dy-list-health", "touch", "/tmp/ok")
    _wait_for(lambda: health() == "healthy", "healthy")
    assert _line(d, "dy-list-health")["Status"].endswith("(healthy)")
    assert _filtered(d, {"health": ["healthy"]}, "all=0") == ["dy-list-health"]
    d.docker("rm", "-f", "dy-list-health")


def test_a_force_removed_image_no_longer_gives_the_command(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-list-base", "busybox", "true")
    d.docker("commit", "--change", 'CMD ["echo", "from-the-image"]', "dy-list-base", "dy-list-image")
    d.docker("create", "--name", "dy-list-child", "dy-list-image")
    assert _line(d, "dy-list-child")["Command"] == "echo from-the-image"
    d.docker("rmi", "-f", "dy-list-image")
    assert _line(d, "dy-list-child")["Command"] == ""
    d.docker("rm", "dy-list-base", "dy-list-child")


def test_sizes_and_filters_give_the_same_lines(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-list-sized", "-l", "dy-list=1", "busybox", "true")
    plain, sized = _line(d, "dy-list-sized"), _listed(d, "all=1&size=1")["dy-list-sized"]
    assert {key: value for key, value in sized.items() if key not in ("SizeRw", "SizeRootFs")} == plain
    assert _filtered(d, {"label": ["dy-list=1"]}) == ["dy-list-sized"]
    d.docker("rm", "dy-list-sized")


def test_a_container_that_dies_while_the_daemon_is_down_is_listed_exited(tmp_path):
    with busybox_daemon_in(tmp_path / "dy-list-restart") as first:
        first.docker("run", "-d", "--name", "dy-list-alone", "busybox", "sleep", "600")
        assert _line(first, "dy-list-alone")["State"] == "running"
        pid = int(first.docker("inspect", "--format", "{{.State.Pid}}", "dy-list-alone").stdout)
        first.stop()
        os.kill(pid, signal.SIGKILL)  # the shim outlives the daemon and records the exit
        first.start()
        assert first.docker("wait", "dy-list-alone").stdout.strip() == "137"
        line = _line(first, "dy-list-alone")
        assert line["State"] == "exited" and line["Status"].startswith("Exited (137) ")


def test_filters_limit_and_order_select_among_the_kept_lines(busybox_daemon):
    d = busybox_daemon
    d.docker("create", "--name", "dy-list-1", "-v", "dy-list-vol:/data", "busybox", "true")
    d.docker("run", "--name", "dy-list-2", "busybox", "sh", "-c", "exit 2", check=False)
    d.docker("create", "--name", "dy-list-3", "-l", "dy-list=3", "busybox", "true")
    everything = _listed(d)
    mine = [name for name in everything if name.startswith("dy-list-")]
    assert mine == ["dy-list-3", "dy-list-2", "dy-list-1"]  # newest first
    assert list(_listed(d, "limit=2")) == mine[:2]
    cases = {
        "id": ([everything["dy-list-1"]["Id"][:12]], ["dy-list-1"]),
        "name": (["dy-list-2"], ["dy-list-2"]),
        "status": (["exited"], ["dy-list-2"]),
        "exited": (["2"], ["dy-list-2"]),
        "ancestor": (["busybox"], mine),
        "volume": (["dy-list-vol"], ["dy-list-1"]),
        "label": (["dy-list=3"], ["dy-list-3"]),
    }
    for key, (values, names) in cases.items():
        assert [name for name in _filtered(d, {key: values}) if name.startswith("dy-list-")] == names, key
    d.docker("rm", *mine)
    d.docker("volume", "rm", "dy-list-vol")


def test_before_and_since_bound_the_list_by_creation(busybox_daemon):
    d = busybox_daemon
    for name in ("dy-list-old", "dy-list-mid", "dy-list-new"):
        d.docker("create", "--name", name, "busybox", "sleep", "600")
    d.docker("start", "dy-list-old", "dy-list-new")
    mid_id = _listed(d)["dy-list-mid"]["Id"]

    def mine(filters: dict, query: str = "all=1") -> list[str]:
        return [name for name in _filtered(d, filters, query) if name.startswith("dy-list-")]

    assert mine({"before": ["dy-list-new"]}) == ["dy-list-mid", "dy-list-old"]
    assert mine({"since": ["dy-list-old"]}) == ["dy-list-new", "dy-list-mid"]
    assert mine({"before": ["/dy-list-new"], "since": ["dy-list-old"]}) == ["dy-list-mid"]
    assert mine({"before": [mid_id]}) == ["dy-list-old"]
    # The bound need not be listed itself: a created one bounds docker ps (running containers only).
    assert mine({"since": ["dy-list-mid"]}, "all=0") == ["dy-list-new"]
    assert mine({"since": ["dy-list-new"], "before": ["dy-list-old"]}) == []
    status, _, body = d.request("GET", f"/v1.50/containers/json?filters={quote(json.dumps({'before': ['dy-nope']}))}")
    assert (status, json.loads(body)["message"]) == (404, "No such container: dy-nope")
    short = d.docker("ps", "--filter", f"since={mid_id[:12]}", check=False)  # as dockerd: a full ID or a name
    assert short.returncode != 0 and f"No such container: {mid_id[:12]}" in short.stderr
    d.docker("rm", "-f", "dy-list-old", "dy-list-mid", "dy-list-new")


def test_publish_expose_and_is_task_filters(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-list-pub", "-p", "127.0.0.1:18081:80", "--expose", "9000/udp", "busybox",
             "sleep", "600")  # fmt: skip
    d.docker("create", "--name", "dy-list-unstarted", "-p", "127.0.0.1:18082:80", "busybox", "true")
    cases = [
        ({"publish": ["18081"]}, ["dy-list-pub"]),
        ({"publish": ["18000-18100/tcp"]}, ["dy-list-pub"]),
        ({"publish": ["80"]}, []),  # the public port, not the container's
        ({"publish": ["18081/udp"]}, []),
        ({"expose": ["80/tcp"]}, ["dy-list-pub"]),
        ({"expose": ["8999-9001/udp"]}, ["dy-list-pub"]),
        ({"expose": ["9000"]}, []),
        ({"is-task": ["true"]}, []),
        ({"is-task": ["false"]}, ["dy-list-unstarted", "dy-list-pub"]),
    ]
    for filters, names in cases:
        assert [name for name in _filtered(d, filters) if name.startswith("dy-list-")] == names, filters
    assert d.docker("ps", "-q", "--filter", "publish=18081/tcp").stdout.strip() != ""
    errors = [
        ({"is-task": ["maybe"]}, 400, "invalid filter 'is-task=[maybe]'"),
        ({"publish": ["1:80"]}, 500, "filter for 'publish' should not contain ':': 1:80"),
        ({"expose": ["90-80"]}, 500, "error while looking up for expose 90-80: invalid range specified for port: "
                                     "90-80"),
        ({"publish": ["http"]}, 500, 'error while looking up for publish http: strconv.ParseUint: parsing "http": '
                                     "invalid syntax"),
    ]  # fmt: skip
    for filters, code, message in errors:
        status, _, body = d.request("GET", f"/v1.50/containers/json?filters={quote(json.dumps(filters))}")
        assert (status, json.loads(body)["message"]) == (code, message)
    d.docker("rm", "-f", "dy-list-pub", "dy-list-unstarted")
