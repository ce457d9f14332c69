"""Property tests of the template parser and executor (hypothesis), and a differential test against Go."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dockyard.cli.gotemplate import Template, TemplateError
from support.gotemplate_oracle import GoOracle

DATA = {
    "a": 1, "b": "x y", "c": [1, 2, "y", None], "m": {"k": "v", "n": None, "j": 2.5, "l": [-3, 1e21]}, "t": True,
    "z": None, "e": [], "u": "héllo\t\"wörld\"", "f": -0.000123, "s": {"z": "1", "a": "2"}, "i": -42,
}  # fmt: skip
FIELDS = [".a", ".b", ".c", ".m", ".m.k", ".m.n", ".m.j", ".m.l", ".t", ".z", ".e", ".gone", ".gone.x", ".a.x",
          ".", "$", "$.b", ".u", ".f", ".s", ".s.a", ".i"]  # fmt: skip
LITERALS = ["1", "-2", "0", "2.5", "1e6", '"s"', '""', "`r`", "true", "false", "'c'", "0x10", '"k"', '"a"', "nil"]
RANGEABLE = [".c", ".m", ".e", ".gone", "$.c"]
FUNCS = {"len": 1, "index": 2, "not": 1, "and": 2, "or": 2, "eq": 2, "ne": 2, "lt": 2, "le": 2, "print": 2,
         "println": 1, "html": 1, "js": 1, "urlquery": 1}  # fmt: skip
FORMATS = ['"%v"', '"%d"', '"%s|%q"', '"%5.1f"', '"%x"', '"%-4v|"', '"%T"', '"%v %v"', '"%+q %#v"',
           '"%08.3e|%g"', '"%c %U %#x"', '"%6.2s|%-6q|"', '"%t %5t"', '"%[2]v %[1]v"', '"%*d"', '"%.3g %G %E"',
           '"%o %b %X"']  # fmt: skip

text_chunks = st.text(alphabet="ab }-\n.é", max_size=6)


def operand(variables: tuple[str, ...], depth: int) -> st.SearchStrategy[str]:
    simple = st.sampled_from(FIELDS + LITERALS + list(variables))
    if depth <= 0:
        return simple
    return st.one_of(simple, pipeline(variables, depth - 1).map(lambda p: f"({p})"))


def command(variables: tuple[str, ...], depth: int) -> st.SearchStrategy[str]:
    call = st.sampled_from(sorted(FUNCS)).flatmap(
        lambda name: st.lists(operand(variables, depth), min_size=FUNCS[name], max_size=FUNCS[name]).map(
            lambda args: " ".join([name, *args])
        )
    )
    # Go 1.19's slice does not look inside an interface{} index (index does): literal bounds only.
    slice_call = st.tuples(operand(variables, depth), st.sampled_from(["0", "1", "3", "-1"])).map(
        lambda t: f"slice {t[0]} {t[1]}"
    )
    printf = st.tuples(st.sampled_from(FORMATS), st.lists(operand(variables, depth), max_size=3)).map(
        lambda t: " ".join(["printf", t[0], *t[1]])
    )
    return st.one_of(operand(variables, depth), call, slice_call, printf)


def pipeline(variables: tuple[str, ...], depth: int) -> st.SearchStrategy[str]:
    # After a |, only functions: the previous value becomes their last argument.
    tail = st.sampled_from(["len", "not", "print", 'printf "%v"', "html", "eq 1", "or 0", "and 1", "urlquery"])
    return st.tuples(command(variables, depth), st.lists(tail, max_size=2)).map(lambda t: " | ".join([t[0], *t[1]]))


def delimited(inner: str, trim_left: bool, trim_right: bool) -> str:
    return ("{{- " if trim_left else "{{") + inner + (" -}}" if trim_right else "}}")


def template(variables: tuple[str, ...] = (), depth: int = 2) -> st.SearchStrategy[str]:
    trims = st.booleans()
    action = st.tuples(pipeline(variables, 1), trims, trims).map(lambda t: delimited(*t))
    comment = st.just("{{/* note */}}")
    parts = [text_chunks, action, comment]
    if depth > 0:
        body = template(variables, depth - 1)
        if_ = st.tuples(pipeline(variables, 1), body, st.none() | body).map(
            lambda t: "{{if " + t[0] + "}}" + t[1] + ("" if t[2] is None else "{{else}}" + t[2]) + "{{end}}"
        )
        with_ = st.tuples(pipeline(variables, 1), body).map(lambda t: "{{with " + t[0] + "}}" + t[1] + "{{end}}")
        inner = template((*variables, "$i", "$v"), depth - 1)
        range_ = st.tuples(st.sampled_from(RANGEABLE), inner, st.none() | body).map(
            lambda t: (
                "{{range $i, $v := " + t[0] + "}}" + t[1] + ("" if t[2] is None else "{{else}}" + t[2]) + "{{end}}"
            )
        )
        parts += [if_, with_, range_]
    return st.lists(st.one_of(parts), max_size=4).map("".join)


def outcome(text: str) -> tuple[str, str]:
    try:
        return ("output", Template(text, funcs={}).execute(DATA))
    except TemplateError as exc:
        return ("error", str(exc))


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_is_printed_unchanged(text):
    assert Template(text).execute(DATA) == text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(template())
def test_printed_tree_parses_to_the_same_tree_and_output(text):
    try:
        first = Template(text)
    except TemplateError:
        assume(False)
    printed = str(first)
    second = Template(printed)
    assert str(second) == printed
    kind1, out1 = outcome(text)
    kind2, out2 = outcome(printed)
    assert kind1 == kind2
    if kind1 == "output":
        assert out1 == out2


@settings(max_examples=500)
@given(st.lists(st.sampled_from([*"{}.$|()\"`'-:= ab1\n/*,", "if ", "end", "range ", "else", "with ", "nil"])))
def test_any_text_either_renders_or_fails_with_a_template_error(pieces):
    text = "".join(pieces)
    try:
        Template(text).execute(DATA)
    except TemplateError as exc:
        assert str(exc).startswith("template: ")


@pytest.fixture(scope="module")
def go_oracle(tmp_path_factory):
    oracle = GoOracle.build(str(tmp_path_factory.mktemp("go-oracle")))
    if oracle is None:
        pytest.skip("no Go toolchain (go) on PATH: the differential test against text/template needs one")
    return oracle


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template())
def test_same_output_and_errors_as_go(go_oracle, text):
    (expected,) = go_oracle.run([(text, DATA)])
    kind, value = outcome(text)
    if "error" in expected:
        assert (kind, value) == ("error", expected["error"])
    else:
        assert (kind, value) == ("output", expected["output"])
