"""The cgroup layer against this host's real cgroups (hybrid on the developers' machines).

Every cgroup is named dy-test-<random> and removed by its fixture even when a test
fails; every process is a helper the test started and kills.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import uuid

import pytest

from dockyard.errors import InvalidParameter
from dockyard.kernel.cgroups import common, devices_bpf, open_cgroup, read_layout

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating cgroups needs root")

HELPER = r"""
import os, sys
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    try:
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        elif command == "open":
            os.close(os.open(arg, os.O_RDONLY))
        elif command == "alloc":
            block = bytearray(int(arg) << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
        print("ok", flush=True)
    except OSError as exc:
        print("err", exc.errno, flush=True)
"""


class Helper:
    """A child process that runs one command per line and answers ok / err <errno>."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.pid = self.process.pid

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def ask(self, command: str, timeout: float = 10) -> str:
        self.send(command)
        return self.answer(timeout)

    def answer(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().strip() if ready else "timeout"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def helper():
    started = []

    def start() -> Helper:
        started.append(Helper())
        return started[-1]

    yield start
    for h in started:
        h.stop()


@pytest.fixture
def cgroup():
    """A created cgroup /dy-test-<random>, removed afterwards with whatever is in it."""
    cg = open_cgroup(f"/dy-test-{uuid.uuid4().hex[:10]}")
    try:
        cg.create()
        yield cg
    finally:
        cg.destroy(kill=True)
    assert not any(os.path.exists(d) for d in cg.dirs)


def control(cg, controller: str, v1_name: str, v2_name: str) -> str:
    version, d = cg.locate(controller)
    return common.read(f"{d}/{v1_name if version == 1 else v2_name}").strip()


def own_cgroups(pid: int) -> dict[str, str]:
    from dockyard.kernel.cgroups.layout import parse_own_cgroups

    with open(f"/proc/{pid}/cgroup") as f:
        return parse_own_cgroups(f.read())


def test_create_makes_the_cgroup_in_every_hierarchy_and_destroy_removes_it():
    cg = open_cgroup(f"/dy-test-{uuid.uuid4().hex[:10]}")
    try:
        cg.create()
        assert all(os.path.isdir(d) for d in cg.dirs)
        layout = read_layout()
        if layout.mode == "hybrid":
            assert cg.unified_dir is not None and os.path.isdir(cg.unified_dir)
        cpuset = cg.locate("cpuset")
        if cpuset is not None and cpuset[0] == 1:  # joinable: cpus and mems were copied down
            assert common.read(f"{cpuset[1]}/cpuset.cpus").strip()
            assert common.read(f"{cpuset[1]}/cpuset.mems").strip()
    finally:
        cg.destroy()
    assert not any(os.path.exists(d) for d in cg.dirs)
    cg.destroy()  # idempotent


def test_add_process_moves_it_into_every_hierarchy(cgroup, helper):
    child = helper()
    cgroup.add_process(child.pid)
    placed = own_cgroups(child.pid)
    for h, path, _ in cgroup.members:
        assert placed[h.key] == path
    assert cgroup.pids() == [child.pid]


def test_join_self_moves_the_calling_process(cgroup):
    code = (
        "from dockyard.kernel.cgroups import open_cgroup;"
        f"open_cgroup({cgroup.path!r}).join_self();"
        "print(open('/proc/self/cgroup').read())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": "src"}
    ).stdout
    from dockyard.kernel.cgroups.layout import parse_own_cgroups

    placed = parse_own_cgroups(out)
    assert all(placed[h.key] == path for h, path, _ in cgroup.members)


def test_limits_are_written_and_read_back(cgroup):
    cgroup.apply(
        {
            "memory": {"limit": 64 << 20, "swap": 64 << 20},
            "pids": {"limit": 16},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        }
    )
    assert control(cgroup, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)
    assert control(cgroup, "pids", "pids.max", "pids.max") == "16"
    version, d = cgroup.locate("cpu")
    if version == 1:
        assert common.read(f"{d}/cpu.shares").strip() == "512"
        assert common.read(f"{d}/cpu.cfs_quota_us").strip() == "50000"
        assert common.read(f"{d}/cpu.cfs_period_us").strip() == "100000"
    else:
        assert common.read(f"{d}/cpu.weight").strip() == "59"
        assert common.read(f"{d}/cpu.max").strip() == "50000 100000"


def test_a_refused_value_names_the_field_and_the_file(cgroup):
    with pytest.raises(InvalidParameter, match=r"^linux\.resources\.cpu\.cpus: write cpuset\.cpus: Invalid argument$"):
        cgroup.apply({"cpu": {"cpus": "not-a-cpu-list"}})
    with pytest.raises(InvalidParameter, match=r"^linux\.resources\.cpu\.cpus: write cpuset\.cpus: "):
        cgroup.apply({"cpu": {"cpus": "4095"}})  # ERANGE on v1: a refused value all the same


def test_fork_beyond_pids_max_fails_with_eagain(cgroup, helper):
    child = helper()
    cgroup.add_process(child.pid)
    assert child.ask("fork") == "ok"
    cgroup.apply({"pids": {"limit": 1}})
    assert child.ask("fork") == "err 11"
    cgroup.apply({"pids": {"limit": -1}})
    assert child.ask("fork") == "ok"


def test_memory_limit_oom_kills_and_the_kill_is_counted(cgroup, helper):
    cgroup.apply({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    child = helper()
    cgroup.add_process(child.pid)
    assert cgroup.oom_kill_count() == 0
    child.send("alloc 256")
    assert child.process.wait(timeout=30) == -9
    assert cgroup.oom_kill_count() >= 1


def test_freeze_stops_the_processes_and_thaw_resumes_them(cgroup, helper):
    child = helper()
    cgroup.add_process(child.pid)
    cgroup.freeze()
    assert cgroup.state() == "frozen"
    child.send("open /dev/null")
    assert child.answer(timeout=0.3) == "timeout"
    cgroup.thaw()
    assert cgroup.state() == "thawed"
    assert child.answer(timeout=10) == "ok"


def test_kill_all_signals_every_process(cgroup, helper):
    children = [helper(), helper()]
    for child in children:
        cgroup.add_process(child.pid)
    assert cgroup.pids() == sorted(c.pid for c in children)
    cgroup.kill_all(15)
    assert [c.process.wait(timeout=10) for c in children] == [-15, -15]


def test_destroy_with_kill_ends_leftover_processes(helper):
    cg = open_cgroup(f"/dy-test-{uuid.uuid4().hex[:10]}")
    try:
        cg.create()
        child = helper()
        cg.add_process(child.pid)
        with pytest.raises(OSError, match="remove cgroup"):
            cg.destroy()  # busy, and without kill=True it fails at once
        cg.destroy(kill=True)
        assert child.process.wait(timeout=10) == -9
        assert not any(os.path.exists(d) for d in cg.dirs)
    finally:
        cg.destroy(kill=True)


def test_device_rules_deny_everything_not_allowed(cgroup, helper):
    cgroup.apply(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            ]
        }
    )
    child = helper()
    cgroup.add_process(child.pid)
    assert child.ask("open /dev/null") == "ok"
    assert child.ask("open /dev/zero") == "err 1"


def test_bpf_device_filter_on_the_unified_hierarchy(cgroup, helper):
    if cgroup.unified_dir is None:
        pytest.skip("no cgroup2 hierarchy on this host")
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    parsed = common.device_rules(rules, "linux.resources.devices")
    devices_bpf.install(cgroup.unified_dir, parsed)
    devices_bpf.install(cgroup.unified_dir, parsed)  # replacing leaves exactly one program
    fd = os.open(cgroup.unified_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(devices_bpf.attached(fd)) == 1
    finally:
        os.close(fd)
    child = helper()
    cgroup.add_process(child.pid)
    assert child.ask("open /dev/null") == "ok"
    assert child.ask("open /dev/zero") == "err 1"


def test_relative_path_lands_below_our_own_cgroups(helper):
    name = f"dy-test-{uuid.uuid4().hex[:10]}"
    cg = open_cgroup(name)
    mine = own_cgroups(os.getpid())
    try:
        cg.create()
        for h, path, d in cg.members:
            assert path == (mine[h.key].rstrip("/") + "/" + name)
            assert os.path.isdir(d)
        reopened = open_cgroup(cg.path)  # str or {hierarchy: path}: what state.json keeps
        assert reopened.dirs == cg.dirs
        child = helper()
        reopened.add_process(child.pid)
        assert cg.pids() == [child.pid]
    finally:
        cg.destroy(kill=True)
    assert not any(os.path.exists(d) for d in cg.dirs)


def test_hugetlb_limit_lands_in_the_hierarchy_holding_hugetlb(cgroup):
    if cgroup.locate("hugetlb") is None or not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no hugetlb controller or no 2MB huge pages")
    cgroup.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    assert control(cgroup, "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max") == str(4 << 20)


def test_unified_keys_are_written_to_the_cgroup2_hierarchy(cgroup):
    if cgroup.unified_dir is None:
        pytest.skip("pure cgroup v1 host")
    cgroup.apply({"unified": {"cgroup.max.descendants": "5"}})
    assert common.read(f"{cgroup.unified_dir}/cgroup.max.descendants").strip() == "5"


def test_stats_report_memory_cpu_and_pids(cgroup, helper):
    cgroup.apply({"memory": {"limit": 256 << 20}, "pids": {"limit": 50}})
    child = helper()
    cgroup.add_process(child.pid)
    assert child.ask("alloc 8") == "ok"
    stats = cgroup.stats()
    assert stats["memory"]["usage"] > 0
    assert stats["memory"]["limit"] == 256 << 20
    assert stats["cpu"]["usage_ns"] > 0
    assert stats["pids"] == {"current": 1, "limit": 50}
