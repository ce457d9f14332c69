"""The executor of Go's text/template (text/template/exec.go) over Python data.

Two sentinels stand for Go's reflect values that Python has no word for:
MISSING is the invalid value (a missing map key; it prints "<no value>"), and
NO_FINAL says that no value comes in from the previous command of a pipeline.
As in Go, a nil interface{} that ends a pipeline becomes the invalid value, so
{{.x}} prints "<no value>" when x is JSON null, while [1 <nil>] shows a null
inside a list.
"""

from __future__ import annotations

from dockyard.cli.gotemplate import _nodes as n
from dockyard.cli.gotemplate._errors import TemplateError
from dockyard.cli.gotemplate._funcs import MISSING, Func, FuncError, TypedNil, go_kind_name, is_true
from dockyard.cli.gotemplate._gofmt import format_value, quote, type_name

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

NO_FINAL = object()
NO_VALUE = "<no value>"
MAX_DEPTH = 100_000
_SCALARS = (str, int, float, complex, list, tuple, dict)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def execute(
    trees: dict[str, n.List],
    text: str,
    parse_name: str,
    name: str,
    funcs: dict[str, Func],
    data: Any,
    missing_key_error: bool = False,
) -> str:
    tree = trees.get(name)
    if tree is None:
        raise TemplateError(f"template: {name}: {quote(name)} is an incomplete or empty template")
    # Go's Execute takes data as an interface{}: nil is the invalid value there.
    if data is None:
        data = MISSING
    state = _State(trees, text, parse_name, name, funcs, data)
    state.missing_key_error = missing_key_error
    try:
        state.walk(data, tree)
    except RecursionError:
        error = TemplateError(f"template: {parse_name}: exceeded maximum template depth ({MAX_DEPTH})")
        error.output = "".join(state.out)
        raise error from None
    except TemplateError as error:
        # What Go had written before the error: docker prints a failed table header so far.
        error.output = "".join(state.out)
        raise
    return "".join(state.out)


