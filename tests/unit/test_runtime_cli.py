from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter
from dockyard.runtime import cli
from dockyard.runtime.runtime import parse_signal


def test_global_flags_stop_at_the_verb():
    args, rest = cli.parse(["--root", "/r", "--log=/l", "create", "--bundle", "b", "id"], cli._GLOBAL_FLAGS,
                           stop_at_positional=True)  # fmt: skip
    assert args.flags == {"root": "/r", "log": "/l"}
    assert rest == ["create", "--bundle", "b", "id"]


def test_verb_flags_aliases_and_lists():
    args, _ = cli.parse(
        ["-b", "bundle", "-d", "--env", "A=1", "-e", "B=2", "id"],
        {**cli._VERB_FLAGS["run"], "env": "list"},
        stop_at_positional=False,
        aliases={**cli._ALIASES["run"], "e": "env"},
    )
    assert args.flags == {"bundle": "bundle", "detach": True, "env": ["A=1", "B=2"]}
    assert args.positional == ["id"]


def test_exec_keeps_the_command_flags_for_the_process():
    args, tail = cli.parse(
        ["-t", "id", "ls", "-l"], cli._VERB_FLAGS["exec"], stop_at_positional=True, aliases=cli._ALIASES["exec"]
    )
    assert args.flags == {"tty": True}
    assert tail == ["id", "ls", "-l"]


def test_unknown_flag_is_a_usage_error():
    with pytest.raises(cli.UsageError, match="flag provided but not defined: --nope"):
        cli.parse(["--nope"], cli._VERB_FLAGS["start"], stop_at_positional=False)


def test_usage_errors_exit_2(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "number"), [("KILL", 9), ("SIGTERM", 15), ("usr1", 10), ("9", 9), (2, 2)])
def test_signal_names_and_numbers(value, number):
    assert parse_signal(value) == number


@pytest.mark.parametrize("value", ["SIGNOPE", "0", "999"])
def test_invalid_signals(value):
    with pytest.raises(InvalidParameter):
        parse_signal(value)


def test_short_flags_depend_on_the_verb():
    delete, _ = cli.parse(
        ["-f", "id"], cli._VERB_FLAGS["delete"], stop_at_positional=False, aliases=cli._ALIASES["delete"]
    )
    listing, _ = cli.parse(
        ["-f", "json"], cli._VERB_FLAGS["list"], stop_at_positional=False, aliases=cli._ALIASES["list"]
    )
    assert delete.flags == {"force": True}
    assert listing.flags == {"format": "json"}


@pytest.mark.parametrize("argv", [["--help"], ["--root", "/r", "--help"], ["run", "--help"], ["-h"]])
def test_help_anywhere_prints_usage(capsys, argv):
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("usage: dockyard-runtime")
