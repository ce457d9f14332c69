"""The cgroup layer against fake cgroupfs trees: a mountinfo that points into tmp_path,
directories holding the control files a kernel would show, and a log of every write."""

from __future__ import annotations

import errno
import os

import pytest

from dockyard.errors import InvalidParameter, Unsupported
from dockyard.kernel import cgroups
from dockyard.kernel.cgroups import common, devices_bpf, layout, v2

# -- sample mountinfo texts ------------------------------------------------------

V1_MOUNTINFO = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
26 25 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 26 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
32 26 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
33 26 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec shared:16 - cgroup cgroup rw,net_cls,net_prio
34 26 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
"""

V2_MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
25 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
28 25 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""

# This machine's layout: v1 controllers, named systemd, and a unified mount holding hugetlb.
HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_detect_layout_v1(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(V1_MOUNTINFO)
    assert cgroups.detect_layout(str(path)) == "v1"
    found = layout.parse_mountinfo(V1_MOUNTINFO)
    assert [h.key for h in found.hierarchies] == ["name=systemd", "cpu,cpuacct", "memory", "net_cls,net_prio", "pids"]
    assert found.unified is None


def test_detect_layout_v2(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(V2_MOUNTINFO)
    assert cgroups.detect_layout(str(path)) == "v2"
    assert layout.parse_mountinfo(V2_MOUNTINFO).unified.mountpoint == "/sys/fs/cgroup"


def test_detect_layout_hybrid(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(HYBRID_MOUNTINFO)
    assert cgroups.detect_layout(str(path)) == "hybrid"
    found = layout.parse_mountinfo(HYBRID_MOUNTINFO)
    assert found.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert found.hierarchies[-1] is found.unified


def test_v2_host_with_a_name_systemd_mount_for_old_containers_is_still_v2():
    text = V2_MOUNTINFO + "40 28 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
    found = layout.parse_mountinfo(text)
    assert found.mode == "v2"
    assert found.hierarchies == [found.unified]


def test_no_cgroup_mount_is_unsupported():
    with pytest.raises(Unsupported, match="no cgroup filesystem"):
        layout.parse_mountinfo("30 1 8:1 / / rw - ext4 /dev/sda1 rw\n")


def test_mountinfo_escapes_and_duplicate_mounts():
    text = (
        "32 31 0:29 / /srv/my\\040cgroups/memory rw - cgroup cgroup rw,memory\n"
        "33 31 0:29 /sub /elsewhere rw - cgroup cgroup rw,memory\n"
    )
    (memory,) = layout.parse_mountinfo(text).hierarchies
    assert memory.mountpoint == "/srv/my cgroups/memory"  # the first mount of a hierarchy wins


def test_parse_own_cgroups_keys_by_sorted_controllers():
    own = layout.parse_own_cgroups("4:memory:/a\n3:cpuacct,cpu:/b\n1:name=systemd:/c\n0::/d\n")
    assert own == {"memory": "/a", "cpu,cpuacct": "/b", "name=systemd": "/c", "": "/d"}


# -- fake cgroupfs trees -----------------------------------------------------------

V1_FILES = {
    "cpu": {
        "cpu.shares": "1024",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "-1",
        "cpu.cfs_burst_us": "0",
        "cpu.rt_period_us": "1000000",
        "cpu.rt_runtime_us": "0",
        "cpu.idle": "0",
        "cpu.stat": "nr_periods 7\nnr_throttled 2\nthrottled_time 5000\n",
    },
    "cpuacct": {"cpuacct.usage": "123456789", "cpuacct.stat": "user 3\nsystem 1\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {
        "memory.limit_in_bytes": "9223372036854771712",
        "memory.memsw.limit_in_bytes": "9223372036854771712",
        "memory.soft_limit_in_bytes": "",
        "memory.swappiness": "60",
        "memory.kmem.tcp.limit_in_bytes": "",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        "memory.usage_in_bytes": "4096",
        "memory.max_usage_in_bytes": "8192",
        "memory.stat": "cache 0\nrss 4096\ntotal_inactive_file 10\n",
    },
    "devices": {"devices.allow": "", "devices.deny": ""},
    "freezer": {"freezer.state": "THAWED"},
    "blkio": {
        "blkio.bfq.weight": "100",
        "blkio.bfq.weight_device": "",
        "blkio.throttle.read_bps_device": "",
        "blkio.throttle.write_bps_device": "",
        "blkio.throttle.read_iops_device": "",
        "blkio.throttle.write_iops_device": "",
    },
    "pids": {"pids.max": "max", "pids.current": "2"},
    "hugetlb": {"hugetlb.2MB.limit_in_bytes": "", "hugetlb.2MB.rsvd.limit_in_bytes": ""},
    "net_cls": {"net_cls.classid": "0"},
    "net_prio": {"net_prio.ifpriomap": ""},
}
V2_FILES = {
    "": {
        "cgroup.controllers": "",
        "cgroup.subtree_control": "",
        "cgroup.freeze": "0",
        "cgroup.kill": "",
        "cgroup.events": "populated 1\nfrozen 0\n",
        "cgroup.type": "domain",
        "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 9",
    },
    "memory": {
        "memory.max": "max",
        "memory.swap.max": "max",
        "memory.low": "0",
        "memory.current": "4096",
        "memory.peak": "8192",
        "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
        "memory.stat": "anon 4096\ninactive_file 0\n",
    },
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "io": {"io.weight": "default 100", "io.max": ""},
    "pids": {"pids.max": "max", "pids.current": "2"},
    "hugetlb": {"hugetlb.2MB.max": "max", "hugetlb.1GB.max": "max"},
}
V1_HIERARCHIES = (
    "cpu,cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls,net_prio",
    "name=systemd",
)


class FakeHost:
    """A cgroupfs tree under tmp_path for mode "v1", "v2" or "hybrid" (v1 + unified with hugetlb)."""

    def __init__(self, root, mode: str, own: dict | None = None) -> None:
        self.root = root
        self.mode = mode
        lines = []
        self.v1 = {"v1": V1_HIERARCHIES, "v2": ()}.get(mode, tuple(k for k in V1_HIERARCHIES if k != "hugetlb"))
        for i, key in enumerate(self.v1):
            mountpoint = root / key.replace("name=", "")
            lines.append(f"{40 + i} 31 0:{40 + i} / {mountpoint} rw,relatime - cgroup cgroup rw,{key}")
            self._cgroup_dir(key, mountpoint)
        self.v2_controllers = {"v2": "cpuset cpu io memory hugetlb pids", "hybrid": "hugetlb"}.get(mode)
        if self.v2_controllers is not None:
            self.unified = root if mode == "v2" else root / "unified"
            lines.append(f"60 31 0:60 / {self.unified} rw,relatime - cgroup2 cgroup2 rw,nsdelegate")
            self._cgroup_dir("", self.unified)
        (root / "cpuset" / "cpuset.cpus").exists() and (root / "cpuset" / "cpuset.cpus").write_text("0-3\n")
        (root / "cpuset" / "cpuset.mems").exists() and (root / "cpuset" / "cpuset.mems").write_text("0\n")
        self.mountinfo = root / "mountinfo"
        self.mountinfo.write_text("\n".join(lines) + "\n")
        self.own_file = root / "self-cgroup"
        own = own or {}
        entries = [f"{i + 1}:{key}:{own.get(key, '/')}" for i, key in enumerate(self.v1)]
        if self.v2_controllers is not None:
            entries.append(f"0::{own.get('', '/')}")
        self.own_file.write_text("\n".join(entries) + "\n")
        self.writes: list[tuple[str, str]] = []

    def _cgroup_dir(self, key: str, d) -> None:
        d.mkdir(parents=True, exist_ok=True)
        files = {"cgroup.procs": "", "tasks": ""} if key else {}
        if key:
            for controller in key.split(","):
                files.update(V1_FILES.get(controller, {}))
        else:
            files["cgroup.procs"] = ""
            files.update(V2_FILES[""])
            files["cgroup.controllers"] = self.v2_controllers
            for controller in self.v2_controllers.split():
                files.update(V2_FILES[controller])
        for name, content in files.items():
            if not (d / name).exists():
                (d / name).write_text(content)

    def prepare(self, path: str) -> None:
        """mkdir the cgroup and its ancestors with their control files, as the kernel would."""
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            for key in self.v1:
                self._cgroup_dir(key, self.root / key.replace("name=", "") / sub)
            if self.v2_controllers is not None:
                self._cgroup_dir("", self.unified / sub)

    def open(self, path, **kwargs) -> cgroups.Cgroup:
        return cgroups.open_cgroup(path, own_cgroup_file=str(self.own_file), mountinfo=str(self.mountinfo), **kwargs)

    def dir(self, key: str, path: str):
        return (self.unified if key == "" else self.root / key.replace("name=", "")) / path.strip("/")

    def read(self, key: str, path: str, name: str) -> str:
        return (self.dir(key, path) / name).read_text()

    def written(self, name: str) -> list[str]:
        return [data for path, data in self.writes if os.path.basename(path) == name]


@pytest.fixture
def host(tmp_path, monkeypatch, request):
    """host(mode) -> a FakeHost whose writes are logged in host.writes."""
    hosts = []
    real_write = common.write

    def logged_write(path, data):
        for fake in hosts:
            fake.writes.append((path, data))
        real_write(path, data)

    monkeypatch.setattr(common, "write", logged_write)

    def make(mode: str, **kwargs) -> FakeHost:
        fake = FakeHost(tmp_path / mode, mode, **kwargs)
        hosts.append(fake)
        return fake

    return make


# -- cgroupsPath resolution --------------------------------------------------------


def test_absolute_path_is_relative_to_each_mount_root(host):
    fake = host("hybrid")
    cg = fake.open("/dockyard/c1")
    assert cg.path == "/dockyard/c1"
    assert str(fake.root / "memory" / "dockyard" / "c1") in cg.dirs
    assert str(fake.root / "unified" / "dockyard" / "c1") in cg.dirs
    assert len(cg.dirs) == len(fake.v1) + 1


def test_relative_path_is_below_the_callers_own_cgroup_in_each_hierarchy(host):
    fake = host("hybrid", own={"memory": "/process_api/abc", "": "/user.slice"})
    cg = fake.open("dy/c1")
    assert cg.path["memory"] == "/process_api/abc/dy/c1"
    assert cg.path["pids"] == "/dy/c1"
    assert cg.path[""] == "/user.slice/dy/c1"
    again = fake.open(cg.path)  # what the runtime stores in state.json opens the same cgroup
    assert again.dirs == cg.dirs


def test_relative_path_strips_a_mount_root_that_is_not_the_hierarchy_root(tmp_path):
    (tmp_path / "mountinfo").write_text(f"60 31 0:60 /docker/abc {tmp_path} rw - cgroup2 cgroup2 rw\n")
    (tmp_path / "cgroup").write_text("0::/docker/abc/init\n")
    cg = cgroups.open_cgroup("child", own_cgroup_file=str(tmp_path / "cgroup"), mountinfo=str(tmp_path / "mountinfo"))
    assert cg.dirs == [f"{tmp_path}/init/child"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
        ("user-1000.slice:dy:abc", "/user.slice/user-1000.slice/dy-abc.scope"),
        (":dockyard:abc", "/system.slice/dockyard-abc.scope"),
        ("system.slice::abc", "/system.slice/abc.scope"),
        ("-.slice:dy:abc", "/dy-abc.scope"),
        ("system.slice:dy:machine-dy.slice", "/machine.slice/machine-dy.slice"),
    ],
)
def test_systemd_form_maps_to_the_cgroupfs_path_systemd_would_use(host, value, expected):
    assert host("v2").open(value).path == expected


@pytest.mark.parametrize("value", ["system:dy:abc", "a--b.slice:dy:abc", "system.slice:dy:", "/x/../y", "..", ""])
def test_bad_cgroups_paths_are_invalid(host, value):
    with pytest.raises(InvalidParameter, match=r"linux\.cgroupsPath"):
        host("v2").open(value)


def test_systemd_flag_forces_or_disables_the_systemd_form(host):
    fake = host("v2")
    assert fake.open("a:b:c", systemd=False).path == "/a:b:c"
    with pytest.raises(InvalidParameter, match="slice:prefix:name"):
        fake.open("/plain/path", systemd=True)


def test_parent_and_container_mounts(host):
    hybrid = host("hybrid").open("/dockyard/c1")
    assert hybrid.parent().path == "/dockyard"
    assert hybrid.parent().parent().is_root
    mounts = {name: (fstype, d) for name, fstype, _, d in hybrid.container_mounts()}
    assert mounts["memory"][0] == "cgroup" and mounts["memory"][1].endswith("/memory/dockyard/c1")
    assert mounts["cpu,cpuacct"][0] == "cgroup"
    assert mounts["unified"][0] == "cgroup2"
    pure = host("v2").open("/dockyard/c1")
    ((name, fstype, _, d),) = pure.container_mounts()
    assert (name, fstype) == ("", "cgroup2") and d.endswith("/v2/dockyard/c1")


# -- create and join ------------------------------------------------------------------


def test_create_copies_cpuset_values_down_into_new_v1_cpusets(host):
    fake = host("v1")
    fake.prepare("/dockyard/c1")  # as after mkdir: cpus and mems empty
    fake.open("/dockyard/c1").create()
    assert fake.read("cpuset", "/dockyard", "cpuset.cpus") == "0-3"
    assert fake.read("cpuset", "/dockyard/c1", "cpuset.cpus") == "0-3"
    assert fake.read("cpuset", "/dockyard/c1", "cpuset.mems") == "0"


def test_create_keeps_a_parent_cpuset_that_is_already_set(host):
    fake = host("v1")
    fake.prepare("/dockyard/c1")
    (fake.dir("cpuset", "/dockyard") / "cpuset.cpus").write_text("2\n")
    (fake.dir("cpuset", "/dockyard") / "cpuset.mems").write_text("0\n")
    fake.open("/dockyard/c1").create()
    assert fake.read("cpuset", "/dockyard/c1", "cpuset.cpus") == "2"
    assert fake.written("cpuset.cpus") == ["2"]


def test_create_enables_v2_controllers_in_every_ancestor_but_not_the_leaf(host):
    fake = host("v2")
    fake.prepare("/dockyard/c1")
    fake.open("/dockyard/c1").create()
    expected = "+cpuset +cpu +io +memory +hugetlb +pids"
    assert fake.read("", "/", "cgroup.subtree_control") == expected
    assert fake.read("", "/dockyard", "cgroup.subtree_control") == expected
    assert fake.read("", "/dockyard/c1", "cgroup.subtree_control") == ""


def test_create_skips_controllers_already_enabled(host):
    fake = host("v2")
    fake.prepare("/dockyard/c1")
    (fake.unified / "cgroup.subtree_control").write_text("cpuset cpu io memory\n")
    fake.open("/dockyard/c1").create()
    assert fake.written("cgroup.subtree_control")[0] == "+hugetlb +pids"


def test_create_makes_missing_directories(host):
    fake = host("v2")
    fake.prepare("/dy-test")  # the parent exists, with its control files
    cg = fake.open("/dy-test/c1")
    assert not cg.exists()
    cg.create()
    assert os.path.isdir(cg.dirs[0])
    assert cg.exists()


def test_add_process_joins_every_hierarchy_including_unified(host):
    fake = host("hybrid")
    fake.prepare("/dockyard/c1")
    fake.open("/dockyard/c1").add_process(4242)
    procs = [path for path, data in fake.writes if path.endswith("/cgroup.procs") and data == "4242"]
    assert len(procs) == len(fake.v1) + 1
    assert str(fake.unified / "dockyard" / "c1" / "cgroup.procs") in procs


def test_join_self_writes_zero_to_v1_tasks_and_optionally_unified(host):
    fake = host("hybrid")
    fake.prepare("/dockyard/c1")
    fake.open("/dockyard/c1").join_self(unified=False)
    assert {os.path.basename(p) for p, _ in fake.writes} == {"tasks"}
    assert {data for _, data in fake.writes} == {"0"}


# -- apply: cgroup v1 ------------------------------------------------------------------


@pytest.fixture
def v1(host):
    fake = host("v1")
    fake.prepare("/dockyard/c1")
    fake.cg = fake.open("/dockyard/c1")
    return fake


def test_v1_memory_fields_go_to_their_files(v1):
    warnings = v1.cg.apply(
        {
            "memory": {
                "limit": 1 << 30,
                "swap": 2 << 30,
                "reservation": 1 << 29,
                "swappiness": 0,
                "disableOOMKiller": True,
                "kernelTCP": 1 << 20,
            }
        }
    )
    assert warnings == []
    read = lambda name: v1.read("memory", "/dockyard/c1", name)  # noqa: E731
    assert read("memory.limit_in_bytes") == str(1 << 30)
    assert read("memory.memsw.limit_in_bytes") == str(2 << 30)
    assert read("memory.soft_limit_in_bytes") == str(1 << 29)
    assert read("memory.swappiness") == "0"
    assert read("memory.oom_control") == "1"
    assert read("memory.kmem.tcp.limit_in_bytes") == str(1 << 20)


def test_v1_memsw_is_raised_before_the_limit_and_lowered_after_it(v1):
    order = lambda: [os.path.basename(p) for p, _ in v1.writes if "limit_in_bytes" in p]  # noqa: E731
    (v1.dir("memory", "/dockyard/c1") / "memory.limit_in_bytes").write_text("1000000000")
    v1.cg.apply({"memory": {"limit": 500000000, "swap": 2000000000}})
    assert order() == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    v1.writes.clear()
    (v1.dir("memory", "/dockyard/c1") / "memory.limit_in_bytes").write_text("1000000000")
    v1.cg.apply({"memory": {"limit": 100000000, "swap": 200000000}})
    assert order() == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v1_unlimited_memory_lifts_the_memsw_limit_first(v1):
    v1.cg.apply({"memory": {"limit": -1}})
    assert [(os.path.basename(p), d) for p, d in v1.writes] == [
        ("memory.memsw.limit_in_bytes", "-1"),
        ("memory.limit_in_bytes", "-1"),
    ]


def test_v1_swap_below_the_limit_is_refused_naming_the_field(v1):
    with pytest.raises(InvalidParameter, match=r"linux\.resources\.memory\.swap: .* at least"):
        v1.cg.apply({"memory": {"limit": 200, "swap": 100}})
    assert v1.writes == []


def test_v1_kernel_memory_is_ignored_with_a_warning(v1):
    warnings = v1.cg.apply({"memory": {"kernel": 1 << 20}})
    assert warnings == ["linux.resources.memory.kernel: kernel memory limits are not supported, ignored"]
    assert v1.writes == []


def test_v1_cpu_fields_and_period_before_quota(v1):
    v1.cg.apply(
        {
            "cpu": {
                "shares": 512,
                "quota": 50000,
                "period": 200000,
                "burst": 1000,
                "realtimePeriod": 1000000,
                "realtimeRuntime": 950000,
                "idle": 1,
                "cpus": "1-2",
                "mems": "0",
            }
        }
    )
    names = [os.path.basename(p) for p, _ in v1.writes]
    assert names.index("cpu.cfs_period_us") < names.index("cpu.cfs_quota_us")
    assert names.index("cpu.rt_period_us") < names.index("cpu.rt_runtime_us")
    for name, value in [
        ("cpu.shares", "512"),
        ("cpu.cfs_quota_us", "50000"),
        ("cpu.cfs_period_us", "200000"),
        ("cpu.cfs_burst_us", "1000"),
        ("cpu.rt_runtime_us", "950000"),
        ("cpu.idle", "1"),
    ]:
        assert v1.read("cpu,cpuacct", "/dockyard/c1", name) == value
    assert v1.read("cpuset", "/dockyard/c1", "cpuset.cpus") == "1-2"
    assert v1.read("cpuset", "/dockyard/c1", "cpuset.mems") == "0"


def test_v1_zero_cpu_and_memory_values_mean_unset(v1):
    v1.cg.apply({"memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0}})
    assert v1.writes == []


@pytest.mark.parametrize(("limit", "expected"), [(-1, "max"), (0, "0"), (100, "100")])
def test_pids_limit(v1, limit, expected):
    v1.cg.apply({"pids": {"limit": limit}})
    assert v1.read("pids", "/dockyard/c1", "pids.max") == expected


def test_v1_block_io(v1):
    warnings = v1.cg.apply(
        {
            "blockIO": {
                "weight": 300,
                "leafWeight": 20,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
            }
        }
    )
    assert v1.written("blkio.bfq.weight") == ["300"]
    assert v1.written("blkio.bfq.weight_device") == ["8:0 500"]
    assert v1.written("blkio.throttle.read_bps_device") == ["8:0 1048576"]
    assert v1.written("blkio.throttle.write_iops_device") == ["8:16 300"]
    assert warnings == [
        "linux.resources.blockIO: leaf weights need the CFQ I/O scheduler, which this kernel lacks; ignored"
    ]


def test_v1_block_io_weight_without_any_weight_file_is_unsupported(v1):
    os.unlink(v1.dir("blkio", "/dockyard/c1") / "blkio.bfq.weight")
    with pytest.raises(Unsupported, match=r"linux\.resources\.blockIO\.weight: no blkio\.bfq\.weight"):
        v1.cg.apply({"blockIO": {"weight": 300}})


def test_v1_hugetlb_writes_the_limit_and_the_reservation_limit(v1):
    v1.cg.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})
    assert v1.read("hugetlb", "/dockyard/c1", "hugetlb.2MB.limit_in_bytes") == "4194304"
    assert v1.read("hugetlb", "/dockyard/c1", "hugetlb.2MB.rsvd.limit_in_bytes") == "4194304"


@pytest.mark.parametrize("size", ["1GB", "2mb", "huge"])
def test_hugetlb_unknown_page_size_names_the_entry(v1, size):
    with pytest.raises(InvalidParameter, match=r"linux\.resources\.hugepageLimits\[0\]\.pageSize"):
        v1.cg.apply({"hugepageLimits": [{"pageSize": size, "limit": 1}]})


def test_v1_devices_start_from_deny_all_then_follow_the_list(v1):
    v1.cg.apply(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": True, "type": "c", "major": 136, "access": "rw"},
                {"allow": True, "type": "b", "access": "m"},
                {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
            ]
        }
    )
    assert [(os.path.basename(p), d) for p, d in v1.writes] == [
        ("devices.deny", "a"),
        ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "c 136:* rw"),
        ("devices.allow", "b *:* m"),
        ("devices.deny", "c 1:3 w"),
    ]


def test_v1_network_priorities_and_class(v1):
    assert v1.cg.apply({"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}}) == []
    assert v1.written("net_cls.classid") == ["1048577"]
    assert v1.written("net_prio.ifpriomap") == ["eth0 5"]


def test_unified_on_pure_v1_is_refused_clearly(v1):
    with pytest.raises(Unsupported, match=r"linux\.resources\.unified: needs cgroup v2.*only cgroup v1"):
        v1.cg.apply({"unified": {"memory.high": "1G"}})


def test_einval_becomes_invalid_parameter_naming_field_and_file(v1, monkeypatch):
    def refuse(path, data):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(common, "write", refuse)
    with pytest.raises(InvalidParameter) as info:
        v1.cg.apply({"memory": {"limit": 4096}})
    assert str(info.value) == "linux.resources.memory.limit: write memory.limit_in_bytes: Invalid argument"


def test_other_errors_stay_os_errors_naming_field_and_file(v1, monkeypatch):
    def busy(path, data):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(common, "write", busy)
    with pytest.raises(OSError) as info:
        v1.cg.apply({"pids": {"limit": 5}})
    assert info.value.errno == errno.EBUSY
    assert "linux.resources.pids.limit: write pids.max: Device or resource busy" in str(info.value)


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
        ({"memory": {"limit": True}}, "linux.resources.memory.limit"),
        ({"cpu": {"shares": 1.5}}, "linux.resources.cpu.shares"),
        ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
        ({"devices": [{"allow": True, "type": "x"}]}, r"linux.resources.devices\[0\].type"),
        ({"devices": [{"allow": True, "access": "rx"}]}, r"linux.resources.devices\[0\].access"),
        ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}}, r"throttleReadBpsDevice\[0\].minor"),
        ({"memory": []}, "linux.resources.memory: must be an object"),
    ],
)
def test_malformed_values_name_the_field(v1, resources, field):
    with pytest.raises(InvalidParameter, match=field):
        v1.cg.apply(resources)


def test_absent_fields_write_nothing(v1):
    assert v1.cg.apply({}) == []
    assert v1.cg.apply({"memory": {}, "cpu": {}, "pids": {}, "blockIO": {}, "hugepageLimits": [], "unified": {}}) == []
    assert v1.writes == []


def test_the_root_cgroup_is_never_limited(host):
    root = host("v1").open("/")
    with pytest.raises(InvalidParameter, match="root cgroup"):
        root.apply({"pids": {"limit": 1}})
    with pytest.raises(OSError, match="root cgroup"):
        root.destroy()


# -- apply: cgroup v2 ------------------------------------------------------------------


def test_cpu_shares_to_weight_keeps_both_ends_and_the_default():
    assert v2.cpu_weight(2) == 1
    assert v2.cpu_weight(1024) == 100
    assert v2.cpu_weight(262144) == 10000
    assert v2.cpu_weight(1) == 1 and v2.cpu_weight(10**6) == 10000
    weights = [v2.cpu_weight(s) for s in range(2, 262145, 97)]
    assert weights == sorted(weights)


def test_blkio_weight_to_io_weight():
    assert (v2.io_weight(10), v2.io_weight(1000)) == (1, 10000)
    assert v2.io_weight(500) == 1 + 490 * 9999 // 990


@pytest.mark.parametrize(
    ("swap", "limit", "expected"),
    [(None, None, None), (None, -1, "max"), (-1, 1000, "max"), (3000, 1000, "2000"), (1000, 1000, "0"), (0, 500, None)],
)
def test_swap_max_is_swap_minus_limit(swap, limit, expected):
    assert v2.swap_max(swap, limit, "linux.resources.memory") == expected


@pytest.mark.parametrize(("swap", "limit"), [(1000, None), (1000, -1), (500, 1000)])
def test_swap_max_refuses_impossible_pairs(swap, limit):
    with pytest.raises(InvalidParameter, match=r"linux\.resources\.memory\.swap"):
        v2.swap_max(swap, limit, "linux.resources.memory")


@pytest.mark.parametrize(
    ("quota", "period", "current", "expected"),
    [
        (50000, None, "max 100000", "50000 100000"),
        (None, 250000, "20000 100000", "20000 250000"),
        (-1, 100000, None, "max 100000"),
        (50000, 200000, None, "50000 200000"),
    ],
)
def test_cpu_max_keeps_the_half_not_given(quota, period, current, expected):
    assert v2.cpu_max(quota, period, current) == expected


@pytest.fixture
def pure_v2(host):
    fake = host("v2")
    fake.prepare("/dockyard/c1")
    fake.cg = fake.open("/dockyard/c1")
    return fake


def test_v2_memory(pure_v2):
    warnings = pure_v2.cg.apply(
        {
            "memory": {
                "limit": 1 << 30,
                "swap": 3 << 30,
                "reservation": 1 << 29,
                "swappiness": 10,
                "disableOOMKiller": True,
            }
        }
    )
    read = lambda name: pure_v2.read("", "/dockyard/c1", name)  # noqa: E731
    assert read("memory.max") == str(1 << 30)
    assert read("memory.swap.max") == str(2 << 30)
    assert read("memory.low") == str(1 << 29)
    assert warnings == [
        "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness, ignored",
        "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer, ignored",
    ]


def test_v2_unlimited_memory_means_unlimited_swap(pure_v2):
    pure_v2.cg.apply({"memory": {"limit": -1}})
    assert pure_v2.written("memory.swap.max") == ["max"]
    assert pure_v2.written("memory.max") == ["max"]


def test_v2_missing_swap_accounting_is_fine_unless_swap_is_limited(pure_v2):
    os.unlink(pure_v2.dir("", "/dockyard/c1") / "memory.swap.max")
    pure_v2.cg.apply({"memory": {"limit": 1000, "swap": -1}})
    with pytest.raises(Unsupported, match="swap accounting"):
        pure_v2.cg.apply({"memory": {"limit": 1000, "swap": 2000}})


def test_v2_check_before_update_refuses_a_limit_below_usage(pure_v2):
    with pytest.raises(InvalidParameter, match="below the current usage 4096"):
        pure_v2.cg.apply({"memory": {"limit": 1024, "checkBeforeUpdate": True}})


def test_v2_cpu(pure_v2):
    (pure_v2.dir("", "/dockyard/c1") / "cpu.max").write_text("max 250000\n")
    pure_v2.cg.apply({"cpu": {"shares": 1024, "quota": 50000, "burst": 10, "idle": 0, "cpus": "0-1", "mems": "0"}})
    assert pure_v2.written("cpu.weight") == ["100"]
    assert pure_v2.written("cpu.max") == ["50000 250000"]
    assert pure_v2.written("cpu.max.burst") == ["10"]
    assert pure_v2.written("cpuset.cpus") == ["0-1"]


def test_v2_realtime_cpu_is_unsupported(pure_v2):
    with pytest.raises(Unsupported, match=r"linux\.resources\.cpu\.realtimeRuntime"):
        pure_v2.cg.apply({"cpu": {"realtimeRuntime": 950000}})


def test_v2_io_converts_weights_and_builds_io_max_lines(pure_v2):
    warnings = pure_v2.cg.apply(
        {
            "blockIO": {
                "weight": 1000,
                "leafWeight": 10,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 10}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 7}],
            }
        }
    )
    assert pure_v2.written("io.weight") == ["default 10000", "8:0 1"]
    assert pure_v2.written("io.max") == ["8:0 rbps=100", "8:0 wiops=7"]
    assert warnings == ["linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights, ignored"]


def test_v2_io_prefers_bfq_weights_on_the_blkio_scale(pure_v2):
    (pure_v2.dir("", "/dockyard/c1") / "io.bfq.weight").write_text("default 100\n")
    pure_v2.cg.apply({"blockIO": {"weight": 300}})
    assert pure_v2.written("io.bfq.weight") == ["300"]
    assert pure_v2.written("io.weight") == []


def test_v2_pids_and_hugetlb(pure_v2):
    pure_v2.cg.apply({"pids": {"limit": 64}, "hugepageLimits": [{"pageSize": "1GB", "limit": 0}]})
    assert pure_v2.written("pids.max") == ["64"]
    assert pure_v2.written("hugetlb.1GB.max") == ["0"]


def test_v2_unified_values_are_written_verbatim(pure_v2):
    pure_v2.cg.apply({"unified": {"memory.max": "max", "io.max": "8:0 rbps=1\n8:16 wiops=2"}})
    assert pure_v2.written("memory.max") == ["max"]
    assert pure_v2.written("io.max") == ["8:0 rbps=1\n8:16 wiops=2"]


def test_v2_unified_key_of_a_missing_controller_is_an_error(pure_v2):
    with pytest.raises(Unsupported, match=r"linux\.resources\.unified\.rdma\.max: .*rdma controller"):
        pure_v2.cg.apply({"unified": {"rdma.max": "mlx5_0 hca_handle=1"}})
    with pytest.raises(InvalidParameter, match="not a cgroup file name"):
        pure_v2.cg.apply({"unified": {"../cgroup.procs": "1"}})


def test_v2_network_is_ignored_with_warnings(pure_v2):
    warnings = pure_v2.cg.apply({"network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]}})
    assert len(warnings) == 2 and "net_cls" in warnings[0] and "net_prio" in warnings[1]
    assert pure_v2.writes == []


def test_v2_devices_install_a_bpf_program(pure_v2, monkeypatch):
    installed = []
    monkeypatch.setattr(devices_bpf, "install", lambda d, rules: installed.append((d, rules)))
    pure_v2.cg.apply(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
            ]
        }
    )
    assert installed == [(pure_v2.cg.dirs[0], [(False, "a", -1, -1, 7), (True, "c", 1, 3, 6)])]


def test_hybrid_puts_each_controller_where_it_lives(host):
    fake = host("hybrid")
    fake.prepare("/dockyard/c1")
    cg = fake.open("/dockyard/c1")
    cg.apply(
        {
            "memory": {"limit": 4096},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
            "unified": {"hugetlb.1GB.max": "0"},
        }
    )
    assert fake.read("memory", "/dockyard/c1", "memory.limit_in_bytes") == "4096"
    assert fake.read("", "/dockyard/c1", "hugetlb.2MB.max") == "2097152"
    assert fake.read("", "/dockyard/c1", "hugetlb.1GB.max") == "0"
    assert cg.locate("memory")[0] == 1 and cg.locate("hugetlb")[0] == 2 and cg.locate("rdma") is None


# -- the device filter program -----------------------------------------------------------


def run_bpf(program: list[tuple], dev_type: str, major: int, minor: int, access: str) -> int:
    """Interpret the instructions build_program emits, on one device access."""
    access_bits = sum(common.ACCESS_BITS[a] for a in access)
    ctx = {0: access_bits << 16 | devices_bpf.DEV_TYPES[dev_type], 4: major, 8: minor}
    regs = [0] * 11
    regs[1] = "ctx"
    pc = 0
    for _ in range(10000):
        code, dst, src, off, imm = program[pc]
        pc += 1
        if code == devices_bpf.LDX_W:
            assert regs[src] == "ctx"
            regs[dst] = ctx[off]
        elif code == devices_bpf.MOV_X:
            regs[dst] = regs[src]
        elif code == devices_bpf.MOV_K:
            regs[dst] = imm
        elif code == devices_bpf.AND_K:
            regs[dst] &= imm
        elif code == devices_bpf.RSH_K:
            regs[dst] >>= imm
        elif code in (devices_bpf.JNE_K, devices_bpf.JEQ_K):
            assert off >= 0
            if (regs[dst] != imm) == (code == devices_bpf.JNE_K):
                pc += off
        elif code == devices_bpf.EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("no exit")


DOCKER_DEFAULT_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # null
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # zero
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},  # pts
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"},
]


@pytest.mark.parametrize(
    ("device", "access", "verdict"),
    [
        (("c", 1, 3), "rw", 1),
        (("c", 1, 3), "rwm", 1),
        (("c", 136, 7), "rw", 1),
        (("c", 1, 5), "r", 1),
        (("c", 1, 5), "rw", 0),  # the later deny of "w" wins even on a read+write request
        (("c", 1, 5), "w", 0),
        (("c", 10, 200), "rw", 0),  # not listed: default deny
        (("c", 10, 200), "m", 1),
        (("b", 8, 0), "m", 1),
        (("b", 8, 0), "r", 0),
    ],
)
def test_device_program_follows_the_rules_last_match_wins(device, access, verdict):
    program = devices_bpf.build_program(common.device_rules(DOCKER_DEFAULT_RULES, "devices"))
    assert run_bpf(program, *device, access) == verdict


def test_device_program_without_rules_denies_everything():
    program = devices_bpf.build_program([])
    assert run_bpf(program, "c", 1, 3, "r") == 0


def test_device_program_stops_at_an_unconditional_rule():
    # The verifier refuses unreachable instructions, so nothing may follow "allow all".
    rules = common.device_rules([{"allow": False, "type": "c", "major": 1, "minor": 3}, {"allow": True}], "devices")
    program = devices_bpf.build_program(rules)
    assert program[-2:] == [(devices_bpf.MOV_K, 0, 0, 0, 1), (devices_bpf.EXIT, 0, 0, 0, 0)]
    assert run_bpf(program, "c", 1, 3, "r") == 1
    assert run_bpf(program, "b", 8, 0, "rw") == 1
    every_jump_lands_inside = all(
        pc + 1 + off < len(program)
        for pc, (code, _, _, off, _) in enumerate(program)
        if code in (devices_bpf.JNE_K, devices_bpf.JEQ_K)
    )
    assert every_jump_lands_inside


def test_device_program_encodes_eight_bytes_per_instruction():
    program = devices_bpf.build_program(common.device_rules(DOCKER_DEFAULT_RULES, "devices"))
    raw = devices_bpf.encode(program)
    assert len(raw) == 8 * len(program)
    assert raw[:8] == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])  # r2 = *(u32 *)(r1 + 0)


# -- freezer, processes, removal, figures ----------------------------------------------------


def test_v1_freeze_and_thaw(v1):
    v1.cg.freeze()
    assert v1.read("freezer", "/dockyard/c1", "freezer.state") == "FROZEN"
    assert v1.cg.state() == "frozen"
    v1.cg.thaw()
    assert v1.cg.state() == "thawed"


def test_v2_freeze_waits_for_the_frozen_event(pure_v2, monkeypatch):
    events = pure_v2.dir("", "/dockyard/c1") / "cgroup.events"
    polls = []
    real_read = common.read

    def kernel_catches_up(path):
        if path.endswith("cgroup.events"):
            polls.append(path)
            if len(polls) == 3:
                events.write_text("populated 1\nfrozen 1\n")
        return real_read(path)

    monkeypatch.setattr(common, "read", kernel_catches_up)
    pure_v2.cg.freeze()
    assert pure_v2.written("cgroup.freeze") == ["1"]
    assert len(polls) == 3
    assert pure_v2.cg.state() == "frozen"


def test_pids_lists_nested_cgroups_without_duplicates(pure_v2):
    d = pure_v2.dir("", "/dockyard/c1")
    (d / "cgroup.procs").write_text("10\n11\n")
    (d / "inner").mkdir()
    (d / "inner" / "cgroup.procs").write_text("12\n10\n")
    assert pure_v2.cg.pids() == [10, 11, 12]


def test_sigkill_uses_cgroup_kill_on_v2(pure_v2, monkeypatch):
    monkeypatch.setattr(os, "kill", lambda pid, sig: pytest.fail("no per-process kill expected"))
    pure_v2.cg.kill_all(9)
    assert pure_v2.written("cgroup.kill") == ["1"]


def test_other_signals_go_to_every_process(pure_v2, monkeypatch):
    (pure_v2.dir("", "/dockyard/c1") / "cgroup.procs").write_text("10\n11\n")
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    pure_v2.cg.kill_all(15)
    assert sent == [(10, 15), (11, 15)]


def test_v1_sigkill_freezes_kills_then_thaws(v1, monkeypatch):
    (v1.dir("pids", "/dockyard/c1") / "cgroup.procs").write_text("10\n")
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, v1.cg.state())))
    v1.cg.kill_all(9)
    assert sent == [(10, "frozen")]
    assert v1.written("freezer.state") == ["FROZEN", "THAWED"]


def test_destroy_removes_every_hierarchy_and_is_idempotent(host):
    fake = host("hybrid")
    cg = fake.open("/dockyard/c1")
    for d in cg.dirs:  # bare directories: a fake tree's files would make rmdir fail
        os.makedirs(d)
    cg.destroy()
    assert not any(os.path.exists(d) for d in cg.dirs)
    cg.destroy()
    assert not cg.exists()


def test_destroy_of_a_busy_parent_fails_at_once(host):
    fake = host("v2")
    cg = fake.open("/dockyard/c1")
    os.makedirs(cg.dirs[0])
    with pytest.raises(OSError, match="remove cgroup"):
        cg.parent().destroy()
    assert os.path.isdir(cg.dirs[0])


def test_destroy_with_kill_removes_nested_cgroups(host):
    fake = host("v2")
    cg = fake.open("/dockyard/c1")
    os.makedirs(cg.dirs[0] + "/inner/deeper")
    cg.destroy(kill=True)
    assert not os.path.exists(cg.dirs[0])


def test_oom_kill_count(v1, pure_v2):
    assert v1.cg.oom_kill_count() == 3
    assert pure_v2.cg.oom_kill_count() == 1


def test_stats_v1(v1):
    stats = v1.cg.stats()
    assert stats["memory"] == {
        "usage": 4096,
        "limit": None,
        "max_usage": 8192,
        "stats": {"cache": 0, "rss": 4096, "total_inactive_file": 10},
    }
    ticks = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert stats["cpu"] == {
        "usage_ns": 123456789,
        "user_ns": 3 * ticks,
        "system_ns": ticks,
        "periods": 7,
        "throttled_periods": 2,
        "throttled_ns": 5000,
    }
    assert stats["pids"] == {"current": 2, "limit": None}


def test_stats_v2(pure_v2):
    pure_v2.cg.apply({"memory": {"limit": 1 << 20}, "pids": {"limit": 9}})
    stats = pure_v2.cg.stats()
    assert stats["memory"] == {
        "usage": 4096,
        "limit": 1 << 20,
        "max_usage": 8192,
        "stats": {"anon": 4096, "inactive_file": 0},
    }
    assert stats["cpu"] == {
        "usage_ns": 1500000,
        "user_ns": 1000000,
        "system_ns": 500000,
        "periods": 4,
        "throttled_periods": 1,
        "throttled_ns": 9000,
    }
    assert stats["pids"] == {"current": 2, "limit": 9}


def test_stats_of_a_removed_cgroup_do_not_raise(host):
    stats = host("v2").open("/gone").stats()
    assert stats["memory"]["usage"] == 0 and stats["pids"]["current"] == 0


def test_block_io_figures_read_as_docker_shows_them():
    from dockyard.kernel.cgroups.stats import block_io_v2, parse_v1_entries

    v1 = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\nTotal 4608\n"
    assert parse_v1_entries(v1) == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "Write", "value": 512},
        {"major": 8, "minor": 0, "op": "Sync", "value": 0},
    ]
    v2 = "259:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n"
    assert block_io_v2(v2) == {
        "io_service_bytes_recursive": [
            {"major": 259, "minor": 0, "op": "read", "value": 100},
            {"major": 259, "minor": 0, "op": "write", "value": 200},
        ],
        "io_serviced_recursive": [
            {"major": 259, "minor": 0, "op": "read", "value": 3},
            {"major": 259, "minor": 0, "op": "write", "value": 4},
        ],
    }
