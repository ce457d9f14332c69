"""`--change` instructions for import and commit, as docker applies them to an image config."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.image.changes import apply_changes, parse_duration


def test_cmd_and_entrypoint_take_exec_and_shell_forms():
    config = apply_changes({}, ['CMD ["nginx", "-g", "daemon off;"]', "ENTRYPOINT /docker-entrypoint.sh run"])
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/docker-entrypoint.sh run"]


def test_env_replaces_a_variable_and_keeps_the_others():
    config = apply_changes({"Env": ["PATH=/bin", "A=1"]}, ['ENV A=2 B="two words"', "ENV LEGACY value with spaces"])
    assert config["Env"] == ["PATH=/bin", "A=2", "B=two words", "LEGACY=value with spaces"]


def test_labels_ports_volumes_and_single_values():
    config = apply_changes(
        {"Labels": {"keep": "1"}},
        [
            'LABEL version="1.0" team=core',
            "EXPOSE 80 53/udp 8000-8002",
            'VOLUME ["/data", "/logs"]',
            "VOLUME /cache",
            "USER nobody",
            "WORKDIR /srv",
            "STOPSIGNAL SIGQUIT",
            "ONBUILD RUN make",
        ],
    )
    assert config["Labels"] == {"keep": "1", "version": "1.0", "team": "core"}
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}
    assert set(config["Volumes"]) == {"/data", "/logs", "/cache"}
    assert (config["User"], config["WorkingDir"], config["StopSignal"]) == ("nobody", "/srv", "SIGQUIT")
    assert config["OnBuild"] == ["RUN make"]


def test_healthcheck_with_options_and_none():
    config = apply_changes({}, ["HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/"])
    assert config["Healthcheck"] == {
        "Interval": 5 * 10**9,
        "Retries": 3,
        "Test": ["CMD-SHELL", "curl -f http://localhost/"],
    }
    assert apply_changes(config, ["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}


def test_the_input_config_is_not_changed():
    original = {"Env": ["A=1"]}
    apply_changes(original, ["ENV A=2"])
    assert original == {"Env": ["A=1"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN apt-get update", "RUN is not a valid change command"),
        ("FROM scratch", "FROM is not a valid change command"),
        ("EXPOSE eighty", "invalid containerPort: eighty"),
        ("ENV", "ENV requires at least one argument"),
        ("USER", "USER requires exactly one argument"),
        ("ONBUILD ONBUILD RUN x", "ONBUILD isn't allowed as an ONBUILD trigger"),
        ("HEALTHCHECK --interval=soon CMD true", "invalid duration 'soon'"),
    ],
)
def test_bad_changes_are_refused_with_docker_words(change, message):
    with pytest.raises(InvalidParameter, match=message):
        apply_changes({}, [change])


@pytest.mark.parametrize(
    ("text", "nanoseconds"), [("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 5 * 10**8), ("1.5h", 5400 * 10**9)]
)
def test_go_durations(text, nanoseconds):
    assert parse_duration(text) == nanoseconds


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
_values = st.text(st.characters(codec="ascii", exclude_characters='"\\\n\r'), max_size=20)


@given(st.dictionaries(_names, _values, min_size=1, max_size=5))
def test_env_pairs_come_back_as_written(pairs):
    change = "ENV " + " ".join(f'{key}="{value}"' for key, value in pairs.items())
    assert apply_changes({}, [change])["Env"] == [f"{key}={value}" for key, value in pairs.items()]
