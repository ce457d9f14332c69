"""Log drivers through the docker CLI: local (the daemon's default here, from daemon.json), json-file with
compression, none; and what is refused at create."""

from __future__ import annotations

import json
import os

import docker
import pytest

from e2e.conftest import busybox_daemon_in

COUNT_TO_400 = "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """A daemon whose daemon.json makes `local` with 2 kB files the default driver."""
    base = tmp_path_factory.mktemp("dy-logs")
    (base / "daemon.json").write_text(json.dumps({"log-driver": "local", "log-opts": {"max-size": "2k"}}))
    with busybox_daemon_in(base) as running:
        yield running


def _inspect(d, name: str) -> dict:
    return json.loads(d.docker("inspect", name).stdout)[0]


def _files_dir(d, name: str) -> str:
    return os.path.join(d.data_root, "containers", _inspect(d, name)["Id"])


def test_the_daemon_s_default_driver_is_local_rotated_and_compressed(d):
    d.docker("run", "--name", "dy-local", "busybox", "sh", "-c", COUNT_TO_400)
    inspected = _inspect(d, "dy-local")
    assert inspected["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {"max-size": "2k"}}
    assert inspected["LogPath"] == ""  # as docker: only json-file names its file
    logs_dir = os.path.join(_files_dir(d, "dy-local"), "local-logs")
    # docker's local defaults: 5 files, the rotated ones gzipped.
    assert sorted(os.listdir(logs_dir)) == ["container.log", *(f"container.log.{n}.gz" for n in range(1, 5))]
    lines = d.docker("logs", "dy-local").stdout.splitlines()
    assert lines[-1] == "line-399" and 20 < len(lines) < 400
    assert lines == [f"line-{n}" for n in range(400 - len(lines), 400)]
    assert d.docker("logs", "--tail", "2", "dy-local").stdout == "line-398\nline-399\n"
    d.docker("rm", "dy-local")


def test_json_file_compresses_rotated_files_when_asked_and_logs_reads_them_all(d):
    d.docker("run", "--name", "dy-gz", "--log-driver", "json-file", "--log-opt", "max-size=2k",
             "--log-opt", "max-file=4", "--log-opt", "compress=true", "busybox", "sh", "-c", COUNT_TO_400)  # fmt: skip
    log_path = _inspect(d, "dy-gz")["LogPath"]
    assert log_path.endswith("-json.log")
    kept = sorted(name for name in os.listdir(os.path.dirname(log_path)) if name.startswith(os.path.basename(log_path)))
    base = os.path.basename(log_path)
    assert kept == [base, f"{base}.1.gz", f"{base}.2.gz", f"{base}.3.gz"]
    lines = d.docker("logs", "dy-gz").stdout.splitlines()
    assert lines[-1] == "line-399" and lines == [f"line-{n}" for n in range(400 - len(lines), 400)]
    assert len(lines) > 60  # three compressed files were read, not only the current one
    d.docker("rm", "dy-gz")


def test_follow_goes_on_across_rotations(d):
    # A line every 2 ms: a file (~66 lines) fills in ~0.13 s, faster than... nothing: the follower finds the
    # files that rotated past it while it slept, as long as they are still kept (max-file).
    d.docker("run", "-d", "--name", "dy-follow", "busybox", "sh", "-c",
             "sleep 1; i=0; while [ $i -lt 400 ]; do echo line-$i; usleep 2000; i=$((i+1)); done")  # fmt: skip
    lines = d.docker("logs", "-f", "dy-follow").stdout.splitlines()
    assert lines == [f"line-{n}" for n in range(400)]
    d.docker("rm", "dy-follow")


def test_none_keeps_no_log_but_run_still_shows_the_output(d):
    shown = d.docker("run", "--name", "dy-quiet", "--log-driver", "none", "busybox", "echo", "hello")
    assert shown.stdout == "hello\n"
    refused = d.docker("logs", "dy-quiet", check=False)
    assert refused.returncode != 0
    assert "configured logging driver does not support reading" in refused.stderr
    assert not os.path.exists(os.path.join(_files_dir(d, "dy-quiet"), "local-logs"))
    d.docker("rm", "dy-quiet")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--log-driver", "bogus"), "no log driver named 'bogus' is registered"),
        (("--log-driver", "json-file", "--log-opt", "colour=red"), "unknown log opt 'colour' for json-file"),
        (("--log-opt", "compress=maybe"), "error reading compress log option"),
        (("--log-driver", "local", "--log-opt", "max-file=1", "--log-opt", "compress=true"), "compress cannot be"),
    ],
)
def test_bad_drivers_and_options_are_refused_at_create_leaving_nothing(d, args, message):
    result = d.docker("create", "--name", "dy-badlog", *args, "busybox", "true", check=False)
    assert result.returncode != 0 and message in result.stderr
    assert d.docker("ps", "-aq", "--filter", "name=dy-badlog").stdout == ""


def test_docker_py_reads_a_local_log(d):
    client = d.client()
    try:
        # docker-py's run() reads logs back only for json-file and journald: local is read through logs().
        container = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], detach=True)
        container.wait()
        assert container.attrs["HostConfig"]["LogConfig"]["Type"] == "local"
        assert container.logs(stdout=True, stderr=False) == b"out\n"
        assert container.logs(stdout=False, stderr=True) == b"err\n"
        container.remove()
    finally:
        client.close()


def _attrs_run(engine, image: str) -> tuple[str, str, dict]:
    """A json-file container with every attribute option, run on engine: `docker logs --details` (with and
    without --timestamps) and the attrs of its log's first record."""
    name = "dy-log-attrs"
    engine.docker("run", "--name", name, "--network", "none", "--label", "app=shop", "--label", "team.owner=o ps",
                  "-e", "STAGE=prod", "-e", "STAGE_REGION=eu,west", "--log-driver", "json-file",
                  "--log-opt", "labels=app,missing", "--log-opt", r"labels-regex=\.owner",
                  "--log-opt", "env=STAGE", "--log-opt", "env-regex=_REGION$",
                  "--log-opt", "tag={{.Name}}/{{.ImageID}}", image, "sh", "-c", "echo one; echo two >&2")  # fmt: skip
    try:
        details = engine.docker("logs", "--details", name).stdout
        stamped = engine.docker("logs", "--details", "--timestamps", name).stdout
        path = json.loads(engine.docker("inspect", name).stdout)[0]["LogPath"]
        with open(path) as f:
            record = json.loads(f.readline())
        return details, stamped, record
    finally:
        engine.docker("rm", "-f", name)


