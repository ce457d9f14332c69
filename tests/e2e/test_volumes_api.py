"""Volumes through the real docker CLI 28 and docker-py: create, ls, inspect, rm, prune; volumes shared
between containers, kept across container removal, filled from the image; --mount; tmpfs volumes;
system df and events. Responses are checked against the Engine API swagger."""

from __future__ import annotations

import json
import signal
import time

import docker.errors
import pytest

from support.cli import Driven
from support.daemon import DockyardDaemon
from support.swagger import validate


def _volumes(daemon) -> set[str]:
    return set(daemon.docker("volume", "ls", "-q").stdout.split())


@pytest.fixture
def dy(busybox_daemon, cli):
    """The module's daemon driven by the docker CLI or dockyard's; the volumes and containers a test leaves are
    removed after it."""
    before = _volumes(busybox_daemon)
    yield Driven(busybox_daemon, cli)
    ids = busybox_daemon.docker("ps", "-aq").stdout.split()
    if ids:
        busybox_daemon.docker("rm", "-f", *ids)
    left = _volumes(busybox_daemon) - before
    if left:
        busybox_daemon.docker("volume", "rm", *left)


def test_create_ls_inspect_rm(dy):
    assert dy.docker("volume", "create", "--label", "tier=db", "dy-data").stdout.strip() == "dy-data"
    assert dy.docker("volume", "create", "dy-data").returncode == 0  # the same name again: that volume
    listed = dy.docker("volume", "ls", "--format", "{{.Driver}} {{.Name}}", "--filter", "label=tier=db").stdout
    assert listed == "local dy-data\n"
    inspected = json.loads(dy.docker("volume", "inspect", "dy-data").stdout)[0]
    assert (inspected["Name"], inspected["Driver"], inspected["Scope"]) == ("dy-data", "local", "local")
    assert inspected["Labels"] == {"tier": "db"}
    assert inspected["Mountpoint"] == f"{dy.data_root}/volumes/dy-data/_data"
    status, _, body = dy.request("GET", "/v1.50/volumes/dy-data")
    assert status == 200
    validate(json.loads(body), "Volume", version="1.50")
    status, _, body = dy.request("GET", "/v1.50/volumes")
    validate(json.loads(body), "VolumeListResponse", version="1.50")
    status, _, body = dy.request("PUT", "/v1.50/volumes/dy-data?version=1", b"{}")
    assert status == 503 and "only valid for cluster volumes" in json.loads(body)["message"]
    dy.docker("volume", "rm", "dy-data")
    missing = dy.docker("volume", "inspect", "dy-data", check=False)
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    assert dy.docker("volume", "rm", "-f", "dy-data").returncode == 0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"Name": "dy-x", "Driver": "nosuch"}, 404, 'error looking up volume plugin nosuch: plugin "nosuch" not found'),
        ({"Name": "bad/name"}, 400, "includes invalid characters for a local volume name"),
        ({"Name": "dy-x", "DriverOpts": {"colour": "red"}}, 400, 'invalid option: "colour"'),
    ],
)
def test_bad_creates_are_refused_with_docker_s_status(dy, body, status, message):
    got, _, answer = dy.request("POST", "/v1.50/volumes/create", json.dumps(body).encode(),
                                headers={"Content-Type": "application/json"})  # fmt: skip
    assert got == status and message in json.loads(answer)["message"]
    assert "dy-x" not in _volumes(dy)


