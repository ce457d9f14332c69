"""dockyard completion bash: a script bash accepts, completing commands, subcommands and flags from the code."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dockyard.cli.commands.completion import bash_script


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    path = tmp_path_factory.mktemp("completion") / "dockyard.bash"
    path.write_text(bash_script())
    return path


def complete(script, *words: str) -> list[str]:
    array = " ".join(f"'{w}'" for w in ("dockyard", *words))
    program = f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words)}; _dockyard; echo ${{COMPREPLY[@]}}"
    # A PATH without dockyard: container and image names (asked of the daemon) complete to nothing.
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_accepts_the_script(script):
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def test_commands_subcommands_and_flags_complete(script):
    assert complete(script, "ru") == ["run"]
    assert complete(script, "image", "l") == ["list", "load", "ls"]
    assert complete(script, "run", "--rest") == ["--restart"]
    assert complete(script, "container", "ls", "--no") == ["--no-trunc"]


def test_global_flags_complete_and_their_values_are_not_taken_for_commands(script):
    assert complete(script, "--tls") == ["--tls", "--tlscacert", "--tlscert", "--tlskey", "--tlsverify"]
    assert complete(script, "-H", "tcp://127.0.0.1:2376", "--tlsverify", "ru") == ["run"]
    assert complete(script, "--tlscacert", "ca.pem", "ps", "--no") == ["--no-trunc"]
