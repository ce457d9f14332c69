"""`dockyard`'s --format against the docker CLI on the same daemon: the same bytes for ps, images, inspect,
volume ls and network ls formats, and the same errors."""

from __future__ import annotations

import json

import pytest

from dockyard.cli.gotemplate import Template
from support.cli import CLI

PS_FORMATS = [
    "table",
    "raw",
    "json",
    "{{json .}}",
    'table {{.ID}}\\t{{.Label "com.example.tier"}}\\t{{upper .Names}}\\t{{.Labels}}',
    "{{.Names}} {{.Command}} {{.Platform}} {{.State}} {{.LocalVolumes}} {{.Mounts}}",
    "table {{.Names}}\\t{{.Size}}",
    '{{range $i, $l := split .Labels ","}}{{$i}}:{{$l}} {{end}}',
]
IMAGE_FORMATS = ["table", "raw", "{{json .}}", "table {{.Repository}}:{{.Tag}}\\t{{.Size}}\\t{{.Containers}}"]
INSPECT_TEMPLATES = [
    "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}",
    "{{.Name}} {{.Config.Image}} {{.Path}} {{.Args}}",
    "{{json .Config.Labels}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
    '{{index .Config.Labels "com.example.tier"}}|{{index .Config.Labels "missing"}}|',
    '{{join .Config.Cmd " "}} {{len .Config.Env}} {{json .Config.Cmd}}',
    '{{if .State.Running}}up{{else}}down{{end}} {{printf "%.12s" .Id}} {{lower .State.Status}}',
    "{{.Config.Labels}} {{.HostConfig.Memory}} {{.RestartCount}} {{.Config.Tty}}",
    '{{range .Config.Env}}{{println .}}{{end}}{{title .State.Status}} {{split .Config.Image ":"}}',
    # What docker prints because it runs the template over Go structs first.
    "{{.ID}} {{.State.Health}} {{json .State.Health}} {{.HostConfig.Binds}} {{json .HostConfig.Binds}}",
    "{{.State}}|{{.GraphDriver}}|{{.Config.Entrypoint}}|{{.Config.ExposedPorts}}|{{.HostConfig.RestartPolicy}}",
    "{{if .State.Health}}{{.State.Health.Status}}{{else}}no health{{end}}",
    '{{index .NetworkSettings.Ports "80/tcp"}}',
    "json",
]
IMAGE_INSPECT_TEMPLATES = [
    "{{.ID}} {{.RepoTags}} {{.Config.Cmd}} {{.Config.Entrypoint}} {{.Os}}/{{.Architecture}}",
    "{{.Id}} {{.Created}}",
    '{{.RootFS}} {{len .RootFS.Layers}} {{.Size}} {{index .Config.Labels "x"}}| {{.Config.ExposedPorts}}',
]


def _same_as_docker(daemon, *args: str, attempts: int = 3) -> tuple[str, str]:
    """docker's output and dockyard's for the same command; durations ("2 seconds ago") may tick between the
    two, so a difference is looked at again."""
    dockyard = CLI("dockyard", daemon)
    for _ in range(attempts):
        theirs, ours = daemon.docker(*args).stdout, dockyard(*args).stdout
        if theirs == ours:
            break
    return theirs, ours


@pytest.fixture(scope="module")
def containers(busybox_daemon):
    d = busybox_daemon
    d.docker("run", "-d", "--name", "dy-fmt-web", "--label", "com.example.tier=front", "--label", "a=b",
             "busybox", "sh", "-c", "sleep 600")  # fmt: skip
    d.docker("create", "--name", "dy-fmt-created", "busybox", "echo", "hello world this is long")
    d.docker("run", "--name", "dy-fmt-exited", "busybox", "sh", "-c", "exit 3", check=False)
    ids = [c["Id"] for c in _api(d, "/containers/json?all=1")]
    assert len(ids) == 3
    yield ids
    d.docker("rm", "-f", "dy-fmt-web", "dy-fmt-created", "dy-fmt-exited", check=False)


def _api(daemon, path: str):
    status, _, body = daemon.request("GET", path)
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("fmt", PS_FORMATS)
def test_ps_format_prints_what_docker_prints(busybox_daemon, containers, fmt):
    theirs, ours = _same_as_docker(busybox_daemon, "ps", "-a", "--format", fmt)
    assert ours == theirs