def test_json_file_attributes_and_logs_details_are_docker_s(busybox_daemon, dockerd, tmp_path):
    """The same container on dockerd and on Dockyard: the same attrs in the file, the same --details lines."""
    archive = tmp_path / "busybox.tar"
    busybox_daemon.docker("tag", "busybox", "dy-attrs/busybox:1")
    busybox_daemon.docker("save", "-o", str(archive), "dy-attrs/busybox:1")
    dockerd.docker("load", "-i", str(archive))
    try:
        theirs = _attrs_run(dockerd, "dy-attrs/busybox:1")
        ours = _attrs_run(busybox_daemon, "dy-attrs/busybox:1")
    finally:
        dockerd.docker("rmi", "-f", "dy-attrs/busybox:1", check=False)
        busybox_daemon.docker("rmi", "dy-attrs/busybox:1", check=False)
    assert ours[0] == theirs[0]
    assert ours[2]["attrs"] == theirs[2]["attrs"]
    assert list(ours[2]) == list(theirs[2])  # log, stream, attrs, time: in docker's order
    assert [line.split(" ", 1)[1] for line in ours[1].splitlines()] == [
        line.split(" ", 1)[1] for line in theirs[1].splitlines()
    ]  # the time first, then the attributes


def test_the_api_s_details_put_the_attributes_before_each_line(busybox_daemon):
    """GET /containers/{id}/logs?details=1 (docker-py's logs() has no details): one stdout frame per line."""
    client = docker.DockerClient(base_url=busybox_daemon.host)
    try:
        container = client.containers.run("busybox", ["echo", "hi"], labels={"app": "shop"}, detach=True,
                                          log_config={"Type": "json-file", "Config": {"labels": "app"}})  # fmt: skip
        try:
            container.wait()
            status, _, body = busybox_daemon.request("GET", f"/v1.50/containers/{container.id}/logs?stdout=1&details=1")
            assert status == 200 and body == b"\x01\0\0\0\0\0\0\x0c" + b"app=shop hi\n"
            assert container.logs() == b"hi\n"
        finally:
            container.remove(force=True)
    finally:
        client.close()
