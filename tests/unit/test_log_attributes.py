"""json-file's attrs: which labels and environment variables the log options pick, the tag, and how
`docker logs --details` prints them."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.logs import attributes, jsonfile, options

FACTS = attributes.ContainerFacts(
    id="0123456789ab" + "c" * 52, name="web", image_id="sha256:" + "f" * 64, image_name="busybox:latest",
    command=["sh", "-c", "echo hi"], labels={"app": "shop", "tier": "front", "team.owner": "ops"},
    env=["PATH=/bin", "STAGE=prod", "STAGE_REGION=eu", "EMPTY="],
)  # fmt: skip


def test_labels_and_env_pick_the_named_ones_that_exist():
    picked = attributes.attributes({"labels": "app,missing", "env": "STAGE,EMPTY,NOPE"}, FACTS)
    assert picked == {"app": "shop", "STAGE": "prod", "EMPTY": ""}


def test_regexes_match_anywhere_in_the_name():
    picked = attributes.attributes({"labels-regex": r"\.owner", "env-regex": "^STAGE"}, FACTS)
    assert picked == {"team.owner": "ops", "STAGE": "prod", "STAGE_REGION": "eu"}


def test_the_tag_fills_the_container_s_fields():
    picked = attributes.attributes({"tag": "{{.Name}}/{{.ID}} {{ .ImageName }} {{.ImageID}}|{{.Command}}"}, FACTS)
    assert picked == {"tag": "web/0123456789ab busybox:latest sha256:fffff|sh -c echo hi"}


def test_no_options_no_attributes():
    assert attributes.attributes({"max-size": "1m"}, FACTS) == {}


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"labels-regex": "("}, "error parsing regexp in log opt labels-regex"),
        ({"tag": "{{.Nope}}"}, "can't evaluate field Nope"),
        ({"tag": "{{.Name | upper}}"}, "only the fields"),
    ],
)
def test_what_docker_s_logger_cannot_use_is_refused_at_create(opts, message):
    with pytest.raises(InvalidParameter, match=message):
        options.check_driver("json-file", opts)


def test_the_local_driver_takes_no_attribute_options_as_docker_s():
    with pytest.raises(InvalidParameter, match=r"^unknown log opt 'labels' for log driver local$"):
        options.check_driver("local", {"labels": "app"})


def test_json_file_writes_attrs_between_stream_and_time_and_reads_them_back():
    (line,) = jsonfile.encode("stdout", [b"hi\n"], {"b": "2", "a": "1"})
    assert list(json.loads(line)) == ["log", "stream", "attrs", "time"]
    assert line.startswith(b'{"log": "hi\\n", "stream": "stdout", "attrs": {"a": "1", "b": "2"}, "time": ')
    (record,), _ = jsonfile.decode(line)
    assert record["attrs"] == {"a": "1", "b": "2"}
    (plain,) = jsonfile.encode("stdout", [b"hi\n"], {})
    assert "attrs" not in json.loads(plain)


def test_details_are_query_escaped_pairs_joined_by_commas():
    assert attributes.details({"tier": "front end", "app": "a,b=c"}) == "app=a%2Cb%3Dc,tier=front+end"
    assert attributes.details({}) == ""


@given(st.dictionaries(st.text(min_size=1), st.text(), max_size=5))
def test_details_decode_back_to_the_attributes(attrs):
    pairs = [pair.split("=") for pair in attributes.details(attrs).split(",")] if attrs else []
    assert {urllib.parse.unquote_plus(k): urllib.parse.unquote_plus(v) for k, v in pairs} == attrs
