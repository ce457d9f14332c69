"""The daemon's OCI runtimes from daemon.json and flags, refused as dockerd refuses them; and what the runc-CLI
driver makes of a runtime's error output."""

from __future__ import annotations

import json
import shutil

import pytest

from dockyard.daemon import config
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.runtime import oci_cli, runtimes
from dockyard.runtime.waiting import ContainerError

needs_runc = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")


def load(tmp_path, document: dict | None = None, *flags: str) -> config.DaemonConfig:
    path = tmp_path / "daemon.json"
    if document is not None:
        path.write_text(json.dumps(document))
    return config.load(["--config-file", str(path), *flags])


def test_without_configuration_our_runtime_is_the_default(tmp_path):
    table = load(tmp_path).runtime_table
    assert table.default == "dockyard"
    assert table.resolve("") == table.resolve(None) == "dockyard"
    assert table.info()["dockyard"] == {"path": "dockyard-runtime"}


@needs_runc
def test_runc_is_registered_when_it_is_on_path(tmp_path):
    table = load(tmp_path).runtime_table
    assert table.info()["runc"] == {"path": "runc"}
    assert table.get("runc").command == ["runc"]
    assert table.get("dockyard").command is None  # ours runs in-process, with no command line


@needs_runc
def test_daemon_json_runtimes_and_default(tmp_path):
    document = {"default-runtime": "runc",
                "runtimes": {"crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]}}}  # fmt: skip
    table = load(tmp_path, document).runtime_table
    assert table.default == "runc" and table.resolve(None) == "runc"
    assert table.info()["crun"] == {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]}
    assert table.get("crun").command == ["/usr/bin/crun", "--debug"]
    assert table.root("/run/dy", "crun") == "/run/dy/runtime-crun"
    assert table.root("/run/dy", "dockyard") == "/run/dy/runtime"


def test_flags_add_runtimes_and_choose_the_default(tmp_path):
    loaded = load(tmp_path, None, "--add-runtime", "one=/opt/one", "--add-runtime", "two=/opt/two",
                  "--default-runtime", "two")  # fmt: skip
    assert loaded.runtime_table.default == "two"
    assert loaded.runtime_table.get("one").command == ["/opt/one"]


@pytest.mark.parametrize(
    ("document", "flags", "message"),
    [
        ({"default-runtime": "nope"}, (), "specified default runtime 'nope' does not exist"),
        ({}, ("--default-runtime", "nope"), "specified default runtime 'nope' does not exist"),
        ({"runtimes": {"runc": {"path": "/bin/true"}}}, (), "runtime name 'runc' is reserved"),
        ({"runtimes": {"dockyard": {"path": "/bin/true"}}}, (), "runtime name 'dockyard' is reserved"),
        ({}, ("--add-runtime", "runc=/bin/true"), "runtime name 'runc' is reserved"),
        ({}, ("--add-runtime", "a=/x", "--add-runtime", "a=/y"), "runtime 'a' was already defined"),
        ({}, ("--add-runtime", "nopath"), "invalid runtime argument: nopath"),
        ({"runtimes": {"x": {}}}, (), "runtime x: either a runtimeType or a path must be configured"),
        ({"runtimes": {"x": {"runtimeType": "io.containerd.runsc.v1"}}}, (), "runtimeType (a containerd shim)"),
        ({"runtimes": {"x": {"path": "/x", "options": {"a": 1}}}}, (), "options cannot be used with a path"),
        ({"runtimes": {"x": {"path": "/x", "runtimeArgs": "--debug"}}}, (), "runtimeArgs a list of strings"),
        ({"runtimes": {"x": {"path": "/x", "colour": "blue"}}}, (), "runtime x: unknown settings: colour"),
        ({"runtimes": ["x"]}, (), "runtimes must be an object"),
        ({"runtimes": {"x": {"path": "/x"}}}, ("--add-runtime", "y=/y"),
         "specified both as a flag and in the configuration file: runtimes"),
        ({"default-runtime": "dockyard"}, ("--default-runtime", "dockyard"),
         "specified both as a flag and in the configuration file: default-runtime"),
    ],
)  # fmt: skip
def test_bad_runtime_configuration_is_refused_with_dockerds_words(tmp_path, document, flags, message):
    with pytest.raises(InvalidParameter) as refused:
        load(tmp_path, document, *flags)
    assert message in str(refused.value)


def test_an_unknown_runtime_at_create_is_dockerds_400():
    with pytest.raises(InvalidParameter, match=r"^unknown or invalid runtime name: nope$"):
        runtimes.RuntimeTable().resolve("nope")


@pytest.mark.parametrize(
    ("verb", "stderr", "kind", "message"),
    [
        ("kill", '{"level":"error","msg":"container does not exist"}\n', NotFound, "container does not exist"),
        ("kill", '{"level":"error","msg":"container not running","time":"t"}\n', Conflict, "container not running"),
        ("resume", '{"level":"error","msg":"container not paused","time":"t"}\n', Conflict, "container not paused"),
        ("create", '{"level":"warning","msg":"w","time":"t"}\n{"level":"error","msg":"runc create failed: exec: '
         '\\"x\\": executable file not found in $PATH"}\n', ContainerError, 'exec: "x": executable file not found'),
        ("start", "crun: plain text error\n", ContainerError, "crun: plain text error"),
        ("update", '{"level":"error","msg":"unable to set memory limit"}\n', InvalidParameter, "memory limit"),
    ],
)  # fmt: skip
def test_a_runtime_s_error_output_becomes_an_error_of_its_kind(verb, stderr, kind, message):
    error = oci_cli._error(verb, oci_cli._message(stderr))
    assert type(error) is kind
    assert message in str(error)
