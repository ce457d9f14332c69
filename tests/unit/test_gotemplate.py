"""The template engine against Go's text/template: golden cases made by Go itself, and Go 1.22+ behaviour
checked with docker 28's CLI (built with Go 1.24)."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.cli.gotemplate import HEADER_FUNCS, FuncError, Template, TemplateError

GOLDEN = os.path.join(os.path.dirname(__file__), os.pardir, "data", "gotemplate", "go_cases.json")

with open(GOLDEN) as _f:
    GO_CASES = json.load(_f)["cases"]


def render(text: str, data: object = None) -> str:
    return Template(text).execute(data)


def outcome(text: str, data: object) -> dict:
    try:
        template = Template(text, funcs={})
    except TemplateError as exc:
        return {"error": str(exc)}
    try:
        return {"output": template.execute(data)}
    except TemplateError as exc:
        return {"error": str(exc)}


@pytest.mark.parametrize("case", GO_CASES, ids=[c["template"][:40] for c in GO_CASES])
def test_same_output_or_error_as_go(case):
    expected = {"error": case["error"]} if "error" in case else {"output": case["output"]}
    assert outcome(case["template"], case["data"]) == expected


# Newer than the Go of the golden file; docker 28's own outputs.
def test_else_with_chains_like_else_if():
    assert render("{{with .a}}a{{else with .b}}b={{.}}{{end}}", {"b": 2}) == "b=2"


def test_range_over_an_integer_counts_from_zero():
    assert render("{{range 3}}{{.}}{{end}}") == "012"


def test_stray_right_paren_is_a_lexical_error():
    with pytest.raises(TemplateError, match=r"^template: :1: unexpected right paren$"):
        Template("{{.a)}}")


def test_missing_key_prints_no_value_and_null_in_a_list_prints_nil():
    assert render("{{.gone}} {{.l}} {{.n}}", {"l": [1, None], "n": None}) == "<no value> [1 <nil>] <no value>"


def test_maps_print_sorted_like_go():
    assert render("{{.}}", {"b": [1, "x"], "a": {"z": True}}) == "map[a:map[z:true] b:[1 x]]"


def test_index_of_a_missing_key_is_the_map_s_zero_value():
    # Docker's labels are map[string]string: a map of strings stands for one; other maps are
    # map[string]interface{}, whose zero is nil (typed maps, formatting.typed, say their own).
    assert render('[{{index .Labels "nope"}}]', {"Labels": {"a": "b"}}) == "[]"
    assert render('[{{index .Labels "nope"}}]', {"Labels": {}}) == "[]"
    assert render('[{{index .Ports "80/tcp"}}]', {"Ports": {"443/tcp": None}}) == "[<no value>]"


def test_objects_expose_attributes_and_methods_with_arguments():
    class Context:
        go_type = "*formatter.ContainerContext"
        ID = "abc"

        def Label(self, name):
            return {"x": "1"}.get(name, "")

        def Names(self):
            return "web"

    assert render('{{.ID}} {{.Names}} {{.Label "x"}}', Context()) == "abc web 1"
    with pytest.raises(TemplateError) as info:
        render("{{.Nope}}", Context())
    assert str(info.value) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext'
    )
    with pytest.raises(TemplateError, match="wrong number of args for Label: want 1 got 0"):
        render("{{.Label}}", Context())


def test_a_method_without_arguments_is_called_like_any_function():
    class Context:
        def Names(self, *more):
            return "web" + "".join(more)

        def Broken(self):
            raise FuncError("no such container")

    assert render('{{.Names}} {{.Names "-1" "-2"}} {{"-x" | .Names}}', Context()) == "web web-1-2 web-x"
    with pytest.raises(TemplateError) as info:
        render("{{.Broken}}", Context())
    assert str(info.value) == 'template: :1:2: executing "" at <.Broken>: error calling Broken: no such container'
    with pytest.raises(TemplateError, match="wrong number of args for Broken: want 0 got 1"):
        render('{{.Broken "x"}}', Context())


def test_docker_functions():
    data = {"s": "Hello World", "l": ["a", "b"], "n": [1, 2.5, None], "m": {"y": 2, "x": 1}}
    assert render('{{join .l ","}}|{{join .n "+"}}|{{join .m " "}}', data) == "a,b|1+2.5+<nil>|1 2"
    assert render('{{split "a:b:c" ":"}} {{len (split "abc" "")}}', data) == "[a b c] 3"
    assert render('{{lower .s}} {{upper .s}} {{title "hello wORLD-x_y"}}', data) == (
        "hello world HELLO WORLD Hello WORLD-X_y"
    )
    assert render('[{{pad .s 2 1}}][{{pad "" 2 2}}] {{truncate .s 5}} {{truncate "ab" 5}}', data) == (
        "[  Hello World ][] Hello ab"
    )
    assert render("{{json .}}", {"a": [1, 2.5, None, True, "<&>\u2028"], "b": {}, "c": 1e21}) == (
        '{"a":[1,2.5,null,true,"<&>\\u2028"],"b":{},"c":1e+21}'
    )


def test_header_functions_leave_column_names_alone():
    template = Template("{{json .Names}} {{upper .ID}} {{pad .ID 1 1}}")
    header = {"Names": "NAMES", "ID": "CONTAINER ID"}
    assert template.execute(header, funcs=HEADER_FUNCS) == "NAMES CONTAINER ID  CONTAINER ID "


def test_wrong_argument_type_is_reported_as_go_does():
    with pytest.raises(TemplateError) as info:
        render("{{upper .n}}", {"n": 3})
    assert str(info.value) == 'template: :1:8: executing "" at <.n>: wrong type for value; expected string; got int'


def test_errors_name_the_line_and_byte_column():
    with pytest.raises(TemplateError) as info:
        render("ok\n  é{{index .l 3}}", {"l": []})
    assert str(info.value) == (
        'template: :2:6: executing "" at <index .l 3>: error calling index: index out of range: 3'
    )


def test_template_prints_back_as_text():
    text = '{{- if .a -}} x {{else if .b}}{{range $i, $v := .c}}{{$i}}{{end}}{{end}}{{/* c */}}{{printf "%d" (len .d)}}'
    assert str(Template(text)) == (
        "{{if .a}}x {{else}}{{if .b}}{{range $i, $v := .c}}{{$i}}{{end}}{{end}}{{end}}"
        '{{/* c */}}{{printf "%d" (len .d)}}'
    )
