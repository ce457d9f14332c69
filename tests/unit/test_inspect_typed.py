"""docker inspect --format over docker's Go types (formatting.typed): what the typed attempt prints, and the raw
fallback's errors. Expected outputs are docker 28's for the same JSON."""

from __future__ import annotations

import pytest

from dockyard.cli.formatting.typed import render, typed
from dockyard.cli.gotemplate import Template, TemplateError

CONTAINER = {
    "Id": "55ee83e81ee3db5f",
    "Name": "/web",
    "State": {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
              "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": "0001-01-01T00:00:00Z",
              "FinishedAt": "0001-01-01T00:00:00Z"},
    "HostConfig": {"Binds": None, "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
    "Config": {"Image": "busybox", "Cmd": ["sh"], "Entrypoint": None, "Labels": {"a": "b"}, "ExposedPorts": None},
    "GraphDriver": {"Name": "overlay", "Data": {}},
    "NetworkSettings": {"Ports": {}},
}  # fmt: skip


def inspect(text: str) -> str:
    return render(Template(text), CONTAINER, "container")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{.State}}", "{created false false false false false 0 0  0001-01-01T00:00:00Z 0001-01-01T00:00:00Z <nil>}"),
        ("{{.State.Health}}", "<nil>"),
        ("{{json .State.Health}}", "null"),
        ("{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", "none"),
        ("{{.HostConfig.Binds}} {{json .HostConfig.Binds}} {{len .HostConfig.Binds}}", "[] null 0"),
        ("{{.Config.Entrypoint}} {{.Config.ExposedPorts}}", "[] map[]"),
        ('[{{index .Config.Labels "missing"}}]', "[]"),
        ("{{.HostConfig.PortBindings}}", "map[80/tcp:[{ 8080}]]"),
        ("{{.GraphDriver}}", "{map[] overlay}"),
        ("{{.ID}}|{{.Id}}", None),
        # The typed attempt fails (nat.Port is no string), the raw one gives nil.
        ('{{index .NetworkSettings.Ports "80/tcp"}}', "<no value>"),
    ],
)
def test_typed_attempt_prints_as_docker(text, expected):
    if expected is None:
        # Docker's Go field is ID, the JSON key Id: no attempt knows both.
        with pytest.raises(TemplateError, match='map has no entry for key "ID"'):
            inspect(text)
    else:
        assert inspect(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{.Config.Nope}}", 'template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope"'),
        ("{{.State.Health.Status}}",
         'template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health"'),
    ],
)  # fmt: skip
def test_unknown_fields_fail_as_docker_s_raw_fallback(text, message):
    with pytest.raises(TemplateError) as info:
        inspect(text)
    assert str(info.value) == f"template parsing error: {message}"


def test_typed_view_keeps_the_json_and_the_unknown():
    value = typed({"Id": "x", "Extra": 1, "Config": {"Cmd": ["a"]}}, "container")
    assert value.ID == "x" and value.Config.Cmd == ["a"]
    assert inspect("{{.ID}}") == inspect("{{.Id}}") == CONTAINER["Id"]
    assert not hasattr(value, "Extra")  # not a field of docker's type: the raw fallback finds it
    assert render(Template("{{.Extra}}"), {"Id": "x", "Extra": 1}, "container") == "1"
