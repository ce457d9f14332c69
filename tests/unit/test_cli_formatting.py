"""docker's output helpers: tables, ports, truncation and the row contexts (expected outputs are docker's)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli import formatting as f
from dockyard.cli.gotemplate import TemplateError
from dockyard.errors import InvalidParameter
from dockyard.image import reference

CONTAINER = {
    "Id": "55ee83e81ee3db5f03e1279db305ee3db62f585d44edf6427af15e94bfa90b1e",
    "Names": ["/web"],
    "Image": "busybox",
    "ImageID": "sha256:6f39935a70e8aa",
    "Command": "sh -c 'sleep 1000; echo done'",
    "Created": 1_700_000_000,
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
    "Labels": {"c": "d", "a": "b"},
    "State": "running",
    "Status": "Up 3 minutes",
    "Mounts": [{"Name": "", "Source": "/very/long/host/path/data", "Driver": ""},
               {"Name": "v1", "Source": "/var/lib/x", "Driver": "local"}],
    "NetworkSettings": {"Networks": {"bridge": {}, "front": {}}},
    "SizeRw": 4096,
    "SizeRootFs": 2_025_000,
}  # fmt: skip


def test_tabwriter_aligns_columns_as_docker_does():
    text = "CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox\tweb\n"
    assert f.tabwrite(text) == "CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n"


def test_tabwriter_realigns_after_a_line_without_tabs_and_never_pads_the_last_cell():
    text = "a\tb\nlonger cell\tx\tc\nno tab\nq\tw\n"
    assert f.tabwrite(text) == "a             b\nlonger cell   x         c\nno tab\nq         w\n"


def test_tabwriter_counts_wide_characters_twice():
    assert f.tabwrite("名前\tx\nab\ty\n") == "名前      x\nab        y\n"


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ([{"PrivatePort": 9988, "Type": "tcp"}], "9988/tcp"),
        ([{"IP": "0.0.0.0", "PrivatePort": 9988, "Type": "tcp"}], "0.0.0.0:0->9988/tcp"),
        ([{"IP": "::", "PrivatePort": 9988, "Type": "tcp"}], "[::]:0->9988/tcp"),
        ([{"PrivatePort": 9988, "PublicPort": 8899, "Type": "tcp"}], "9988/tcp"),
        ([{"IP": "4.3.2.1", "PrivatePort": 9988, "PublicPort": 8899, "Type": "tcp"}], "4.3.2.1:8899->9988/tcp"),
        ([{"IP": "::1", "PrivatePort": 9988, "PublicPort": 9988, "Type": "tcp"}], "[::1]:9988->9988/tcp"),
        ([{"PrivatePort": 9988, "Type": "udp"}, {"PrivatePort": 9988, "Type": "udp"}], "9988/udp, 9988/udp"),
        (
            [{"IP": "1.2.3.4", "PublicPort": p, "PrivatePort": p, "Type": "udp"} for p in (9999, 9998)],
            "1.2.3.4:9998-9999->9998-9999/udp",
        ),
        (
            [{"PrivatePort": p, "Type": "tcp"} for p in (80, 81, 82, 90)] + [{"PrivatePort": 53, "Type": "udp"}],
            # As docker: a range that closes early comes first, then the open groups in order of creation.
            "80-82/tcp, 53/udp, 90/tcp",
        ),
        (
            [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
             {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp",
        ),
    ],
)  # fmt: skip
def test_ports_column(ports, expected):
    assert f.displayable_ports(ports) == expected


def test_ellipsis_and_id_truncation():
    assert f.ellipsis("echo hello world this is long", 20) == "echo hello world th…"
    assert f.ellipsis("short", 20) == "short"
    assert f.ellipsis("日本語のテキスト", 7) == "日本語…"
    assert f.truncate_id("sha256:6f39935a70e8aabbcc") == "6f39935a70e8"
    assert f.truncate_id("55ee83e81ee3db5f03e1") == "55ee83e81ee3"


def test_container_row_fields():
    row = f.ContainerContext(CONTAINER)
    assert row.ID() == "55ee83e81ee3"
    assert row.Command() == '"sh -c \'sleep 1000; …"'
    assert row.Names() == "web"
    assert row.Labels() == "a=b,c=d"
    assert row.Label("c") == "d"
    assert row.Ports() == "0.0.0.0:8080->80/tcp"
    assert row.Size() == "4.1kB (virtual 2.02MB)"
    assert row.Mounts() == "/very/long/hos…,v1"
    assert row.LocalVolumes() == "1"
    assert row.Networks() == "bridge,front"
    full = f.ContainerContext(CONTAINER, trunc=False)
    assert full.ID() == CONTAINER["Id"]
    assert full.Command() == "\"sh -c 'sleep 1000; echo done'\""


_DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", "busybox"),
        ("busybox:1.36", "busybox:1.36"),
        (f"busybox@{_DIGEST}", "busybox"),
        (f"busybox:1.36@{_DIGEST}", "busybox:1.36"),
        ("docker.io/library/busybox:latest", "busybox:latest"),
        ("library/busybox", "busybox"),
        ("localhost:5000/team/app:v1", "localhost:5000/team/app:v1"),
        ("example.com/App", "example.com/App"),  # not a valid reference: shown as it is
        ("BusyBox", "BusyBox"),
        ("busybox@sha256:short", "busybox@sha256:short"),
    ],
)
def test_container_image_drops_the_digest_and_familiarises(image, expected):
    assert f.ContainerContext({"Image": image, "ImageID": "sha256:" + "cd" * 32}).Image() == expected


@given(st.text("abcAZ09:._-+ \u00e9", max_size=30) | st.from_regex(r"[a-z0-9]+([._-][a-z0-9]+)*(:[\w][\w.-]*)?"))
def test_an_image_without_slash_or_digest_is_its_own_familiar_name(image):
    # Why ps may print such a name without parsing it.
    try:
        ref = reference.parse(image, default_tag=False)
    except InvalidParameter:
        return
    assert ref.with_digest(None).familiar() == image


def test_container_json_has_docker_keys_in_order():
    out = f.write("{{json .}}", [f.ContainerContext(CONTAINER)], f.ContainerContext.header())
    assert list(json.loads(out)) == [
        "Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Platform",
        "Ports", "RunningFor", "Size", "State", "Status",
    ]  # fmt: skip
    assert json.loads(out)["Platform"] is None
    assert '"Command":"\\"sh -c \'sleep 1000; …\\""' in out


def test_json_of_a_row_escapes_html_as_go_json_marshal():
    out = f.write("{{json .}}", [f.ImageContext({"Id": "sha256:ab"})], f.ImageContext.header())
    assert '"Repository":"\\u003cnone\\u003e"' in out


def test_table_format_prints_docker_headers_and_label_columns():
    fmt = 'table {{.ID}}\\t{{.Label "com.example.my-vendor"}}\\t{{upper .Names}}'
    out = f.write(fmt, [f.ContainerContext(CONTAINER)], f.ContainerContext.header())
    assert out == "CONTAINER ID   my vendor   NAMES\n55ee83e81ee3" + " " * 15 + "WEB\n"


def test_table_without_rows_still_has_its_header():
    assert f.write(f.container_format("table"), [], f.ContainerContext.header()) == (
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    )


def test_quiet_and_custom_formats():
    rows = [f.ContainerContext(CONTAINER)]
    assert f.write(f.container_format("table", quiet=True), rows, f.ContainerContext.header()) == "55ee83e81ee3\n"
    assert f.write("{{.Names}}: {{.Status}}", rows, f.ContainerContext.header()) == "web: Up 3 minutes\n"
    assert f.write("json", rows, f.ContainerContext.header()).startswith('{"Command":')


def test_format_errors_carry_docker_prefixes():
    with pytest.raises(TemplateError, match=r"^template parsing error: template: :1: unclosed action$"):
        f.write("{{.ID", [], f.ContainerContext.header())
    with pytest.raises(TemplateError) as info:
        f.write("{{.Nope}}", [f.ContainerContext(CONTAINER)], f.ContainerContext.header())
    assert str(info.value) == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.ContainerContext"
    )


def test_size_is_requested_only_when_the_format_uses_it():
    assert f.container_format_needs_size("table {{.Names}}\t{{.Size}}")
    assert f.container_format_needs_size("{{json .}}")
    assert not f.container_format_needs_size("json")
    assert not f.container_format_needs_size("{{.Names}}")
    with pytest.raises(TemplateError, match=r"^failed to parse template: template: :1: unclosed action$"):
        f.container_format_needs_size("{{.Size")


def test_images_list_one_row_per_repository_and_tag():
    image = {"Id": "sha256:6f39935a70e8aa", "RepoTags": ["busybox:latest", "busybox:1.36", "example.com:5000/x:y"],
             "RepoDigests": ["busybox@sha256:" + "a" * 64], "Created": 1_700_000_000, "Size": 2_025_000,
             "Containers": -1}  # fmt: skip
    rows = f.image_contexts([image], f.image_format("table"))
    assert [(r.Repository(), r.Tag(), r.Digest()) for r in rows] == [
        ("busybox", "latest", "<none>"), ("busybox", "1.36", "<none>"), ("example.com:5000/x", "y", "<none>"),
    ]  # fmt: skip
    with_digests = f.image_contexts([image], "table", digest=True)
    assert with_digests[0].Digest() == "sha256:" + "a" * 64
    assert rows[0].Size() == "2.02MB" and rows[0].Containers() == "N/A"
    dangling = f.image_contexts([{"Id": "sha256:ff", "RepoTags": [], "RepoDigests": []}], "table")
    assert [(r.Repository(), r.Tag()) for r in dangling] == [("<none>", "<none>")]


def test_stats_row_is_computed_as_docker_computes_it():
    stats = {
        "name": "/web", "id": CONTAINER["Id"],
        "cpu_stats": {"cpu_usage": {"total_usage": 400}, "system_cpu_usage": 2000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 3 * 2**20, "limit": 2**30, "stats": {"inactive_file": 2**20}},
        "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 648}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
        "pids_stats": {"current": 3},
    }  # fmt: skip
    row = f.StatsContext(f.StatsEntry("web", stats))
    assert (row.Name(), row.ID(), row.CPUPerc(), row.MemUsage(), row.MemPerc()) == (
        "web", "55ee83e81ee3", "40.00%", "2MiB / 1GiB", "0.20%",
    )  # fmt: skip
    assert (row.NetIO(), row.BlockIO(), row.PIDs()) == ("1.5kB / 648B", "4.1kB / 0B", "3")
    waiting = f.StatsContext(f.StatsEntry("web"))
    assert (waiting.Name(), waiting.CPUPerc(), waiting.MemUsage()) == ("--", "--", "-- / --")


def test_network_and_volume_rows():
    network = {"Id": "f" * 64, "Name": "front", "Driver": "bridge", "Scope": "local", "Internal": True,
               "Labels": {"x": "1"}, "Created": "2026-11-23T14:48:45.123400000Z"}  # fmt: skip
    row = f.NetworkContext(network)
    assert (row.ID(), row.Internal(), row.IPv6(), row.Labels()) == ("f" * 12, "true", "false", "x=1")
    assert row.CreatedAt().startswith("2026-11-23 ") and ".1234 " in row.CreatedAt()
    volume = f.VolumeContext({"Name": "v1", "Driver": "local", "UsageData": {"Size": 2048, "RefCount": 2}})
    assert (volume.Name(), volume.Size(), volume.Links(), volume.Status()) == ("v1", "2.048kB", "2", "N/A")
