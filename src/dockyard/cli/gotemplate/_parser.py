"""The parser of Go's text/template (text/template/parse/parse.go).

It reads the lexer's items with Go's look-ahead (next/peek/backup) so that it
accepts exactly what Go accepts and fails with Go's messages
("template: :1: unexpected \"}\" in operand").
"""

from __future__ import annotations

from dockyard.cli.gotemplate import _lexer as lx
from dockyard.cli.gotemplate import _nodes as n
from dockyard.cli.gotemplate._errors import TemplateError
from dockyard.cli.gotemplate._literals import parse_number, unquote

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable, Container


def parse(text: str, name: str, funcs: Container[str]) -> dict[str, n.List]:
    """Parse `text` into its trees: the main one under `name` and one per {{define}}/{{block}}."""
    return _Parser(text, name, funcs).parse()


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class _Parser:
    def __init__(self, text: str, name: str, funcs: Container[str]) -> None:
        self.text = text
        self.name = name
        self.funcs = funcs
        self.items = lx.lex(text)
        self.token: list[lx.Item] = [lx.Item(lx.EOF, 0, "")] * 3
        self.peek_count = 0
        self.vars = ["$"]
        self.range_depth = 0
        self.action_pos = -1
        self.trees: dict[str, n.List] = {}

    # --- look-ahead, as Go's Tree: token[0] is always the newest item from the lexer

    def next(self) -> lx.Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = next(self.items)
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: lx.Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: lx.Item, t1: lx.Item) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> lx.Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = next(self.items)
        return self.token[0]

    def next_non_space(self) -> lx.Item:
        while True:
            token = self.next()
            if token.kind != lx.SPACE:
                return token

    def peek_non_space(self) -> lx.Item:
        token = self.next_non_space()
        self.backup()
        return token

    # --- errors

    def error(self, message: str) -> TemplateError:
        line = line_of(self.text, self.token[0].pos)
        return TemplateError(f"template: {self.name}:{line}: {message}")

    def expect(self, kind: str, context: str) -> lx.Item:
        token = self.next_non_space()
        if token.kind != kind:
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: lx.Item, context: str) -> TemplateError:
        if token.kind == lx.ERROR:
            extra = ""
            if self.action_pos >= 0:
                action_line = line_of(self.text, self.action_pos)
                if action_line != line_of(self.text, token.pos):
                    extra = f" in action started at {self.name}:{action_line}"
                    if token.val.endswith(" action"):
                        extra = extra[len(" in action") :]
            return self.error(f"{token}{extra}")
        return self.error(f"unexpected {token} in {context}")

    # --- the grammar

    def parse(self) -> dict[str, n.List]:
        root = n.List(self.peek().pos)
        while self.peek().kind != lx.EOF:
            if self.peek().kind == lx.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().kind == "define":
                    self.definition()
                    continue
                self.backup2(delim)
            node = self.text_or_action()
            if isinstance(node, (n.End, n.Else)):
                raise self.error(f"unexpected {node}")
            root.nodes.append(node)
        self.add(self.name, root)
        return self.trees

    def add(self, name: str, tree: n.List) -> None:
        # As Go's (*Template).AddParseTree: an empty definition does not replace a real one.
        if name in self.trees and _is_empty(tree):
            return
        self.trees[name] = tree

    def definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        self.expect(lx.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, n.End):
            raise self.error(f"unexpected {end} in {context}")
        self.add(name, body)

    def item_list(self) -> tuple[n.List, n.Node]:
        body = n.List(self.peek_non_space().pos)
        while self.peek_non_space().kind != lx.EOF:
            node = self.text_or_action()
            if isinstance(node, (n.End, n.Else)):
                return body, node
            body.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> n.Node:
        token = self.next_non_space()
        if token.kind == lx.TEXT:
            return n.Text(token.pos, token.val)
        if token.kind == lx.LEFT_DELIM:
            saved, self.action_pos = self.action_pos, token.pos
            try:
                return self.action()
            finally:
                self.action_pos = saved
        if token.kind == lx.COMMENT:
            return n.Comment(token.pos, token.val)
        raise self.unexpected(token, "input")

    def action(self) -> n.Node:
        token = self.next_non_space()
        control: dict[str, Callable[[lx.Item], n.Node]] = {
            "block": self.block_control,
            "break": self.break_control,
            "continue": self.continue_control,
            "else": self.else_control,
            "end": self.end_control,
            "if": lambda _: n.If(*self.parse_control("if")),
            "range": lambda _: n.Range(*self.parse_control("range")),
            "template": self.template_control,
            "with": lambda _: n.With(*self.parse_control("with")),
        }
        if token.kind in control:
            return control[token.kind](token)
        self.backup()
        token = self.peek()
        # Variables declared here are not popped: they persist until the enclosing {{end}}.
        return n.Action(token.pos, self.pipeline("command", lx.RIGHT_DELIM))

    def break_control(self, keyword: lx.Item) -> n.Node:
        return self._loop_control(keyword, "{{break}}", n.Break)

    def continue_control(self, keyword: lx.Item) -> n.Node:
        return self._loop_control(keyword, "{{continue}}", n.Continue)

    def _loop_control(self, keyword: lx.Item, action: str, node: type) -> n.Node:
        token = self.next_non_space()
        if token.kind != lx.RIGHT_DELIM:
            raise self.unexpected(token, action)
        if not self.range_depth:
            raise self.error(f"{action} outside {{{{range}}}}")
        return node(keyword.pos)

    def else_control(self, _keyword: lx.Item) -> n.Node:
        peek = self.peek_non_space()
        # {{else if …}} and {{else with …}} are read as {{else}}{{if …}} … {{end}}.
        if peek.kind in ("if", "with"):
            return n.Else(peek.pos)
        return n.Else(self.expect(lx.RIGHT_DELIM, "else").pos)

    def end_control(self, _keyword: lx.Item) -> n.Node:
        return n.End(self.expect(lx.RIGHT_DELIM, "end").pos)

    def block_control(self, _keyword: lx.Item) -> n.Node:
        # {{block "name" pipeline}} body {{end}} = {{define "name"}} body {{end}}{{template "name" pipeline}}
        context = "block clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = self.pipeline(context, lx.RIGHT_DELIM)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, n.End):
            raise self.error(f"unexpected {end} in {context}")
        self.add(name, body)
        return n.Template(token.pos, name, pipe)

    def template_control(self, _keyword: lx.Item) -> n.Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = None
        if self.next_non_space().kind != lx.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
        return n.Template(token.pos, name, pipe)

    def template_name(self, token: lx.Item, context: str) -> str:
        if token.kind not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(token, context)
        return self.unquote(token.val)

    def unquote(self, quoted: str) -> str:
        try:
            return unquote(quoted)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def parse_control(self, context: str) -> tuple[int, n.Pipe, n.List, n.List | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, n.Else):
                if context in ("if", "with") and self.peek().kind == context:
                    self.next()
                    else_list = n.List(nxt.pos)
                    node_type = n.If if context == "if" else n.With
                    else_list.nodes.append(node_type(*self.parse_control(context)))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, n.End):
                        raise self.error(f"expected end; found {nxt}")
            return pipe.pos, pipe, body, else_list
        finally:
            del self.vars[mark:]

    def pipeline(self, context: str, end: str) -> n.Pipe:
        pipe = n.Pipe(self.peek_non_space().pos)
        self.declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.kind == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.kind in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def declarations(self, pipe: n.Pipe, context: str) -> None:
        while True:
            v = self.peek_non_space()
            if v.kind != lx.VARIABLE:
                return
            self.next()
            # Three tokens of look-ahead: in "$x foo" the variable is an argument, in "$x := foo" a declaration.
            after_variable = self.peek()
            nxt = self.peek_non_space()
            if nxt.kind in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.kind == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(n.Variable(v.pos, [v.val]))
                self.vars.append(v.val)
                return
            if nxt.kind == lx.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(n.Variable(v.pos, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (lx.VARIABLE, lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            if after_variable.kind == lx.SPACE:
                self.backup3(v, after_variable)
            else:
                self.backup2(v)
            return

    def check_pipeline(self, pipe: n.Pipe, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (n.Bool, n.Dot, n.Nil, n.Number, n.String)):
                raise self.error(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> n.Command:
        cmd = n.Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.kind == lx.SPACE:
                continue
            if token.kind in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self.backup()
            elif token.kind != lx.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> n.Node | None:
        node = self.term()
        if node is None or self.peek().kind != lx.FIELD:
            return node
        pos = self.peek().pos
        fields = []
        while self.peek().kind == lx.FIELD:
            fields.append(self.next().val[1:])
        # As Go: fields after a field or variable extend it; literals cannot have fields.
        if isinstance(node, n.Field):
            return n.Field(pos, node.idents + fields)
        if isinstance(node, n.Variable):
            return n.Variable(pos, node.idents + fields)
        if isinstance(node, (n.Bool, n.String, n.Number, n.Nil, n.Dot)):
            from dockyard.cli.gotemplate._gofmt import quote

            raise self.error(f"unexpected . after term {quote(str(node))}")
        return n.Chain(pos, node, fields)

    def term(self) -> n.Node | None:
        token = self.next_non_space()
        kind = token.kind
        if kind == lx.IDENTIFIER:
            if token.val not in self.funcs:
                raise self.error(f'function "{token.val}" not defined')
            return n.Identifier(token.pos, token.val)
        if kind == lx.DOT:
            return n.Dot(token.pos)
        if kind == lx.NIL:
            return n.Nil(token.pos)
        if kind == lx.VARIABLE:
            idents = token.val.split(".")
            if idents[0] not in self.vars:
                raise self.error(f'undefined variable "{idents[0]}"')
            return n.Variable(token.pos, idents)
        if kind == lx.FIELD:
            return n.Field(token.pos, [token.val[1:]])
        if kind == lx.BOOL:
            return n.Bool(token.pos, token.val == "true")
        if kind in (lx.CHAR_CONSTANT, lx.COMPLEX, lx.NUMBER):
            try:
                value, is_int, is_float = parse_number(token.val, kind)
            except ValueError as exc:
                raise self.error(str(exc)) from None
            return n.Number(token.pos, token.val, value, is_int, is_float)
        if kind == lx.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
        if kind in (lx.STRING, lx.RAW_STRING):
            return n.String(token.pos, token.val, self.unquote(token.val))
        self.backup()
        return None


_OPERAND_START = frozenset(
    (
        lx.BOOL, lx.CHAR_CONSTANT, lx.COMPLEX, lx.DOT, lx.FIELD, lx.IDENTIFIER, lx.NUMBER,
        lx.NIL, lx.RAW_STRING, lx.STRING, lx.VARIABLE, lx.LEFT_PAREN,
    )
)  # fmt: skip


def _is_empty(tree: n.List) -> bool:
    for node in tree.nodes:
        if isinstance(node, n.Text):
            if node.text.strip(" \t\r\n"):
                return False
        elif not isinstance(node, n.Comment):
            return False
    return True
