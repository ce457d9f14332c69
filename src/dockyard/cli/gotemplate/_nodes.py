"""The parse tree (text/template/parse/node.go).

str(node) prints the node back as template text, as Go's Node.String() does:
parsing that text again gives the same tree (the property tests rely on it).
"""

from __future__ import annotations


class Node:
    __slots__ = ("pos",)
    pos: int


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        self.pos, self.text = pos, text

    def __str__(self) -> str:
        return self.text


class Comment(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        self.pos, self.text = pos, text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class List(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        self.pos, self.nodes = pos, []

    def __str__(self) -> str:
        return "".join(map(str, self.nodes))


class Dot(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "."


class Nil(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "nil"


class Bool(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        self.pos, self.value = pos, value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class Number(Node):
    """A numeric constant; `value` is what Go's idealConstant makes of it (int, float or complex)."""

    __slots__ = ("is_float", "is_int", "text", "value")

    def __init__(self, pos: int, text: str, value: int | float | complex, is_int: bool, is_float: bool) -> None:
        self.pos, self.text, self.value, self.is_int, self.is_float = pos, text, value, is_int, is_float

    def __str__(self) -> str:
        return self.text


class String(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        self.pos, self.quoted, self.text = pos, quoted, text

    def __str__(self) -> str:
        return self.quoted


class Identifier(Node):
    """A function name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        self.pos, self.name = pos, name

    def __str__(self) -> str:
        return self.name


class Field(Node):
    """.A.B.C: `idents` is ["A", "B", "C"]."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        self.pos, self.idents = pos, idents

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


class Variable(Node):
    """$x.A.B: `idents` is ["$x", "A", "B"]."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        self.pos, self.idents = pos, idents

    def __str__(self) -> str:
        return ".".join(self.idents)


class Chain(Node):
    """(pipeline).A.B: fields applied to the value of another term."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: list[str]) -> None:
        self.pos, self.node, self.fields = pos, node, fields

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return base + "".join("." + f for f in self.fields)


class Command(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        self.pos, self.args = pos, []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


class Pipe(Node):
    """Declarations ($x := or $x =) and the commands separated by |."""

    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        self.pos, self.decl, self.cmds, self.is_assign = pos, [], [], False

    def __str__(self) -> str:
        cmds = " | ".join(map(str, self.cmds))
        if not self.decl:
            return cmds
        return ", ".join(map(str, self.decl)) + (" = " if self.is_assign else " := ") + cmds


class Action(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: Pipe) -> None:
        self.pos, self.pipe = pos, pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class Branch(Node):
    """if, range and with: a pipeline, a list and an optional else list."""

    __slots__ = ("else_list", "list", "pipe")
    keyword = ""

    def __init__(self, pos: int, pipe: Pipe, list_: List, else_list: List | None) -> None:
        self.pos, self.pipe, self.list, self.else_list = pos, pipe, list_, else_list

    def __str__(self) -> str:
        text = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            text += "{{else}}" + str(self.else_list)
        return text + "{{end}}"


class If(Branch):
    __slots__ = ()
    keyword = "if"


class Range(Branch):
    __slots__ = ()
    keyword = "range"


class With(Branch):
    __slots__ = ()
    keyword = "with"


class Break(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "{{break}}"


class Continue(Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "{{continue}}"


class Template(Node):
    """{{template "name" pipeline}}"""

    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: Pipe | None) -> None:
        self.pos, self.name, self.pipe = pos, name, pipe

    def __str__(self) -> str:
        from dockyard.cli.gotemplate._gofmt import quote

        if self.pipe is None:
            return "{{template " + quote(self.name) + "}}"
        return "{{template " + quote(self.name) + " " + str(self.pipe) + "}}"


class End(Node):
    """{{end}}: only seen by the parser."""

    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "{{end}}"


class Else(Node):
    """{{else}}: only seen by the parser."""

    __slots__ = ()

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "{{else}}"
