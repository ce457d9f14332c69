"""The shim's pieces that need no container: the control channel's frames and the raw (terminal) log."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.logs import jsonfile
from dockyard.logs.writer import LogWriter
from dockyard.runtime import control


@given(st.lists(st.binary(max_size=200_000), max_size=4), st.integers(min_value=1, max_value=70_000))
def test_frames_arrive_whole_however_the_stream_is_cut(inputs, cut):
    stream = b"".join(control.stdin_frames(data) for data in inputs)
    stream += control.resize_frame(40, 132) + control.close_stdin_frame()
    buffer, frames = bytearray(), []
    for start in range(0, len(stream), cut):
        buffer += stream[start : start + cut]
        frames += list(control.parse_frames(buffer))
    assert not buffer
    received = b"".join(payload for kind, payload in frames if kind == control.STDIN)
    assert received == b"".join(inputs)
    assert [kind for kind, _ in frames[-2:]] == [control.RESIZE, control.CLOSE_STDIN]
    assert control.parse_size(frames[-2][1]) == (40, 132)


def test_an_unknown_frame_is_refused():
    with pytest.raises(ValueError, match="bad control frame"):
        list(control.parse_frames(bytearray(b"\x09\x00\x00\x00\x00")))


def test_the_control_socket_is_reached_from_a_directory_too_deep_for_a_socket_address(tmp_path):
    deep = tmp_path / ("d" * 100) / ("e" * 60)
    deep.mkdir(parents=True)
    with control.listen(str(deep)) as listener, control.connect(str(deep)) as client:
        server, _ = listener.accept()
        with server:
            client.sendall(control.stdin_frames(b"hello"))
            assert list(control.parse_frames(bytearray(server.recv(100)))) == [(control.STDIN, b"hello")]


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_terminal_s_log_is_written_as_it_comes_prompts_included(tmp_path):
    path = tmp_path / "c-json.log"
    log = LogWriter(str(path), jsonfile.encode, raw=True)
    log.write("stdout", b"line\r\n/ # ")
    assert [r["log"] for r in _records(path)] == ["line\r\n", "/ # "]
    log.write("stdout", "caf\u00e9".encode()[:-1])  # an é cut in two waits for its second byte
    assert [r["log"] for r in _records(path)][-1] == "caf"
    log.write("stdout", "\u00e9!".encode()[1:])
    assert [r["log"] for r in _records(path)][-1] == "\u00e9!"
    assert {r["stream"] for r in _records(path)} == {"stdout"}


def test_pipes_logs_stay_line_by_line(tmp_path):
    path = tmp_path / "c-json.log"
    log = LogWriter(str(path), jsonfile.encode)
    log.write("stdout", b"no end yet")
    assert path.read_text() == "" and log.pending
    log.write("stdout", b" - now\n")
    assert [r["log"] for r in _records(path)] == ["no end yet - now\n"]