def test_data_persists_across_containers_and_is_shared_between_them(dy):
    dy.docker("run", "--rm", "-v", "dy-shared:/data", "busybox", "sh", "-c", "echo kept > /data/file")
    assert dy.docker("run", "--rm", "-v", "dy-shared:/data:ro", "busybox", "cat", "/data/file").stdout == "kept\n"
    dy.docker("run", "-d", "--name", "dy-writer", "-v", "dy-shared:/data", "busybox", "sh", "-c",
              "echo live > /data/live; sleep 60")  # fmt: skip
    deadline = time.monotonic() + 10
    seen = ""
    while seen != "live\n" and time.monotonic() < deadline:
        seen = dy.docker("run", "--rm", "-v", "dy-shared:/d", "busybox", "cat", "/d/live", check=False).stdout
    assert seen == "live\n"
    readonly = dy.docker("run", "--rm", "-v", "dy-shared:/data:ro", "busybox", "touch", "/data/x", check=False)
    assert readonly.returncode != 0 and "Read-only file system" in readonly.stderr


def test_an_empty_volume_receives_the_image_s_files_unless_nocopy(dy):
    listing = dy.docker("run", "--rm", "-v", "dy-etc:/etc", "busybox", "ls", "-ln", "/etc/passwd").stdout
    assert listing.split()[0] == "-rw-r--r--" and listing.split()[2:4] == ["0", "0"]
    # Later containers see the volume (now not empty) wherever they mount it.
    assert "root:" in dy.docker("run", "--rm", "-v", "dy-etc:/x", "busybox", "cat", "/x/passwd").stdout
    empty = dy.docker("run", "--rm", "-v", "dy-none:/etc:nocopy", "busybox", "ls", "-A", "/etc").stdout
    assert "passwd" not in empty
    # At create, as dockerd copies, and only then: a container that empties it finds it empty on its next start.
    dy.docker("create", "--name", "dy-emptier", "-v", "dy-early:/etc", "busybox", "sh", "-c",
              "ls -A /etc; rm -rf /etc/*")  # fmt: skip
    assert "passwd" in dy.docker("run", "--rm", "-v", "dy-early:/x", "busybox", "ls", "/x").stdout
    for _ in range(2):
        dy.docker("start", "dy-emptier")
        dy.docker("wait", "dy-emptier")
    both_runs = dy.docker("logs", "dy-emptier").stdout
    assert both_runs.count("passwd") == 1  # the first run listed the copy, the second nothing


def test_image_volumes_are_anonymous_volumes_filled_from_the_image_and_rm_v_removes_them(dy):
    dy.docker("run", "--name", "dy-base", "busybox", "sh", "-c", "mkdir /data && echo seeded > /data/seed")
    dy.docker("commit", "--change", "VOLUME /data", "dy-base", "dy-volimage:1")
    dy.docker("rm", "dy-base")
    try:
        dy.docker("run", "--name", "dy-user", "-v", "dy-named:/named", "dy-volimage:1", "cat", "/data/seed")
        assert dy.docker("logs", "dy-user").stdout == "seeded\n"
        mounts = json.loads(dy.docker("inspect", "-f", "{{json .Mounts}}", "dy-user").stdout)
        by_destination = {m["Destination"]: m for m in mounts}
        anonymous = by_destination["/data"]
        assert anonymous["Type"] == "volume" and len(anonymous["Name"]) == 64 and anonymous["RW"]
        assert anonymous["Source"] == f"{dy.data_root}/volumes/{anonymous['Name']}/_data"
        assert by_destination["/named"]["Name"] == "dy-named" and by_destination["/named"]["Driver"] == "local"
        assert (by_destination["/named"]["Mode"], anonymous["Mode"]) == ("z", "")  # as dockerd shows them
        _, _, body = dy.request("GET", "/v1.50/containers/dy-user/json")
        validate(json.loads(body), "ContainerInspectResponse", version="1.50")
        labels = json.loads(dy.docker("volume", "inspect", anonymous["Name"]).stdout)[0]["Labels"]
        assert "com.docker.volume.anonymous" in labels
        dy.docker("rm", "-v", "dy-user")
        assert anonymous["Name"] not in _volumes(dy) and "dy-named" in _volumes(dy)
    finally:
        dy.docker("rmi", "dy-volimage:1", check=False)


