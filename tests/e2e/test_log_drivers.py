"""Log drivers through the docker CLI: local (the daemon's default here, from daemon.json), json-file with
compression, none; and what is refused at create."""

from __future__ import annotations

import json
import os

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
