"""kernel/libc.py over the _native extension: results, errors that name the call and path, import cost."""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys

import pytest

from dockyard.kernel import _native, libc
from dockyard.kernel.inotify import DirectoryWatch

PR_GET_DUMPABLE = 3
BPF_PROG_QUERY = 16


def test_a_failed_mount_names_the_target_and_the_errno(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(OSError) as raised:
        libc.mount("tmpfs", str(missing), "tmpfs", 0, "size=1m")
    assert raised.value.errno in (errno.ENOENT, errno.EPERM)
    assert raised.value.strerror == f"mount tmpfs on {missing}: {os.strerror(raised.value.errno)}"


def test_umount_of_something_not_mounted_is_einval_or_eperm(tmp_path):
    with pytest.raises(OSError, match=f"umount {tmp_path}: ") as raised:
        libc.umount2(str(tmp_path))
    assert raised.value.errno in (errno.EINVAL, errno.EPERM)


def test_prctl_returns_the_kernels_answer():
    assert libc.prctl(PR_GET_DUMPABLE) == 1


def test_prctl_with_an_unknown_option_is_einval():
    with pytest.raises(OSError, match="prctl 999999") as raised:
        libc.prctl(999999)
    assert raised.value.errno == errno.EINVAL


def test_filesystem_type_tells_tmpfs_apart():
    assert libc.filesystem_type("/dev/shm") == libc.TMPFS_MAGIC
    assert libc.filesystem_type("/proc") != libc.TMPFS_MAGIC


def test_filesystem_type_of_a_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"statfs {tmp_path}/nope"):
        libc.filesystem_type(str(tmp_path / "nope"))


def test_setns_on_a_file_that_is_no_namespace_is_einval(tmp_path):
    path = tmp_path / "plain"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(OSError, match=f"setns {path}: ") as raised:
            libc.setns(fd, 0, str(path))
    finally:
        os.close(fd)
    assert raised.value.errno == errno.EINVAL


def test_bpf_writes_its_answer_into_the_buffer_and_rejects_bad_fds():
    attr = bytearray(32)  # BPF_PROG_QUERY on fd -1
    attr[0:4] = (0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(OSError, match="bpf query: ") as raised:
        libc.bpf(BPF_PROG_QUERY, attr, "bpf query")
    assert raised.value.errno in (errno.EBADF, errno.EPERM, errno.EINVAL)


def test_the_extension_refuses_str_where_it_takes_bytes():
    with pytest.raises(TypeError):
        _native.mount(None, "/tmp", None, 0, None)
    with pytest.raises(TypeError):
        _native.bpf(BPF_PROG_QUERY, b"read-only")


def test_a_directory_watch_wakes_on_a_new_file(tmp_path):
    watch = DirectoryWatch(str(tmp_path))
    try:
        (tmp_path / "log").write_text("line\n")
        watch.wait(5)
        assert not _readable(watch.fd)  # wait drained the events
    finally:
        watch.close()


def test_a_directory_watch_on_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"inotify_add_watch {tmp_path}/nope"):
        DirectoryWatch(str(tmp_path / "nope"))


def test_the_runtime_cli_does_not_import_ctypes():
    # ctypes and its libc handle cost ~2 ms of every dockyard-runtime start (docs/benchmarks.md).
    code = (
        "import sys; import dockyard.runtime.cli, dockyard.runtime.runtime, dockyard.runtime.init;"
        "import dockyard.kernel.cgroups.resources, dockyard.kernel.seccomp, dockyard.kernel.inotify;"
        "sys.exit('ctypes' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])