def test_volumes_from_shares_another_container_s_volumes(dy):
    dy.docker("run", "--name", "dy-source", "-v", "/anon", "-v", "dy-from:/named", "busybox", "sh", "-c",
              "echo a > /anon/f; echo n > /named/f")  # fmt: skip
    out = dy.docker("run", "--rm", "--volumes-from", "dy-source:ro", "busybox", "sh", "-c",
                    "cat /anon/f /named/f; touch /named/x 2>/dev/null || echo read-only").stdout  # fmt: skip
    assert out == "a\nn\nread-only\n"
    # Raw HTTP: on any 404 from create the CLI goes on to pull the image, as it does with docker.
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"VolumesFrom": ["dy-nosuch"]}}
    status, _, answer = dy.request("POST", "/v1.50/containers/create", json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 404 and json.loads(answer)["message"] == "No such container: dy-nosuch"


def test_docker_cp_reads_and_writes_volumes(dy, tmp_path):
    (tmp_path / "in.txt").write_text("copied in\n")
    dy.docker("create", "--name", "dy-cp", "-v", "dy-cpvol:/data", "-v", "dy-cpvol:/ro:ro", "busybox", "cat",
              "/data/in.txt")  # fmt: skip
    dy.docker("cp", str(tmp_path / "in.txt"), "dy-cp:/data/")
    dy.docker("start", "-a", "dy-cp")
    assert dy.docker("logs", "dy-cp").stdout == "copied in\n"
    dy.docker("cp", "dy-cp:/ro/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "copied in\n"
    refused = dy.docker("cp", str(tmp_path / "in.txt"), "dy-cp:/ro/", check=False)
    assert refused.returncode != 0 and "mounted volume is marked read-only" in refused.stderr
    dy.docker("run", "-d", "--name", "dy-cp-live", "-v", "dy-cpvol:/live", "busybox", "sleep", "60")
    dy.docker("cp", "dy-cp-live:/live/in.txt", str(tmp_path / "live.txt"))
    assert (tmp_path / "live.txt").read_text() == "copied in\n"


def test_a_volume_in_use_cannot_be_removed(dy):
    container = dy.docker("create", "--name", "dy-holder", "-v", "dy-held:/data", "busybox", "true").stdout.strip()
    for wanted in ("dy-held", "/data"):
        assert dy.docker("ps", "-aq", "--no-trunc", "--filter", f"volume={wanted}").stdout.split() == [container]
    assert dy.docker("ps", "-aq", "--filter", "volume=dy-other").stdout == ""
    status, _, body = dy.request("DELETE", "/v1.50/volumes/dy-held?force=1")
    assert status == 409
    assert json.loads(body)["message"] == f"remove dy-held: volume is in use - [{container}]"
    refused = dy.docker("volume", "rm", "dy-held", check=False)
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    dy.docker("rm", "dy-holder")
    dy.docker("volume", "rm", "dy-held")


def test_run_rm_removes_anonymous_volumes_and_keeps_named_ones(dy):
    before = _volumes(dy)
    dy.docker("run", "--rm", "-v", "/anon", "-v", "dy-keep:/keep", "busybox", "true")
    assert _volumes(dy) - before == {"dy-keep"}


def test_the_mount_flag(dy, tmp_path):
    (tmp_path / "hostfile").write_text("from the host\n")
    out = dy.docker(
        "run", "--rm",
        "--mount", "type=volume,src=dy-m,dst=/v,volume-label=made=by-mount",
        "--mount", "type=volume,src=dy-m,dst=/ro,readonly",
        "--mount", f"type=bind,src={tmp_path},dst=/host,readonly",
        "--mount", "type=tmpfs,dst=/scratch,tmpfs-size=1m",
        "busybox", "sh", "-c",
        "echo w > /v/f && cat /ro/f /host/hostfile && ! touch /ro/g 2>/dev/null && df /scratch | tail -1",
    ).stdout  # fmt: skip
    lines = out.splitlines()
    dy.docker("run", "--rm", "-v", "dy-m:/v", "busybox", "sh", "-c", "mkdir -p /v/sub && echo in-sub > /v/sub/g")
    sub = dy.docker("run", "--rm", "--mount", "type=volume,src=dy-m,dst=/s,volume-subpath=sub", "busybox",
                    "ls", "/s").stdout  # fmt: skip
    assert sub == "g\n"
    assert lines[:2] == ["w", "from the host"] and lines[2].startswith("tmpfs") and " 1024 " in lines[2]
    assert json.loads(dy.docker("volume", "inspect", "dy-m").stdout)[0]["Labels"] == {"made": "by-mount"}


def test_a_bad_mount_leaves_nothing_created(dy):
    before = _volumes(dy)
    bad = "type=volume,src=dy-second,dst=/b,volume-opt=bogus=1"
    failed = dy.docker("create", "-v", "dy-first:/a", "--mount", bad, "busybox", "true", check=False)
    assert failed.returncode != 0 and 'invalid option: "bogus"' in failed.stderr
    duplicate = dy.docker("create", "-v", "dy-first:/a", "-v", "dy-second:/a", "busybox", "true", check=False)
    assert duplicate.returncode != 0 and "Duplicate mount point: /a" in duplicate.stderr
    assert _volumes(dy) == before and dy.docker("ps", "-aq").stdout == ""


def test_a_tmpfs_volume_lives_while_its_containers_run(dy):
    dy.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=10m", "dy-tmp")
    options = json.loads(dy.docker("volume", "inspect", "dy-tmp").stdout)[0]["Options"]
    assert options == {"type": "tmpfs", "device": "tmpfs", "o": "size=10m"}
    out = dy.docker("run", "--rm", "-v", "dy-tmp:/t", "busybox", "sh", "-c", "echo x > /t/f; df -k /t | tail -1")
    fields = out.stdout.split()
    assert fields[0] == "tmpfs" and fields[1] == "10240"
    # Unmounted when its last container stopped: the next one gets a fresh filesystem.
    assert dy.docker("run", "--rm", "-v", "dy-tmp:/t", "busybox", "ls", "-A", "/t").stdout == ""


def test_a_volume_that_cannot_be_mounted_fails_the_run_with_its_reason(dy, tmp_path):
    dy.docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}/dy-missing",
              "dy-broken")  # fmt: skip
    failed = dy.docker("run", "--rm", "-v", "dy-broken:/x", "busybox", "true", check=False)
    assert failed.returncode != 0 and "error while mounting volume 'dy-broken'" in failed.stderr
    assert dy.docker("ps", "-aq").stdout == ""  # nothing half-created
    dy.docker("volume", "rm", "dy-broken")  # nothing holds it


