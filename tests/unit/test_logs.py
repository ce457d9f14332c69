"""Log drivers: the json-file and local formats, rotation with compression, reading across files, options."""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard import timestamps
from dockyard.errors import InvalidParameter
from dockyard.logs import jsonfile, local, reader
from dockyard.logs import options as log_options
from dockyard.logs.writer import LogWriter


def test_local_entry_is_docker_s_protobuf_framed_by_its_length():
    record = local.entry("stdout", 1, b"hi", False)
    message = b"\x0a\x06stdout" + b"\x10\x01" + b"\x1a\x02hi"
    assert record == len(message).to_bytes(4, "big") + message + len(message).to_bytes(4, "big")


def test_local_reads_a_partial_line_without_adding_a_newline():
    records, rest = local.decode(b"".join(local.encode("stderr", [b"no newline"])))
    assert rest == b""
    assert [(r["stream"], r["log"]) for r in records] == [("stderr", "no newline")]


@given(
    st.sampled_from(["stdout", "stderr"]),
    st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"") + b"\n"), max_size=20),
    st.integers(min_value=0, max_value=60),
)
def test_local_round_trips_lines_and_keeps_an_incomplete_frame_for_later(stream, lines, cut):
    data = b"".join(local.encode(stream, lines))
    records, rest = local.decode(data[: len(data) - cut] if cut <= len(data) else b"")
    more, rest = local.decode(rest + data[len(data) - cut :] if cut <= len(data) else data)
    got = [r["log"] for r in records + more]
    assert got == [line.decode(errors="replace") for line in lines] and rest == b""
    assert all(r["stream"] == stream for r in records + more)


def test_local_time_is_rfc3339_nanoseconds():
    (record,), _ = local.decode(local.entry("stdout", 1_700_000_000_123_456_789, b"x", False))
    assert record["time"] == "2023-11-14T22:13:20.123456789Z"


def test_json_file_keeps_an_incomplete_line_for_later():
    data = b"".join(jsonfile.encode("stdout", [b"one\n", b"two\n"]))
    records, rest = jsonfile.decode(data[:-5])
    assert [r["log"] for r in records] == ["one\n"] and rest == data[len(data) - len(rest) - 5 : -5]


def _lines(n: int) -> list[bytes]:
    return [f"line {i:04d}\n".encode() for i in range(n)]


@pytest.mark.parametrize(("fmt", "compress"), [("json-file", False), ("json-file", True), ("local", True)])
def test_rotation_keeps_max_file_files_and_reading_sees_the_newest_lines_in_order(tmp_path, fmt, compress):
    path = str(tmp_path / "c.log")
    codec = local if fmt == "local" else jsonfile
    writer = LogWriter(path, codec.encode, max_size=500, max_files=3, compress=compress)
    for line in _lines(100):
        writer.write("stdout", line)
    writer.close()
    names = sorted(os.listdir(tmp_path))
    suffix = ".gz" if compress else ""
    assert names == ["c.log", f"c.log.1{suffix}", f"c.log.2{suffix}"]
    if compress:
        with gzip.open(tmp_path / "c.log.1.gz") as f:
            assert codec.decode(f.read())[0]
    assert all(os.path.getsize(tmp_path / name) <= 500 for name in names if not name.endswith(".gz"))
    got = [r["log"] for r in reader.read(path, codec.decode, None, since=0, until=0, tail=-1)]
    assert got == [line.decode() for line in _lines(100)[-len(got) :]] and 10 < len(got) < 100


def test_one_file_is_replaced_so_that_a_follower_sees_a_new_inode(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path, jsonfile.encode, max_size=200, max_files=1)
    writer.write("stdout", b"first\n")
    before = os.stat(path).st_ino
    for line in _lines(10):
        writer.write("stdout", line)
    assert os.stat(path).st_ino != before and os.listdir(tmp_path) == ["c.log"]


def test_follow_reads_what_was_written_before_and_after_a_rotation(tmp_path):
    path = str(tmp_path / "c.log")
    record_size = len(jsonfile.encode("stdout", [b"line 0000\n"])[0])
    writer = LogWriter(path, jsonfile.encode, max_size=2 * record_size, max_files=2, compress=True)
    exited: concurrent.futures.Future = concurrent.futures.Future()
    follower = reader.read(path, jsonfile.decode, exited, since=0, until=0, tail=0)
    lines = _lines(9)
    got = []
    for first, second in zip(lines[::2], lines[1::2], strict=False):
        # The second line fills the file the follower holds; the next pair goes to a new one, after a
        # rotation (and compression) the follower has not seen yet.
        writer.write("stdout", first)
        writer.write("stdout", second)
        got += [next(follower)["log"], next(follower)["log"]]
    writer.write("stdout", lines[-1])
    exited.set_result(0)
    got += [r["log"] for r in follower]
    assert got == [line.decode() for line in lines]
    writer.close()  # waits for the last compression
    assert sorted(os.listdir(tmp_path)) == ["c.log", "c.log.1.gz"]


