"""What docker-py 7's own integration suite relies on, reproduced with docker-py's low-level API.

Each test names the behaviour of dockerd it pins down; docs/engine.md counts the suite's results.
"""

from __future__ import annotations

import concurrent.futures
import json
import socket
import struct

import docker.errors
import pytest


@pytest.fixture(scope="module")
def api(busybox_daemon):
    client = busybox_daemon.client()
    yield client.api
    client.close()


@pytest.fixture
def cat(api):
    """A running `cat` with stdin open: it waits for input, so execs have something to run in."""
    container = api.create_container("busybox", "cat", stdin_open=True)
    api.start(container)
    yield container["Id"]
    api.remove_container(container, force=True)


def _read_until_closed(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_exec_output_is_framed_unless_the_start_asks_for_a_terminal(api, cat):
    """dockerd frames an exec's output by the start request's Tty, not the exec's: docker-py starts a
    tty exec with Tty false and reads frames (and with a terminal, stdout and stderr are one stream)."""
    command = 'sh -c "echo hello out; echo hello err >&2"'
    framed = api.exec_start(api.exec_create(cat, command, tty=True), demux=True)
    assert framed == (b"hello out\r\nhello err\r\n", None)
    for _ in range(10):  # the pty's last lines come just before its EIO: they must not be lost with it
        raw = api.exec_start(api.exec_create(cat, command, tty=True), tty=True)
        assert raw == b"hello out\r\nhello err\r\n"
    plain = api.exec_start(api.exec_create(cat, command), demux=True)
    assert plain == (b"hello out\n", b"hello err\n")


def test_an_exec_socket_carries_a_frame_header_then_the_output(api, cat):
    exec_id = api.exec_create(cat, ["printf", "yay, interactive exec!"], tty=True)
    sock = api.exec_start(exec_id, socket=True)._sock
    try:
        header = sock.recv(8, socket.MSG_WAITALL)
        stream, size = struct.unpack(">BxxxI", header)
        assert (stream, size) == (1, len("yay, interactive exec!"))
        assert sock.recv(size, socket.MSG_WAITALL) == b"yay, interactive exec!"
    finally:
        sock.close()


def test_exec_create_reads_field_names_in_any_case(api, cat):
    """Go's JSON decoding ignores case: docker-py sends the detach keys of its config file as "detachKeys"."""
    response = api._post_json(
        api._url("/containers/{0}/exec", cat),
        data={"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True, "Tty": True, "detachKeys": "ctrl-p"},
    )
    exec_id = api._result(response, json=True)["Id"]
    sock = api.exec_start(exec_id, tty=True, socket=True)._sock
    try:
        sock.sendall(b"\x10")  # ctrl-p alone detaches: the default ctrl-p,ctrl-q would wait for the q
        assert b"\x10" not in _read_until_closed(sock)
    finally:
        sock.close()


def test_attach_returns_the_logs_of_an_exited_container_without_streaming(api):
    """docker-py reads the stream from the raw socket after parsing the 101 with a buffered reader: output
    sent together with the head would be lost, so the daemon waits until the client has read the head."""
    container = api.create_container("busybox", "echo hello")
    try:
        api.start(container)
        api.wait(container, condition="not-running")
        for _ in range(5):
            assert api.attach(container, stream=False, logs=True) == b"hello\n"
    finally:
        api.remove_container(container)


def test_group_add_and_the_user_s_groups_are_the_process_s_supplementary_groups(api):
    host_config = api.create_host_config(group_add=[1000, "1001", "nogroup"])
    container = api.create_container("busybox", "id -G", host_config=host_config)
    try:
        api.start(container)
        api.wait(container)
        groups = api.logs(container).decode().split()
        assert groups == ["0", "1000", "1001", "65534"]  # nogroup is 65534 in busybox's /etc/group
        assert api.inspect_container(container)["HostConfig"]["GroupAdd"] == ["1000", "1001", "nogroup"]
    finally:
        api.remove_container(container)
    unknown = api.create_container("busybox", "true", host_config=api.create_host_config(group_add=["no-such-group"]))
    try:
        with pytest.raises(Exception, match="unable to find group no-such-group"):
            api.start(unknown)
    finally:
        api.remove_container(unknown, force=True)


def test_config_env_keeps_a_name_without_value_and_the_image_s_entries(api):
    container = api.create_container("busybox", "env", environment={"Foo": None, "Other": "one", "Blank": ""})
    try:
        env = api.inspect_container(container)["Config"]["Env"]
        assert env[:3] == ["Foo", "Other=one", "Blank="]
        assert any(entry.startswith("PATH=") for entry in env[3:])  # the image's, after the container's own
        api.start(container)
        api.wait(container)
        printed = api.logs(container).decode().splitlines()
        assert "Other=one" in printed and "Blank=" in printed and not any(line.startswith("Foo") for line in printed)
    finally:
        api.remove_container(container)


def test_commit_of_a_container_exiting_meanwhile_succeeds(api):
    """commit pauses a running container; one that exits between the pause and the unpause is no error."""
    for _ in range(5):
        container = api.create_container("busybox", ["touch", "/test"])
        try:
            api.start(container)
            image = api.commit(container)["Id"]
            assert image.startswith("sha256:")
            api.remove_image(image, force=True)
        finally:
            api.remove_container(container, force=True)


def test_creating_containers_while_others_are_removed(api):
    """A removal collects unused snapshots: a container's init layer, committed but not yet the parent of
    its writable layer, must not be taken for one."""

    def create_and_remove(_: int) -> str:
        container = api.create_container("busybox", "true")
        api.remove_container(container)
        return container["Id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(create_and_remove, range(24)))
    assert len(set(ids)) == 24


def test_load_streams_its_messages_and_reports_a_bad_archive_inside_the_stream(busybox_daemon):
    client = busybox_daemon.client()
    try:
        image = client.images.get("busybox")
        archive = b"".join(image.save())  # by ID: no tags in the archive, as dockerd saves it
        loaded = client.images.load(archive)
        assert [found.id for found in loaded] == [image.id]
        with pytest.raises(docker.errors.ImageLoadError, match="invalid image archive"):
            client.images.load(b"abc")
    finally:
        client.close()
    status, headers, body = busybox_daemon.request("POST", "/v1.50/images/load", body=b"abc")
    assert status == 200 and headers["Transfer-Encoding"] == "chunked"
    assert json.loads(body)["errorDetail"]["message"].startswith("invalid image archive")


def test_leaving_a_swarm_that_is_not_there_is_docker_s_503(api):
    """docker-py's network tests leave the swarm in every tearDown: leave_swarm(force=True) takes dockerd's
    503 for "not in a swarm" as done, and raises on anything else (a 404)."""
    assert api.leave_swarm(force=True) is True
    with pytest.raises(docker.errors.APIError, match="This node is not part of a swarm") as leaving:
        api.leave_swarm()
    assert leaving.value.status_code == 503
    with pytest.raises(docker.errors.APIError, match="This node is not a swarm manager") as listing:
        api.services()
    assert listing.value.status_code == 503


def test_a_link_is_a_name_of_its_target_until_it_is_removed(api):
    """As dockerd: a link PARENT/ALIAS is listed among the target's Names and resolves to it, the parent's
    HostConfig.Links shows "/TARGET:/PARENT/ALIAS", and remove_container("PARENT/ALIAS", link=True)
    (a name with a slash) removes the link only."""
    target = api.create_container("busybox", "true", name="dy-link-target")
    parent = api.create_container(
        "busybox", "true", name="dy-link-parent", host_config=api.create_host_config(links={"dy-link-target": "db"})
    )
    try:
        assert api.inspect_container(parent)["HostConfig"]["Links"] == ["/dy-link-target:/dy-link-parent/db"]
        assert api.inspect_container("dy-link-parent/db")["Id"] == target["Id"]
        names = {c["Id"]: c["Names"] for c in api.containers(all=True)}
        assert names[target["Id"]] == ["/dy-link-target", "/dy-link-parent/db"]
        api.remove_container("dy-link-parent/db", link=True)
        assert api.inspect_container(parent)["HostConfig"]["Links"] is None
        names = {c["Id"]: c["Names"] for c in api.containers(all=True)}
        assert (names[target["Id"]], names[parent["Id"]]) == (["/dy-link-target"], ["/dy-link-parent"])
        with pytest.raises(docker.errors.NotFound, match="No such container: dy-link-parent/db"):
            api.remove_container("dy-link-parent/db", link=True)
        with pytest.raises(docker.errors.APIError, match="cannot remove the default link name") as refused:
            api.remove_container("dy-link-parent", link=True)
        assert refused.value.status_code == 400  # dockerd 20.10 answers 500: a client's mistake is no server error
    finally:
        api.remove_container(parent, force=True)
        api.remove_container(target, force=True)


def test_a_client_hanging_up_after_an_archive_is_no_daemon_error(api, busybox_daemon):
    """docker-py closes a get_archive response once it has read the tar; the last chunk's terminator may
    then find the connection closing, which is the client's business, not an internal error to log."""
    container = api.create_container("busybox", "true")
    path = f"/v1.50/containers/{container['Id']}/archive?path=/etc/hostname"
    try:
        for _ in range(50):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(busybox_daemon.socket)
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
                assert sock.recv(12) == b"HTTP/1.1 200"
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset
        api.inspect_container(container)  # every request before this one is over
        with open(busybox_daemon.log_path, errors="replace") as log:
            assert "unexpected error serving GET" not in log.read()
    finally:
        api.remove_container(container)