def test_prune_takes_anonymous_volumes_unless_all(dy):
    dy.docker("run", "--name", "dy-anon", "-v", "/anon", "busybox", "dd", "if=/dev/zero", "of=/anon/blob",
              "bs=1000", "count=300")  # fmt: skip
    anonymous = json.loads(dy.docker("inspect", "-f", "{{json .Mounts}}", "dy-anon").stdout)[0]["Name"]
    dy.docker("rm", "dy-anon")
    dy.docker("volume", "create", "dy-prunable")
    status, _, body = dy.request("POST", "/v1.50/volumes/prune")
    pruned = json.loads(body)
    assert status == 200 and pruned["VolumesDeleted"] == [anonymous] and pruned["SpaceReclaimed"] >= 300_000
    assert "dy-prunable" in _volumes(dy)
    out = dy.docker("volume", "prune", "--all", "--force", "--filter", "label!=keep").stdout
    assert "dy-prunable" in out
    assert "dy-prunable" not in _volumes(dy)
    dy.docker("volume", "create", "dy-old-client")
    status, _, body = dy.request("POST", "/v1.41/volumes/prune")  # before 1.42 prune took every unused volume
    assert status == 200 and "dy-old-client" in json.loads(body)["VolumesDeleted"]


def test_system_df_counts_volumes_and_their_users(dy):
    dy.docker("create", "--name", "dy-dfuser", "-v", "dy-df:/data", "busybox", "true")
    dy.docker("run", "--rm", "-v", "dy-df:/data", "busybox", "dd", "if=/dev/zero", "of=/data/blob", "bs=1000",
              "count=100")  # fmt: skip
    _, _, body = dy.request("GET", "/v1.50/system/df")
    volumes = {v["Name"]: v for v in json.loads(body)["Volumes"]}
    assert volumes["dy-df"]["UsageData"]["RefCount"] == 1 and volumes["dy-df"]["UsageData"]["Size"] >= 100_000
    for volume in volumes.values():
        validate(volume, "Volume", version="1.50")
    verbose = dy.docker("system", "df", "-v").stdout
    row = next(line for line in verbose.splitlines() if line.startswith("dy-df "))
    assert row.split()[1] == "1"  # LINKS


