"""PidMode, IpcMode, UTSMode and UsernsMode: what create refuses, and the spec's namespaces and /dev/shm."""

from __future__ import annotations

import pytest

from dockyard.errors import Conflict, InvalidParameter
from dockyard.runtime import container_spec, namespace_modes


@pytest.mark.parametrize(
    "host_config",
    [
        {},
        {"PidMode": "host", "IpcMode": "host", "UTSMode": "host", "UsernsMode": "host"},
        {"PidMode": "container:web", "IpcMode": "container:0123abc"},
        {"IpcMode": "private"},
        {"IpcMode": "shareable"},
        {"IpcMode": "none"},
    ],
)
def test_the_modes_dockerd_accepts(host_config):
    namespace_modes.check(host_config)


@pytest.mark.parametrize(
    ("host_config", "hostname", "message"),
    [
        ({"PidMode": "private"}, "", "invalid PID mode: private"),
        ({"PidMode": "container:"}, "", "invalid PID mode: container:"),
        ({"IpcMode": "public"}, "", "invalid IPC mode: public"),
        ({"UTSMode": "container:web"}, "", "invalid UTS mode: container:web"),
        ({"UTSMode": "host"}, "box", "conflicting options: hostname and the UTS mode"),
        ({"UsernsMode": "private"}, "", "invalid USER NS mode: private"),
    ],
)
def test_the_modes_dockerd_refuses(host_config, hostname, message):
    with pytest.raises(InvalidParameter, match=message):
        namespace_modes.check(host_config, hostname)


def test_container_of_names_the_donor_only_for_container_modes():
    assert namespace_modes.container_of("container:web") == "web"
    assert namespace_modes.container_of("host") == ""
    assert namespace_modes.container_of(None) == ""


def test_donor_paths_refuse_a_stopped_donor_and_a_private_ipc_one():
    with pytest.raises(Conflict, match="Container abc is not running"):
        namespace_modes.donor_paths("pid", "abc", False, 0, "private", "/x/shm")
    with pytest.raises(InvalidParameter, match="container abc: non-shareable IPC"):
        namespace_modes.donor_paths("ipc", "abc", True, 42, "private", "/x/shm")
    assert namespace_modes.donor_paths("pid", "abc", True, 42, "private", "/x/shm") == ("/proc/42/ns/pid", "")
    assert namespace_modes.donor_paths("ipc", "abc", True, 42, "shareable", "/x/shm") == ("/proc/42/ns/ipc", "/x/shm")
    assert namespace_modes.donor_paths("ipc", "abc", True, 42, "host", "/x/shm") == ("/proc/42/ns/ipc", "/dev/shm")


def _spec(tmp_path, host_config: dict, **extra) -> dict:
    return container_spec.build(container_id="c" * 64, container_dir=str(tmp_path), rootfs=str(tmp_path),
                                image_config={"Cmd": ["true"]}, config={}, host_config=host_config,
                                hostname="c" * 12, netns_path=None, **extra)  # fmt: skip


def _shm(spec: dict) -> list[dict]:
    return [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]


def test_host_modes_leave_the_namespace_out_and_the_hostname_unset(tmp_path):
    spec = _spec(tmp_path, {"PidMode": "host", "IpcMode": "host", "UTSMode": "host"})
    assert spec["linux"]["namespaces"] == [{"type": "mount"}]
    assert "hostname" not in spec
    assert _shm(spec) == [{"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                           "options": ["rbind", "rprivate"]}]  # fmt: skip


def test_private_modes_have_their_own_namespaces_and_a_sized_dev_shm(tmp_path):
    spec = _spec(tmp_path, {"IpcMode": "private", "ShmSize": 8 << 20})
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount"]
    assert spec["hostname"] == "c" * 12
    [shm] = _shm(spec)
    assert shm["type"] == "tmpfs" and "size=8192k" in shm["options"]


def test_container_modes_join_by_path_and_bind_the_donors_dev_shm(tmp_path):
    joined = {"pid": "/proc/42/ns/pid", "ipc": "/proc/42/ns/ipc"}
    host_config = {"PidMode": "container:web", "IpcMode": "container:web"}
    spec = _spec(tmp_path, host_config, joined_namespaces=joined, shm_source="/run/x/shm")
    assert spec["linux"]["namespaces"][:2] == [{"type": "pid", "path": "/proc/42/ns/pid"},
                                               {"type": "ipc", "path": "/proc/42/ns/ipc"}]  # fmt: skip
    assert [m["source"] for m in _shm(spec)] == ["/run/x/shm"]


def test_ipc_none_has_no_dev_shm(tmp_path):
    spec = _spec(tmp_path, {"IpcMode": "none"})
    assert _shm(spec) == []
    assert {"type": "ipc"} in spec["linux"]["namespaces"]