def test_a_follower_asleep_takes_a_write_and_ends_at_a_detach_from_another_thread(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path, jsonfile.encode)
    detached: concurrent.futures.Future = concurrent.futures.Future()
    follower = reader.read(path, jsonfile.decode, detached, since=0, until=0, tail=0)

    def later() -> None:
        writer.write("stdout", b"from the container\n")
        detached.cancel()  # what attach's detach does: the follower's exit future ends unset

    worker = threading.Timer(0.2, later)  # the follower is asleep in its wait by then
    worker.start()
    assert [r["log"] for r in follower] == ["from the container\n"]
    worker.join()
    writer.close()


def test_a_raw_writer_writes_unended_output_at_once_in_either_format(tmp_path):
    for encode, decode in ((jsonfile.encode, jsonfile.decode), (local.encode, local.decode)):
        path = str(tmp_path / f"c-{encode.__module__}.log")
        writer = LogWriter(path, encode, raw=True)
        writer.write("stdout", b"/ # ")
        assert not writer.pending
        with open(path, "rb") as f:
            assert [r["log"] for r in decode(f.read())[0]] == ["/ # "]
        writer.close()


def test_tail_and_since_select_records(tmp_path):
    path = str(tmp_path / "c.log")
    with open(path, "wb") as f:
        for second, text in ((100, "old\n"), (200, "new\n"), (300, "newest\n")):
            f.write(local.entry("stdout", second * 10**9, text.encode().rstrip(b"\n"), False))
    read = reader.read
    assert [r["log"] for r in read(path, local.decode, None, since=150, until=0, tail=-1)] == ["new\n", "newest\n"]
    assert [r["log"] for r in read(path, local.decode, None, since=0, until=0, tail=1)] == ["newest\n"]
    assert [r["log"] for r in read(path, local.decode, None, since=0, until=250, tail=-1)] == ["old\n", "new\n"]
    assert timestamps.seconds(next(read(path, local.decode, None, since=0, until=0, tail=1))["time"]) == 300


def test_daemon_defaults_apply_to_containers_of_the_same_driver_only():
    default = ("local", {"max-size": "1m"})
    assert log_options.resolve(None, *default) == {"Type": "local", "Config": {"max-size": "1m"}}
    assert log_options.resolve({"Type": "local", "Config": {"max-file": "2"}}, *default)["Config"] == {
        "max-size": "1m",
        "max-file": "2",
    }
    assert log_options.resolve({"Type": "json-file"}, *default) == {"Type": "json-file", "Config": {}}


def test_driver_defaults_match_docker_s():
    assert log_options.shim_settings("local", {}) == {
        "format": "local", "max_size": 20_000_000, "max_files": 5, "compress": True, "attrs": {},
    }  # fmt: skip
    assert log_options.shim_settings("json-file", {"compress": "true", "max-size": "10k"})["compress"] is True
    assert log_options.shim_settings("json-file", {})["compress"] is False


@pytest.mark.parametrize(
    ("driver", "options", "message"),
    [
        ("syslogd", {}, "no log driver named 'syslogd' is registered"),
        ("journald", {}, "'journald' is not supported by Dockyard"),
        ("json-file", {"colour": "red"}, "unknown log opt 'colour' for json-file log driver"),
        ("local", {"tag": "x"}, "unknown log opt 'tag' for log driver local"),
        ("local", {"max-size": "lots"}, "invalid size: 'lots'"),
        ("json-file", {"max-file": "0"}, "max-file cannot be less than 1"),
        ("json-file", {"compress": "maybe"}, "error reading compress log option"),
        ("json-file", {"compress": "true", "max-file": "1"}, "compress cannot be true when max-file is less than 2"),
    ],
)
def test_bad_drivers_and_options_are_refused_by_name(driver, options, message):
    with pytest.raises(InvalidParameter, match=message):
        log_options.check_driver(driver, options)


def test_none_ignores_options_as_docker_does():
    log_options.check_driver("none", {"max-size": "whatever"})


def test_compression_happens_in_a_child_so_the_writer_never_imports_gzip(tmp_path):
    script = (
        "import sys\n"
        "from dockyard.logs import jsonfile\n"
        "from dockyard.logs.writer import LogWriter\n"
        f"w = LogWriter({str(tmp_path / 'c.log')!r}, jsonfile.encode, max_size=300, max_files=3, compress=True)\n"
        "for i in range(50):\n"
        "    w.write('stdout', b'line %d\\n' % i)\n"
        "w.close()\n"
        "print(sorted(m for m in ('gzip', 'zlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert sorted(os.listdir(tmp_path)) == ["c.log", "c.log.1.gz", "c.log.2.gz"]


def test_a_follower_caught_between_the_writers_rename_and_its_new_file_waits_for_the_file(tmp_path):
    """A fast writer may rotate again between the follower's look and its open: the file is missing then."""
    path = tmp_path / "c.log"
    wake = reader._Wake(str(tmp_path), concurrent.futures.Future())
    creating = threading.Timer(0.1, path.write_bytes, args=(b"",))
    creating.start()
    file = reader._reopen(str(path), wake)
    creating.join()
    assert file is not None
    assert os.fstat(file.fileno()).st_ino == path.stat().st_ino
    file.close()
    wake.close()


def test_a_follower_whose_log_went_with_the_container_stops_without_waiting(tmp_path):
    class NoWaiting:
        def wait(self, timeout: float) -> None:
            raise AssertionError("waited for a file whose directory is gone")

    assert reader._reopen(str(tmp_path / "removed-container" / "c.log"), NoWaiting()) is None