def test_volume_events(dy):
    since = str(time.time() - 1)
    dy.docker("volume", "create", "dy-ev")
    dy.docker("run", "--rm", "-v", "dy-ev:/data", "busybox", "true")
    dy.docker("volume", "rm", "dy-ev")
    until = str(time.time() + 1)
    out = dy.docker("events", "--since", since, "--until", until, "--filter", "volume=dy-ev",
                    "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}").stdout  # fmt: skip
    assert out.splitlines() == [f"volume {a} dy-ev" for a in ("create", "mount", "unmount", "destroy")]


def test_docker_py_volumes(dy):
    client = dy.client()
    try:
        volume = client.volumes.create(name="dy-py", driver="local", labels={"via": "docker-py"})
        assert volume.attrs["Labels"] == {"via": "docker-py"}
        assert client.volumes.get("dy-py").name == "dy-py"
        assert "dy-py" in [v.name for v in client.volumes.list(filters={"label": "via=docker-py"})]
        out = client.containers.run("busybox", "sh -c 'echo py > /data/f; cat /data/f'", remove=True,
                                    volumes={"dy-py": {"bind": "/data", "mode": "rw"}})  # fmt: skip
        assert out == b"py\n"
        client.containers.run("busybox", "true", remove=True, volumes=["/anon-py"])
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("dy-nosuch")
        volume.remove()
        assert "dy-py" not in _volumes(dy)
        assert client.volumes.prune()["SpaceReclaimed"] >= 0
    finally:
        client.close()


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_a_tmpfs_volume_stays_mounted_across_a_kill_9_while_its_container_runs(tmp_path):
    from conftest import bootstrap_busybox  # the e2e conftest

    first = DockyardDaemon(str(tmp_path / "dy-restore"))
    bootstrap_busybox(first.data_root)
    first.start()
    second = None
    path = f"{first.data_root}/volumes/dy-live/_data"
    try:
        first.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "dy-live")
        first.docker("run", "-d", "--name", "dy-keeper", "-v", "dy-live:/t", "busybox", "sh", "-c",
                     "echo kept > /t/f; sleep 600")  # fmt: skip
        first.docker("run", "-d", "--name", "dy-quick", "-v", "dy-live:/t", "busybox", "sh", "-c", "sleep 1")
        assert _mounted(path)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        time.sleep(1.5)  # dy-quick exits while no daemon runs: its exit must not unmount dy-keeper's volume
        second = DockyardDaemon(first.base).start()
        assert _mounted(path)
        assert second.docker("run", "--rm", "-v", "dy-live:/t", "busybox", "cat", "/t/f").stdout == "kept\n"
        second.docker("rm", "-f", "dy-keeper", "dy-quick")
        assert not _mounted(path)
        second.docker("volume", "rm", "dy-live")
    finally:
        for daemon in (second, first):
            if daemon is not None:
                daemon.close()
