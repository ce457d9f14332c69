"""Request bodies read as dockerd's Go decoder reads them: names in any case, wrong JSON types refused."""

from __future__ import annotations

import pytest

from dockyard.api import body_types
from dockyard.errors import InvalidParameter


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Cmd": 5}, "cannot unmarshal number into Go struct field Config.Cmd of type strslice.StrSlice"),
        ({"Env": "A=1"}, "cannot unmarshal string into Go struct field Config.Env of type []string"),
        ({"Env": ["A=1", 2]}, "cannot unmarshal array into Go struct field Config.Env of type []string"),
        ({"Tty": "yes"}, "cannot unmarshal string into Go struct field Config.Tty of type bool"),
        ({"Labels": ["a"]}, "cannot unmarshal array into Go struct field Config.Labels of type map[string]string"),
        ({"StopTimeout": True}, "cannot unmarshal bool into Go struct field Config.StopTimeout of type int64"),
        ({"HostConfig": {"Memory": "lots"}}, "cannot unmarshal string into Go struct field HostConfig.Memory"),
        ({"HostConfig": {"Memory": 1.5}}, "cannot unmarshal number into Go struct field HostConfig.Memory"),
        ({"HostConfig": []}, "cannot unmarshal array into Go struct field Config.HostConfig of type struct"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused(body, message):
    with pytest.raises(InvalidParameter, match=message.replace("[", r"\[").replace("]", r"\]")):
        body_types.decode_create({"Image": "busybox", **body})


def test_what_go_accepts_passes():
    body_types.decode_create(
        {
            "Image": "busybox",
            "Cmd": "echo a string is a one-word command list",
            "Entrypoint": None,
            "Env": ["A=1"],
            "Labels": {"a": "b"},
            "ExposedPorts": {"80/tcp": {}},
            "Unknown": object(),  # Go ignores fields it does not know
            "HostConfig": {"Memory": 0, "Binds": None, "GroupAdd": ["1000"], "ConsoleSize": [24, 80]},
        }
    )


def test_field_names_match_in_any_case_as_in_go():
    body = body_types.decode_create({"image": "busybox", "CMD": ["true"], "hostConfig": {"memory": 1 << 20}})
    assert body == {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": 1 << 20}}
    created = body_types.decode({"cmd": ["cat"], "detachKeys": "ctrl-p"}, body_types.EXEC_CREATE, "ExecConfig")
    assert created == {"Cmd": ["cat"], "DetachKeys": "ctrl-p"}
    with pytest.raises(InvalidParameter, match=r"Go struct field ExecConfig\.Cmd of type"):
        body_types.decode({"cmd": "ls"}, body_types.EXEC_CREATE, "ExecConfig")