class _State:
    def __init__(self, trees: dict[str, n.List], text: str, parse_name: str, name: str, funcs: dict, data: Any) -> None:
        self.trees = trees
        self.text = text
        self.parse_name = parse_name
        self.name = name
        self.funcs = funcs
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]
        self.node: n.Node | None = None
        self.depth = 0
        # Whether dot is an element of the list or map that a {{range}} walks.
        self.dot_is_element = False
        # Go's Option("missingkey=error"), as docker inspect's second attempt uses it.
        self.missing_key_error = False

    # --- errors

    def error(self, message: str) -> TemplateError:
        if self.node is None:
            return TemplateError(f"template: {self.parse_name}: {message}")
        pos = self.node.pos
        line_start = self.text.rfind("\n", 0, pos) + 1
        line = self.text.count("\n", 0, pos) + 1
        col = len(self.text[line_start:pos].encode()) if line > 1 else len(self.text[:pos].encode())
        return TemplateError(
            f"template: {self.parse_name}:{line}:{col}: executing {quote(self.name)} at <{self.node}>: {message}"
        )

    # --- variables

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for var_name, value in reversed(self.vars):
            if var_name == name:
                return value
        raise self.error(f"undefined variable: {name}")

    # --- statements

    def walk(self, dot: Any, node: n.Node) -> None:
        self.node = node
        if isinstance(node, n.Text):
            self.out.append(node.text)
        elif isinstance(node, n.List):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, n.Action):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.out.append(NO_VALUE if value is MISSING else format_value(value))
        elif isinstance(node, (n.If, n.With)):
            self.walk_if_or_with(dot, node)
        elif isinstance(node, n.Range):
            self.walk_range(dot, node)
        elif isinstance(node, n.Template):
            self.walk_template(dot, node)
        elif isinstance(node, n.Break):
            raise _Break
        elif isinstance(node, n.Continue):
            raise _Continue
        elif not isinstance(node, n.Comment):
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, node: n.If | n.With) -> None:
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if is_true(value) and isinstance(node, n.With):
                saved, self.dot_is_element = self.dot_is_element, False
                try:
                    self.walk(value, node.list)
                finally:
                    self.dot_is_element = saved
            elif is_true(value):
                self.walk(dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, node: n.Range) -> None:
        self.node = node
        outer = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            mark = self.mark()
            decl = node.pipe.decl
            if isinstance(value, (list, tuple)):
                items = list(enumerate(value))
            elif isinstance(value, dict):
                from dockyard.cli.gotemplate._gofmt import _map_key_order

                items = [(k, value[k]) for k in sorted(value, key=_map_key_order)]
            elif isinstance(value, int) and not isinstance(value, bool):
                # Go 1.22: range over an integer.
                if len(decl) > 1:
                    raise self.error(f"can't use {value} to iterate over more than one variable")
                items = [(i, i) for i in range(value)]
            elif value is MISSING:
                items = []
            else:
                raise self.error(f"range can't iterate over {format_value(value)}")
            for index, elem in items:
                self.range_iteration(node, index, elem, mark)
            if not items and node.else_list is not None:
                self.walk(dot, node.else_list)
        except _Break:
            pass
        finally:
            self.pop(outer)

    def range_iteration(self, node: n.Range, index: Any, elem: Any, mark: int) -> None:
        decl = node.pipe.decl
        if decl:
            if node.pipe.is_assign:
                self.set_var(decl[0].idents[0], index if len(decl) > 1 else elem)
                if len(decl) > 1:
                    self.set_var(decl[1].idents[0], elem)
            else:
                # The declarations were pushed by the pipeline: the element last, the index before it.
                self.vars[-1][1] = elem
                if len(decl) > 1:
                    self.vars[-2][1] = index
        saved, self.dot_is_element = self.dot_is_element, True
        try:
            self.walk(elem, node.list)
        except _Continue:
            pass
        finally:
            self.pop(mark)
            self.dot_is_element = saved

    def walk_template(self, dot: Any, node: n.Template) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f"template {quote(node.name)} not defined")
        if self.depth >= MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        value = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else MISSING
        saved = self.vars, self.name, self.depth, self.dot_is_element
        # No dynamic scoping: the called template sees only $.
        self.vars, self.name, self.depth, self.dot_is_element = [["$", value]], node.name, self.depth + 1, False
        try:
            self.walk(value, tree)
        finally:
            self.vars, self.name, self.depth, self.dot_is_element = saved

    # --- expressions

    def eval_pipeline(self, dot: Any, pipe: n.Pipe) -> Any:
        self.node = pipe
        value: Any = NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                # A nil interface{} result is Go's invalid value.
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.idents[0], value)
            else:
                self.vars.append([var.idents[0], value])
        return value

    def eval_command(self, dot: Any, cmd: n.Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, n.Field):
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, n.Chain):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, n.Identifier):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, n.Pipe):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, n.Variable):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, n.Bool):
            return first.value
        if isinstance(first, n.Dot):
            return dot
        if isinstance(first, n.Nil):
            raise self.error("nil is not a command")
        if isinstance(first, n.Number):
            return self.ideal_constant(first)
        if isinstance(first, n.String):
            return first.text
        raise self.error(f"can't evaluate command {quote(str(first))}")

    def not_a_function(self, args: list[n.Node], final: Any) -> None:
        if len(args) > 1 or final is not NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def ideal_constant(self, number: n.Number) -> Any:
        self.node = number
        if isinstance(number.value, int) and not number.is_int:
            raise self.error(f"{number.text} overflows int")
        return number.value

    def eval_chain(self, dot: Any, chain: n.Chain, args: list[n.Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, n.Nil):
            raise self.error(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "any", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: n.Variable, args: list[n.Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: n.Node, idents: list[str], args: list[n.Node], final: Any
    ) -> Any:
        # Go names the static type in its errors: a value read out of a map or a
        # list of JSON data is an interface {}, whatever it holds.
        iface = receiver is dot and self.dot_is_element
        for ident in idents[:-1]:
            receiver = self.eval_field(dot, ident, node, [], NO_FINAL, receiver, iface)
            iface = True
        return self.eval_field(dot, idents[-1], node, args, final, receiver, iface)

    def eval_field(
        self, dot: Any, name: str, node: n.Node, args: list[n.Node], final: Any, receiver: Any, iface: bool
    ) -> Any:
        if receiver is MISSING:
            if self.missing_key_error:
                raise self.error(f"nil data; no entry for key {quote(name)}")
            return MISSING
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, TypedNil):
            raise self.error(f"nil pointer evaluating {receiver.go_type}.{name}")
        has_args = len(args) > 1 or final is not NO_FINAL
        if type(receiver) is not dict and isinstance(receiver, dict) and not name.startswith("_"):
            # As Go, a method of a named map type comes before its keys (docker's header .Label).
            method = None if hasattr(dict, name) else getattr(type(receiver), name, None)
            if callable(method):
                return self.eval_call(dot, Func.of_method(getattr(receiver, name)), node, name, args, final)
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if self.missing_key_error and name not in receiver:
                raise self.error(f"map has no entry for key {quote(name)}")
            return receiver.get(name, MISSING)
        if not isinstance(receiver, _SCALARS) and not name.startswith("_"):
            attr = getattr(receiver, name, MISSING)
            if attr is not MISSING:
                if callable(attr):
                    if not has_args and _takes_no_arguments(attr):
                        # The row contexts' columns ({{.ID}}, {{.Image}}...), 7 per row of ps: nothing to check.
                        return self.call(attr, (), node, name)
                    return self.eval_call(dot, Func.of_method(attr), node, name, args, final)
                if has_args:
                    raise self.error(f"{name} has arguments but cannot be invoked as function")
                return attr
        raise self.error(f"can't evaluate field {name} in type {'interface {}' if iface else type_name(receiver)}")

    def eval_function(self, dot: Any, ident: n.Identifier, cmd: n.Node, args: list[n.Node], final: Any) -> Any:
        self.node = ident
        func = self.funcs.get(ident.name)
        if func is None:
            raise self.error(f"{quote(ident.name)} is not a defined function")
        return self.eval_call(dot, func, cmd, ident.name, args, final)

    def eval_call(self, dot: Any, func: Func, node: n.Node, name: str, args: list[n.Node], final: Any) -> Any:
        args = args[1:]
        num_in = len(args) + (final is not NO_FINAL)
        fixed = func.params
        if func.variadic is not None:
            if num_in < len(fixed):
                raise self.error(f"wrong number of args for {name}: want at least {len(fixed)} got {len(args)}")
        elif num_in != len(fixed):
            raise self.error(f"wrong number of args for {name}: want {len(fixed)} got {num_in}")
        if func.short_circuit is not None:
            return self.and_or(dot, func, args, final)
        argv = []
        for i, arg in enumerate(args):
            argv.append(self.eval_arg(dot, fixed[i] if i < len(fixed) else func.variadic, arg))
        if final is not NO_FINAL:
            kind = fixed[num_in - 1] if num_in - 1 < len(fixed) else func.variadic
            argv.append(self.validate(final, kind))
        assert func.fn is not None
        return self.call(func.fn, argv, node, name)

    def call(self, fn: Callable[..., Any], argv: Sequence[Any], node: n.Node, name: str) -> Any:
        try:
            return fn(*argv)
        except FuncError as exc:
            self.node = node
            raise self.error(f"error calling {name}: {exc}") from None

    def and_or(self, dot: Any, func: Func, args: list[n.Node], final: Any) -> Any:
        # and/or stop at the first argument that decides the result, and return that argument.
        stop_on = func.short_circuit
        value: Any = MISSING
        for arg in args:
            value = self.eval_arg(dot, "value", arg)
            if is_true(value) == stop_on:
                return value
        if final is not NO_FINAL:
            value = final
        return value

    def eval_arg(self, dot: Any, kind: str, node: n.Node) -> Any:
        self.node = node
        if isinstance(node, n.Dot):
            return self.validate(dot, kind)
        if isinstance(node, n.Nil):
            if kind in ("any", "[]string"):
                return None
            if kind == "value":
                return MISSING
            raise self.error(f"cannot assign nil to {go_kind_name(kind)}")
        if isinstance(node, n.Field):
            return self.validate(self.eval_field_chain(dot, dot, node, node.idents, [node], NO_FINAL), kind)
        if isinstance(node, n.Variable):
            return self.validate(self.eval_variable(dot, node, [], NO_FINAL), kind)
        if isinstance(node, n.Pipe):
            return self.validate(self.eval_pipeline(dot, node), kind)
        if isinstance(node, n.Identifier):
            return self.validate(self.eval_function(dot, node, node, [node], NO_FINAL), kind)
        if isinstance(node, n.Chain):
            return self.validate(self.eval_chain(dot, node, [], NO_FINAL), kind)
        if kind in ("any", "value"):
            if isinstance(node, n.Bool):
                return node.value
            if isinstance(node, n.Number):
                return self.ideal_constant(node)
            if isinstance(node, n.String):
                return node.text
        elif kind == "bool" and isinstance(node, n.Bool):
            return node.value
        elif kind == "string" and isinstance(node, n.String):
            return node.text
        elif kind == "int" and isinstance(node, n.Number) and node.is_int:
            return int(node.value.real) if isinstance(node.value, complex) else int(node.value)
        elif kind == "float" and isinstance(node, n.Number) and node.is_float:
            return float(node.value)
        expected = {"bool": "bool", "string": "string", "int": "integer", "float": "float"}.get(kind)
        if expected:
            raise self.error(f"expected {expected}; found {node}")
        raise self.error(f"can't handle {node} for arg of type {go_kind_name(kind)}")

    def validate(self, value: Any, kind: str) -> Any:
        """Go's validateType: can `value` be passed where `kind` is wanted?"""
        if value is MISSING:
            if kind == "value":
                return MISSING
            if kind in ("any", "[]string"):
                return None
            raise self.error(f"invalid value; expected {go_kind_name(kind)}")
        if kind in ("any", "value"):
            return value
        ok = {
            "string": lambda: isinstance(value, str),
            "int": lambda: isinstance(value, int) and not isinstance(value, bool),
            "float": lambda: isinstance(value, float),
            "bool": lambda: isinstance(value, bool),
            "[]string": lambda: value is None or _is_string_list(value),
        }[kind]()
        if not ok:
            raise self.error(f"wrong type for value; expected {go_kind_name(kind)}; got {type_name(value)}")
        return value


def _takes_no_arguments(method: Any) -> bool:
    """A bound Python method of self alone (what Func.of_method makes a Func without parameters)."""
    code = getattr(getattr(method, "__func__", None), "__code__", None)
    return code is not None and code.co_argcount == 1


def _is_string_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value)
