"""dockyard's --format machinery against the docker CLI on the same daemon: the same bytes for ps, images and
inspect formats."""

from __future__ import annotations

import json

import pytest

from dockyard.cli import formatting as f
from dockyard.cli.formatting.typed import render
from dockyard.cli.gotemplate import Template, TemplateError

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
]
IMAGE_INSPECT_TEMPLATES = [
    "{{.ID}} {{.RepoTags}} {{.Config.Cmd}} {{.Config.Entrypoint}} {{.Os}}/{{.Architecture}}",
    "{{.Id}} {{.Created}}",
    '{{.RootFS}} {{len .RootFS.Layers}} {{.Size}} {{index .Config.Labels "x"}}| {{.Config.ExposedPorts}}',
]


def _until_equal(produce, attempts: int = 3):
    # Durations ("2 seconds ago") may tick between the two renderings: compare again if so.
    for _ in range(attempts):
        theirs, ours = produce()
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
    def produce():
        theirs = busybox_daemon.docker("ps", "-a", "--format", fmt).stdout
        size = fmt not in ("table", "raw") and f.container_format_needs_size(fmt)
        listed = _api(busybox_daemon, "/containers/json?all=1" + ("&size=1" if size else ""))
        rows = [f.ContainerContext(c) for c in listed]
        return theirs, f.write(f.container_format(fmt), rows, f.ContainerContext.header())

    theirs, ours = _until_equal(produce)
    assert ours == theirs


@pytest.mark.parametrize("flags", [("-s",), ("--no-trunc",), ("-q",)])
def test_ps_flags_change_the_table_as_docker(busybox_daemon, containers, flags):
    def produce():
        theirs = busybox_daemon.docker("ps", "-a", *flags).stdout
        listed = _api(busybox_daemon, "/containers/json?all=1" + ("&size=1" if "-s" in flags else ""))
        rows = [f.ContainerContext(c, trunc="--no-trunc" not in flags) for c in listed]
        fmt = f.container_format("table", quiet="-q" in flags, size="-s" in flags)
        return theirs, f.write(fmt, rows, f.ContainerContext.header())

    theirs, ours = _until_equal(produce)
    assert ours == theirs


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_images_format_prints_what_docker_prints(busybox_daemon, containers, fmt):
    def produce():
        theirs = busybox_daemon.docker("images", "--format", fmt).stdout
        images = _api(busybox_daemon, "/images/json")
        return theirs, f.write(f.image_format(fmt), f.image_contexts(images, fmt), f.ImageContext.header())

    theirs, ours = _until_equal(produce)
    assert ours == theirs


@pytest.mark.parametrize("template", INSPECT_TEMPLATES)
def test_inspect_templates_print_what_docker_prints(busybox_daemon, containers, template):
    for container in containers:
        theirs = busybox_daemon.docker("inspect", "--format", template, container).stdout
        data = _api(busybox_daemon, f"/containers/{container}/json")
        assert render(Template(template), data, "container") + "\n" == theirs


@pytest.mark.parametrize("template", IMAGE_INSPECT_TEMPLATES)
def test_image_inspect_templates_print_what_docker_prints(busybox_daemon, template):
    theirs = busybox_daemon.docker("image", "inspect", "--format", template, "busybox").stdout
    data = _api(busybox_daemon, "/images/busybox/json")
    assert render(Template(template), data, "image") + "\n" == theirs


# The last: the typed attempt has ID but no Id, the raw one Id but no ID.
@pytest.mark.parametrize("template", ["{{.Config.Nope}}", "{{.State.Health.Status}}", "{{.ID}} {{.Id}}"])
def test_inspect_errors_are_docker_s(busybox_daemon, containers, template):
    result = busybox_daemon.docker("inspect", "--format", template, containers[0], check=False)
    data = _api(busybox_daemon, f"/containers/{containers[0]}/json")
    with pytest.raises(TemplateError) as info:
        render(Template(template), data, "container")
    assert result.returncode == 1
    assert result.stderr.strip() == str(info.value)


def test_version_client_data_renders_as_docker(busybox_daemon):
    # docker version's client half is Go data of the CLI itself: a check of the json/join/split functions.
    template = '{{json .Client}}|{{join (split .Client.Version ".") "-"}}|{{upper .Client.Os}}|{{.Client.Arch}}'
    theirs = busybox_daemon.docker("version", "--format", template).stdout
    client = json.loads(busybox_daemon.docker("version", "--format", "{{json .Client}}").stdout)
    assert Template(template).execute({"Client": client}) + "\n" == theirs
