"""The helper thread that writes a layer's small files: order, settling, and errors reaching the caller."""

from __future__ import annotations

import tarfile
import threading
import time

import pytest

from dockyard.errors import InvalidParameter
from dockyard.image.layer_files import FileWriter


def member(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


@pytest.mark.parametrize("threaded", [True, False])
def test_files_are_written_in_the_order_submitted(threaded):
    written = []
    writer = FileWriter(lambda path, m, data: written.append((path, data)), threaded=threaded)
    for i in range(100):
        writer.submit(f"/x/{i % 7}", member(str(i)), bytes([i]))
    writer.drain()
    writer.close()
    assert written == [(f"/x/{i % 7}", bytes([i])) for i in range(100)]


def test_settle_waits_for_the_path_and_settle_under_for_what_is_below():
    release = threading.Event()
    done = []

    def slow(path, m, data):
        release.wait(5)
        done.append(path)

    writer = FileWriter(slow)
    writer.submit("/root/dir/file", member("dir/file"), b"")
    threading.Timer(0.05, release.set).start()
    writer.settle("/root/other")  # nothing pending there: returns at once
    assert done == []
    writer.settle_under("/root/dir")
    assert done == ["/root/dir/file"]
    writer.close()


def test_an_error_in_the_helper_is_raised_in_the_caller_and_later_files_are_skipped():
    written = []

    def write(path, m, data):
        if path == "/bad":
            raise InvalidParameter("layer entry 'bad': Not a directory")
        written.append(path)

    writer = FileWriter(write)
    writer.submit("/bad", member("bad"), b"")
    writer.submit("/after", member("after"), b"")
    with pytest.raises(InvalidParameter, match="Not a directory"):
        writer.drain()
    writer.close()
    assert written == []


def test_close_stops_the_thread_without_a_drain():
    writer = FileWriter(lambda path, m, data: time.sleep(0.001))
    for i in range(10):
        writer.submit(f"/f{i}", member(str(i)), b"")
    writer.close()
    assert not any(t.name == "dy-layer-files" and t.is_alive() for t in threading.enumerate())
