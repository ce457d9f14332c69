"""libnftables through ctypes: commands in nft's syntax, nft's error text, and no netlink socket leaking to children."""

from __future__ import annotations

import os
import subprocess

import pytest

from dockyard.kernel.libnftables import OUTPUT_ECHO, OUTPUT_HANDLE, OUTPUT_JSON, NftContext, NftError

pytestmark = pytest.mark.integration


@pytest.fixture
def context():
    try:
        ctx = NftContext()
    except OSError as exc:
        pytest.skip(f"libnftables is not installed: {exc}")
    table = f"dockyard-libnft-{os.getpid()}"
    try:
        yield ctx, table
    finally:
        ctx.run(f"add table ip {table}\ndelete table ip {table}\n")
        ctx.close()


def test_a_batch_applies_and_echoes_the_handles_of_added_rules(context):
    ctx, table = context
    echoed = ctx.run(
        f"add table ip {table}\nadd chain ip {table} c\nadd rule ip {table} c tcp dport 1 accept\n",
        OUTPUT_ECHO | OUTPUT_HANDLE,
    )
    assert f"add rule ip {table} c tcp dport 1 accept # handle" in echoed
    assert '"dport"' in ctx.run(f"list table ip {table}", OUTPUT_JSON)


def test_a_refused_batch_changes_nothing_and_says_why(context):
    ctx, table = context
    with pytest.raises(NftError, match="No such file or directory"):
        ctx.run(f"add table ip {table}\nadd rule ip {table} absent accept\n")
    with pytest.raises(NftError):
        ctx.run(f"list table ip {table}")


def test_its_netlink_socket_is_not_inherited_by_children(context):
    listing = subprocess.run(["ls", "-l", "/proc/self/fd"], close_fds=False, capture_output=True, text=True).stdout
    inherited = {line.rsplit("-> ", 1)[-1] for line in listing.splitlines()}
    own_sockets = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _is_socket(fd)}
    assert own_sockets and not own_sockets & inherited


def _is_socket(fd: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        return False
