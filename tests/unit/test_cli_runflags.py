"""run/create flags -> the /containers/create body, compared with what the docker CLI 28 sends for the same flags.

docker sends every zero value; both bodies are compared without them (the daemon reads a zero as unset).
Docker 28 sends binds and environment variables in Go's map iteration order, so those compare as sets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from urllib.parse import parse_qs

import pytest

from dockyard.cli import flags, runflags, units
from dockyard.cli.commands.run import CREATE
from support.capture import CapturingServer

FLAG_SETS = [
    ["busybox"],
    ["-it", "--name", "x", "busybox", "sh", "-c", "echo hi"],
    ["-e", "A=1", "-e", "HOME", "-e", "DY_SURELY_UNSET", "-w", "/w", "-u", "1:2", "-h", "host", "busybox"],
    ["-v", "/a:/b:ro", "-v", "/anon", "-v", "vol:/v", "--tmpfs", "/run:size=1m", "--read-only", "busybox"],
    [
        "--mount",
        "type=bind,src=/s,dst=/d,readonly",
        "--mount",
        "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "--mount",
        "type=volume,source=v,target=/v,volume-nocopy,volume-label=a=b",
        "busybox",
    ],
    ["-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "9000-9001:90-91", "-P", "--expose", "70-71", "busybox"],
    [
        "--network",
        "net1",
        "--network-alias",
        "al",
        "--ip",
        "10.0.0.5",
        "--dns",
        "1.1.1.1",
        "--dns-search",
        "x",
        "--dns-option",
        "ndots:1",
        "--add-host",
        "a:1.2.3.4",
        "--hostname",
        "h",
        "--domainname",
        "d",
        "busybox",
    ],
    [
        "--restart",
        "on-failure:3",
        "--memory",
        "512m",
        "--memory-swap",
        "-1",
        "--memory-reservation",
        "1g",
        "--cpus",
        "1.5",
        "--pids-limit",
        "10",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--shm-size",
        "64m",
        "--oom-score-adj",
        "5",
        "--blkio-weight",
        "300",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "50000",
        "busybox",
    ],
    [
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "cap_sys_time",
        "--cap-drop",
        "ALL",
        "--privileged",
        "--security-opt",
        "no-new-privileges",
        "--ipc",
        "host",
        "--pid",
        "host",
        "--uts",
        "host",
        "busybox",
    ],
    [
        "--health-cmd",
        "true",
        "--health-interval",
        "5s",
        "--health-retries",
        "2",
        "--health-timeout",
        "1m30s",
        "--health-start-period",
        "500ms",
        "busybox",
    ],
    [
        "--no-healthcheck",
        "--label",
        "a=b",
        "--label",
        "c",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=1m",
        "--entrypoint",
        "/bin/sh",
        "--init",
        "--stop-signal",
        "SIGINT",
        "--stop-timeout",
        "5",
        "busybox",
        "-c",
        "x",
    ],
    [
        "--entrypoint",
        "",
        "--ulimit",
        "nofile=10:20",
        "--ulimit",
        "nproc=5",
        "--device",
        "/dev/null:/dev/xnull:r",
        "--sysctl",
        "net.a=1",
        "--group-add",
        "audio",
        "-a",
        "stdout",
        "--rm",
        "--platform",
        "linux/amd64",
        "busybox",
    ],
]


def _strip(value):
    if isinstance(value, dict):
        stripped = {k: _strip(v) for k, v in value.items()}
        return {k: v for k, v in stripped.items() if v not in (None, "", 0, [], {}, False)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _normalise(body: dict) -> dict:
    body = _strip(body)
    if "Env" in body:
        body["Env"] = sorted(body["Env"])
    host = body.get("HostConfig", {})
    if "Binds" in host:
        host["Binds"] = sorted(host["Binds"])
    return body


@pytest.fixture(scope="module")
def docker_bodies(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    base = tmp_path_factory.mktemp("dy-capture")
    env = dict(os.environ, DOCKER_CONFIG=str(base / "config"))
    env.pop("DOCKER_CONTEXT", None)
    bodies = []
    with CapturingServer(base / "api.sock") as server:
        env["DOCKER_HOST"] = server.host
        for argv in FLAG_SETS:
            result = subprocess.run(["docker", "create", *argv], env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            bodies.append(server.create_body())
    return bodies


@pytest.mark.parametrize("index", range(len(FLAG_SETS)), ids=[" ".join(argv)[:60] for argv in FLAG_SETS])
def test_create_body_is_docker_s(docker_bodies, index):
    docker_query, docker_body = docker_bodies[index]
    opts, args = flags.parse(CREATE, FLAG_SETS[index])
    params, body = runflags.create_request(opts, args, detached=False)
    assert _normalise(json.loads(json.dumps(body))) == _normalise(docker_body)
    ours = {k: [v] for k, v in params.items() if v is not None}
    assert ours == parse_qs(docker_query)


def test_restart_with_rm_is_refused_as_docker_does():
    opts, args = flags.parse(CREATE, ["--rm", "--restart", "always", "busybox"])
    with pytest.raises(flags.UsageError, match="cannot specify both --restart and --rm"):
        runflags.create_request(opts, args, detached=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512m", 512 << 20), ("1g", 1 << 30), ("1.5k", 1536), ("100", 100), ("64MB", 64 << 20), ("2GiB", 2 << 30)],
)
def test_sizes_are_binary_as_docker_s(text, expected):
    assert units.ram_bytes(text) == expected


def test_port_specs_expand_ranges_and_keep_host_ips():
    assert units.parse_publish("[::1]:8080:80/udp") == [("80/udp", "::1", "8080")]
    assert units.parse_publish("9000-9001:90-91") == [("90/tcp", "", "9000"), ("91/tcp", "", "9001")]
    with pytest.raises(flags.UsageError):
        units.parse_publish("1-3:4-5")


def test_mount_reads_docker_s_volume_subpath_and_bind_recursive_fields():
    volume = runflags.mount("type=volume,src=data,dst=/d,volume-subpath=sub/dir")
    assert volume["VolumeOptions"] == {"Subpath": "sub/dir"}
    bind = runflags.mount("type=bind,src=/a,dst=/b,bind-recursive=readonly,bind-propagation=rslave")
    assert bind["BindOptions"] == {"ReadOnlyForceRecursive": True, "Propagation": "rslave"}
    assert runflags.mount("type=bind,src=/a,dst=/b,bind-recursive=disabled")["BindOptions"] == {"NonRecursive": True}
    with pytest.raises(flags.UsageError, match="bind-recursive: sometimes"):
        runflags.mount("type=bind,src=/a,dst=/b,bind-recursive=sometimes")
