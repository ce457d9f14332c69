"""docker's flag grammar (pflag) as dockyard.cli.flags parses it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.cli import flags
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag

RUN_LIKE = Command(
    "run",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "test",
    (
        Flag("detach", "d", BOOL),
        Flag("interactive", "i", BOOL),
        Flag("tty", "t", BOOL),
        Flag("env", "e", LIST),
        Flag("publish", "p", LIST),
        Flag("name", "", STRING),
        Flag("hostname", "h", STRING),
        Flag("last", "n", INT, default=-1),
        Flag("sig-proxy", "", BOOL, default=True),
    ),
    interspersed=False,
)
PS_LIKE = Command("ps", "[OPTIONS]", "test", RUN_LIKE.flags, interspersed=True)

values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)


@given(value=values)
def test_a_string_flag_reads_the_same_in_every_spelling(value):
    spellings = (["--name", value], [f"--name={value}"])
    for argv in spellings:
        opts, args = flags.parse(RUN_LIKE, [*argv, "busybox"])
        assert opts.name == value and args == ["busybox"]


@given(value=values)
def test_a_short_flag_takes_its_value_attached_separate_or_after_equals(value):
    # pflag reads "-e=v" as v: attached, a value that starts with "=" loses it, as in docker.
    attached = [] if value.startswith("=") else [[f"-e{value}"]]
    for argv in (["-e", value], *attached, [f"-e={value}"]):
        opts, _ = flags.parse(RUN_LIKE, [*argv, "img"])
        assert opts.env == [value]


@given(st.lists(values, max_size=5))
def test_repeated_list_flags_keep_their_order(items):
    argv = [part for item in items for part in ("-e", item)]
    opts, _ = flags.parse(RUN_LIKE, [*argv, "img"])
    assert opts.env == items


@given(st.permutations(["d", "i", "t"]))
def test_combined_bool_shorthands_set_each(letters):
    opts, args = flags.parse(RUN_LIKE, ["-" + "".join(letters), "img"])
    assert opts.detach and opts.interactive and opts.tty and args == ["img"]


def test_the_last_combined_shorthand_may_take_a_value():
    opts, args = flags.parse(RUN_LIKE, ["-itp", "8080:80", "img", "sh"])
    assert opts.interactive and opts.tty and opts.publish == ["8080:80"] and args == ["img", "sh"]
    opts, _ = flags.parse(RUN_LIKE, ["-dp8080:80", "img"])
    assert opts.detach and opts.publish == ["8080:80"]


@given(st.lists(st.sampled_from(["-d", "--rm", "-e", "x", "ls", "-l", "--", "-i"]), max_size=8))
def test_flags_end_at_the_image_when_not_interspersed(tail):
    opts, args = flags.parse(RUN_LIKE, ["-d", "busybox", *tail])
    assert opts.detach and args == ["busybox", *tail]


def test_interspersed_commands_take_flags_after_arguments_until_double_dash():
    opts, args = flags.parse(PS_LIKE, ["a", "-d", "b", "--", "-i", "c"])
    assert opts.detach and not opts.interactive and args == ["a", "b", "-i", "c"]


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("1", True), ("F", False), ("false", False)])
def test_bools_take_go_spellings_after_equals(text, expected):
    opts, _ = flags.parse(RUN_LIKE, [f"--sig-proxy={text}", "img"])
    assert opts.sig_proxy is expected


def test_a_bool_never_takes_the_next_argument():
    opts, args = flags.parse(RUN_LIKE, ["--sig-proxy", "false"])
    assert opts.sig_proxy is True and args == ["false"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nope"], "unknown flag: --nope"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["--name"], "flag needs an argument: --name"),
        (["-n", "x"], 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax'),
        (["--sig-proxy=maybe"], 'invalid argument "maybe" for "--sig-proxy" flag: strconv.ParseBool'),
    ],
)
def test_errors_read_as_docker_s(argv, message):
    with pytest.raises(flags.UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")) as caught:
        flags.parse(RUN_LIKE, argv)
    assert caught.value.status == 125


def test_h_is_help_unless_the_command_uses_it():
    opts, _ = flags.parse(Command("ps", "", "test", ()), ["-h"])
    assert opts.help
    opts, _ = flags.parse(RUN_LIKE, ["-h", "box", "img"])
    assert opts.hostname == "box" and not opts.help


def test_argument_counts_fail_with_status_1():
    command = Command("rm", "CONTAINER", "test", (), min_args=1)
    with pytest.raises(flags.ArityError, match="'dockyard rm' requires at least 1 argument") as caught:
        flags.check_args(command, [])
    assert caught.value.status == 1


def test_help_lists_flags_with_their_types_and_defaults():
    text = flags.help_text(RUN_LIKE)
    assert text.startswith("Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]\n")
    assert "  -e, --env list" in text
    assert "      --name string" in text
    assert "(default -1)" in text


def test_help_prints_defaults_as_pflag_does():
    command = flags.Command("x", "", "X", (
        flags.Flag("proxy", "", flags.BOOL, "Proxy", default=True),
        flags.Flag("driver", "d", flags.STRING, "Driver", default="local"),
        flags.Flag("timeout", "", flags.STRING, "Timeout", default="30s", type_name="duration"),
    ))  # fmt: skip
    text = flags.help_text(command)
    assert "Proxy (default true)" in text and 'Driver (default "local")' in text and "(default 30s)" in text