@pytest.mark.parametrize("flags", [("-s",), ("--no-trunc",), ("-q",), ("-q", "--format", "{{.Names}}")])
def test_ps_flags_change_the_table_as_docker(busybox_daemon, containers, flags):
    theirs, ours = _same_as_docker(busybox_daemon, "ps", "-a", *flags)
    assert ours == theirs


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_images_format_prints_what_docker_prints(busybox_daemon, containers, fmt):
    theirs, ours = _same_as_docker(busybox_daemon, "images", "--format", fmt)
    assert ours == theirs


@pytest.mark.parametrize("template", INSPECT_TEMPLATES)
def test_inspect_templates_print_what_docker_prints(busybox_daemon, containers, template):
    for container in containers:
        theirs, ours = _same_as_docker(busybox_daemon, "inspect", "--format", template, container)
        assert ours == theirs


@pytest.mark.parametrize("template", IMAGE_INSPECT_TEMPLATES)
def test_image_inspect_templates_print_what_docker_prints(busybox_daemon, template):
    theirs, ours = _same_as_docker(busybox_daemon, "image", "inspect", "--format", template, "busybox")
    assert ours == theirs


# The third: the typed attempt has ID but no Id, the raw one Id but no ID. The last does not parse.
@pytest.mark.parametrize("template", ["{{.Config.Nope}}", "{{.State.Health.Status}}", "{{.ID}} {{.Id}}", "{{.Id"])
def test_inspect_errors_are_docker_s(busybox_daemon, containers, template):
    theirs = busybox_daemon.docker("inspect", "--format", template, containers[0], check=False)
    ours = CLI("dockyard", busybox_daemon)("inspect", "--format", template, containers[0], check=False)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stderr.strip() == theirs.stderr.strip()


@pytest.mark.parametrize(
    "args",
    [
        ("volume", "ls"),
        ("volume", "ls", "-q"),
        ("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}"),
        ("volume", "ls", "--format", "json"),
        ("volume", "ls", "--filter", "label=dy-fmt"),
        ("volume", "inspect", "dy-fmt-vol"),
        ("volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}}", "dy-fmt-vol"),
    ],
)
def test_volume_listings_print_what_docker_prints(busybox_daemon, volumes, args):
    theirs, ours = _same_as_docker(busybox_daemon, *args)
    assert ours == theirs


@pytest.mark.parametrize(
    "args",
    [
        ("network", "ls"),
        ("network", "ls", "-q", "--no-trunc"),
        ("network", "ls", "--format", "table {{.Name}}\t{{.Driver}}\t{{.IPv6}}\t{{.Internal}}"),
    ],
)
def test_network_listings_print_what_docker_prints(busybox_daemon, args):
    if busybox_daemon.request("GET", "/networks")[0] == 404:
        pytest.skip("this daemon has no network API yet (branch net-core)")
    theirs, ours = _same_as_docker(busybox_daemon, *args)
    assert ours == theirs


@pytest.fixture(scope="module")
def volumes(busybox_daemon):
    d = busybox_daemon
    d.docker("volume", "create", "--label", "dy-fmt=1", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "dy-fmt-vol")
    d.docker("volume", "create", "dy-fmt-plain")
    yield
    d.docker("volume", "rm", "-f", "dy-fmt-vol", "dy-fmt-plain", check=False)


def test_version_client_data_renders_as_docker(busybox_daemon):
    # docker version's client half is Go data of the CLI itself: a check of the json/join/split functions.
    template = '{{json .Client}}|{{join (split .Client.Version ".") "-"}}|{{upper .Client.Os}}|{{.Client.Arch}}'
    theirs = busybox_daemon.docker("version", "--format", template).stdout
    client = json.loads(busybox_daemon.docker("version", "--format", "{{json .Client}}").stdout)
    assert Template(template).execute({"Client": client}) + "\n" == theirs


@pytest.mark.parametrize("fmt", ["{{.Name}} {{.ID}} {{.PIDs}} {{.Container}}", "table {{.Name}}\\t{{.PIDs}}", "json"])
def test_stats_format_prints_what_docker_prints(busybox_daemon, containers, fmt):
    if fmt == "json":
        # Figures move between two samples: the keys and the fixed fields are compared.
        theirs, ours = (
            json.loads(run("stats", "--no-stream", "--format", fmt, "dy-fmt-web").stdout)
            for run in (busybox_daemon.docker, CLI("dockyard", busybox_daemon))
        )
        assert sorted(ours) == sorted(theirs) and (ours["Name"], ours["ID"]) == (theirs["Name"], theirs["ID"])
        return
    theirs, ours = _same_as_docker(busybox_daemon, "stats", "--no-stream", "--format", fmt, "dy-fmt-web")
    assert ours == theirs
