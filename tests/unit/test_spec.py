"""config.json checks: every error names the field that is wrong."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter, NotFound
from dockyard.runtime import spec
from dockyard.runtime.defaults import default_spec


def test_default_spec_is_valid():
    spec.check(default_spec())


def test_default_spec_matches_the_oci_schema_shape():
    config = default_spec(["echo", "hi"])
    assert config["ociVersion"] == spec.OCI_VERSION
    assert config["process"]["args"] == ["echo", "hi"]
    assert {ns["type"] for ns in config["linux"]["namespaces"]} >= {"pid", "mount", "network"}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("ociVersion"), "ociVersion"),
        (lambda c: c["root"].pop("path"), "root.path"),
        (lambda c: c["process"].update(args=[]), "process.args"),
        (lambda c: c["process"].update(env="PATH=/bin"), "process.env"),
        (lambda c: c["process"]["user"].update(uid=-1), "process.user.uid"),
        (lambda c: c["process"]["user"].update(gid="0"), "process.user.gid"),
        (lambda c: c["process"].update(oomScoreAdj=5000), "process.oomScoreAdj"),
        (lambda c: c["process"]["rlimits"][0].update(type="NOFILE"), "process.rlimits[0].type"),
        (lambda c: c["process"]["capabilities"].update(sideways=[]), "process.capabilities.sideways"),
        (lambda c: c["mounts"][1].update(destination="dev"), "mounts[1].destination"),
        (lambda c: c["mounts"][2].update(options="ro"), "mounts[2].options"),
        (lambda c: c.update(hooks={"prestart": [{"path": "rel"}]}), "hooks.prestart[0].path"),
        (lambda c: c.update(hooks={"prestart": [{"path": "/x", "timeout": 0}]}), "hooks.prestart[0].timeout"),
        (lambda c: c.update(hooks={"later": []}), "hooks.later"),
        (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "linux.namespaces[6].type"),
        (lambda c: c["linux"].update(rootfsPropagation="sideways"), "linux.rootfsPropagation"),
        (lambda c: c["linux"].update(namespaces=[{"type": "mount"}]), "hostname"),
        (lambda c: c["linux"].update(sysctl={"net.x": 1}), "linux.sysctl.net.x"),
        (lambda c: c["linux"].update(devices=[{"path": "/dev/x", "type": "q"}]), "linux.devices[0].type"),
        (lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1}]), "linux.uidMappings[0].size"),
    ],
)
def test_errors_name_the_field(mutate, field):
    config = default_spec()
    mutate(config)
    with pytest.raises(InvalidParameter) as info:
        spec.check(config)
    assert str(info.value).startswith(field + ":"), str(info.value)


def test_new_user_namespace_needs_the_process_ids_mapped():
    config = default_spec()
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    spec.check(config)
    config["process"]["user"]["gid"] = 10
    with pytest.raises(InvalidParameter, match=r"process.user.gid: gid 10 is not mapped"):
        spec.check(config)


def test_load_makes_the_root_absolute_and_reports_missing_pieces(tmp_path):
    with pytest.raises(NotFound, match=r"config\.json not found"):
        spec.load(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps(default_spec()))
    with pytest.raises(NotFound, match=r"root\.path: rootfs"):
        spec.load(str(tmp_path))
    (tmp_path / "rootfs").mkdir()
    assert spec.load(str(tmp_path))["root"]["path"] == str(tmp_path / "rootfs")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(path=st.sampled_from(["process", "root", "mounts", "linux", "hooks", "hostname"]), value=json_values)
def test_any_wrong_value_is_an_invalid_parameter_never_a_crash(path, value):
    config = copy.deepcopy(default_spec())
    config[path] = value
    try:
        spec.check(config)
    except InvalidParameter:
        pass
