"""The lexer of Go's text/template (text/template/parse/lex.go), as a generator.

It is lazy like Go's: the parser pulls items one at a time, so a template with
both a syntax error and a later lexical error reports the one Go reports.
Items carry their character offset; lines are computed only for errors.
"""

from __future__ import annotations

# typing costs milliseconds of start-up: its names are only for annotations.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterator


# Item kinds. Keywords are their own kinds, as in Go, so the parser can switch on them.
ERROR = "error"
BOOL = "bool"
CHAR = "char"
CHAR_CONSTANT = "charconst"
COMMENT = "comment"
ASSIGN = "="
DECLARE = ":="
EOF = "EOF"
FIELD = "field"
IDENTIFIER = "identifier"
LEFT_DELIM = "{{"
LEFT_PAREN = "("
NUMBER = "number"
COMPLEX = "complex"
PIPE = "|"
RAW_STRING = "rawstring"
RIGHT_DELIM = "}}"
RIGHT_PAREN = ")"
SPACE = "space"
STRING = "string"
TEXT = "text"
VARIABLE = "variable"
DOT = "."
NIL = "nil"

KEYWORDS = {
    ".": DOT,
    "block": "block",
    "break": "break",
    "continue": "continue",
    "define": "define",
    "else": "else",
    "end": "end",
    "if": "if",
    "range": "range",
    "nil": NIL,
    "template": "template",
    "with": "with",
}
KEYWORD_KINDS = frozenset(KEYWORDS.values()) - {DOT, NIL}

LEFT, RIGHT = "{{", "}}"
LEFT_COMMENT, RIGHT_COMMENT = "/*", "*/"
SPACE_CHARS = " \t\r\n"
_TERMINATORS = frozenset(" \t\r\n.,|:)(")


class Item:
    __slots__ = ("kind", "pos", "val")

    def __init__(self, kind: str, pos: int, val: str) -> None:
        self.kind = kind
        self.pos = pos
        self.val = val

    def __str__(self) -> str:
        # Go's item.String(), used in "unexpected X in Y" messages.
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind in KEYWORD_KINDS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return f"{go_quote(self.val[:10])}..."
        return go_quote(self.val)

    def __repr__(self) -> str:
        return f"Item({self.kind!r}, {self.pos}, {self.val!r})"


def go_quote(s: str) -> str:
    from dockyard.cli.gotemplate._gofmt import quote

    return quote(s)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def _left_trim_marker(s: str, at: int) -> bool:
    return s[at : at + 1] == "-" and s[at + 1 : at + 2] in (" ", "\t", "\r", "\n") and at + 1 < len(s)


def _right_trim_marker(s: str, at: int) -> bool:
    return at + 1 < len(s) and s[at] in SPACE_CHARS and s[at + 1] == "-"


def lex(text: str) -> Iterator[Item]:
    """Yield the items of `text`; the last is EOF or ERROR."""
    return _Lexer(text).items()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0

    def at_right_delim(self) -> tuple[bool, bool]:
        s, pos = self.s, self.pos
        if _right_trim_marker(s, pos) and s.startswith(RIGHT, pos + 2):
            return True, True
        return s.startswith(RIGHT, pos), False

    def at_terminator(self) -> bool:
        if self.pos >= len(self.s):
            return True
        return self.s[self.pos] in _TERMINATORS or self.s.startswith(RIGHT, self.pos)

    def item(self, kind: str) -> Item:
        it = Item(kind, self.start, self.s[self.start : self.pos])
        self.start = self.pos
        return it

    def error(self, message: str) -> Item:
        return Item(ERROR, self.start, message)

    def items(self) -> Iterator[Item]:
        s = self.s
        while True:
            # Text up to the next action.
            x = s.find(LEFT, self.pos)
            if x < 0:
                if len(s) > self.start:
                    yield Item(TEXT, self.start, s[self.start :])
                yield Item(EOF, len(s), "")
                return
            after = x + len(LEFT)
            trim_left = _left_trim_marker(s, after)
            end = self.start + len(s[self.start : x].rstrip(SPACE_CHARS)) if trim_left else x
            if end > self.start:
                yield Item(TEXT, self.start, s[self.start : end])
            self.pos = self.start = after + (2 if trim_left else 0)
            if s.startswith(LEFT_COMMENT, self.pos):
                it = self._comment()
                yield it
                if it.kind == ERROR:
                    return
                continue
            yield Item(LEFT_DELIM, x, LEFT)
            self.paren_depth = 0
            while True:
                it = self._action_item()
                if it is None:
                    continue
                yield it
                if it.kind == ERROR:
                    return
                if it.kind == RIGHT_DELIM:
                    break

    def _comment(self) -> Item:
        s = self.s
        x = s.find(RIGHT_COMMENT, self.pos + len(LEFT_COMMENT))
        if x < 0:
            return self.error("unclosed comment")
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            return self.error("comment ends before closing delimiter")
        it = self.item(COMMENT)
        self.pos += (2 if trim else 0) + len(RIGHT)
        if trim:
            self.pos = len(s) - len(s[self.pos :].lstrip(SPACE_CHARS))
        self.start = self.pos
        return it

    def _action_item(self) -> Item | None:
        """The next item inside an action (None when a space was swallowed by a trim marker)."""
        s = self.s
        delim, trim = self.at_right_delim()
        if delim:
            if self.paren_depth:
                return self.error("unclosed left paren")
            if trim:
                self.pos += 2
            self.start = self.pos
            self.pos += len(RIGHT)
            it = self.item(RIGHT_DELIM)
            if trim:
                self.pos = len(s) - len(s[self.pos :].lstrip(SPACE_CHARS))
            self.start = self.pos
            return it
        if self.pos >= len(s):
            return self.error("unclosed action")
        c = s[self.pos]
        self.pos += 1
        if c in SPACE_CHARS:
            self.pos -= 1
            return self._space()
        if c == "=":
            return self.item(ASSIGN)
        if c == ":":
            if s[self.pos : self.pos + 1] != "=":
                return self.error("expected :=")
            self.pos += 1
            return self.item(DECLARE)
        if c == "|":
            return self.item(PIPE)
        if c == '"':
            return self._quote('"', "unterminated quoted string", STRING)
        if c == "`":
            x = s.find("`", self.pos)
            if x < 0:
                return self.error("unterminated raw quoted string")
            self.pos = x + 1
            return self.item(RAW_STRING)
        if c == "$":
            return self._field_or_variable(VARIABLE)
        if c == "'":
            return self._quote("'", "unterminated character constant", CHAR_CONSTANT)
        if c == "." and (self.pos >= len(s) or not "0" <= s[self.pos] <= "9"):
            return self._field_or_variable(FIELD)
        if c in "+-." or "0" <= c <= "9":
            self.pos -= 1
            return self._number()
        if _is_alnum(c):
            self.pos -= 1
            return self._identifier()
        if c == "(":
            self.paren_depth += 1
            return self.item(LEFT_PAREN)
        if c == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.error("unexpected right paren")
            return self.item(RIGHT_PAREN)
        if c.isascii() and c.isprintable():
            return self.item(CHAR)
        return self.error(f"unrecognized character in action: {_unicode_name(c)}")

    def _space(self) -> Item | None:
        s = self.s
        n = 0
        while self.pos < len(s) and s[self.pos] in SPACE_CHARS:
            self.pos += 1
            n += 1
        # A space followed by "-}}" is the trim marker of the closing delimiter.
        if _right_trim_marker(s, self.pos - 1) and s.startswith(RIGHT, self.pos + 1):
            self.pos -= 1
            if n == 1:
                return None
        return self.item(SPACE)

    def _quote(self, close: str, unterminated: str, kind: str) -> Item:
        s = self.s
        while True:
            c = s[self.pos : self.pos + 1]
            self.pos += 1
            if c == "\\":
                c = s[self.pos : self.pos + 1]
                self.pos += 1
                if c and c != "\n":
                    continue
                return self.error(unterminated)
            if c in ("", "\n"):
                return self.error(unterminated)
            if c == close:
                return self.item(kind)

    def _field_or_variable(self, kind: str) -> Item:
        if self.at_terminator():
            return self.item(VARIABLE if kind == VARIABLE else DOT)
        s = self.s
        while self.pos < len(s) and _is_alnum(s[self.pos]):
            self.pos += 1
        if not self.at_terminator():
            return self.error(f"bad character {_unicode_name(s[self.pos])}")
        return self.item(kind)

    def _identifier(self) -> Item:
        s = self.s
        while self.pos < len(s) and _is_alnum(s[self.pos]):
            self.pos += 1
        if not self.at_terminator():
            return self.error(f"bad character {_unicode_name(s[self.pos])}")
        word = s[self.start : self.pos]
        if word in KEYWORDS:
            return self.item(KEYWORDS[word])
        if word in ("true", "false"):
            return self.item(BOOL)
        return self.item(IDENTIFIER)

    def _number(self) -> Item:
        if not self._scan_number():
            return self.error(f"bad number syntax: {go_quote(self.s[self.start : self.pos])}")
        if self.s[self.pos : self.pos + 1] in ("+", "-"):
            # A complex number: 1+2i, no spaces, ending in 'i'.
            if not self._scan_number() or self.s[self.pos - 1] != "i":
                return self.error(f"bad number syntax: {go_quote(self.s[self.start : self.pos])}")
            return self.item(COMPLEX)
        return self.item(NUMBER)

    def _accept(self, chars: str) -> bool:
        if self.pos < len(self.s) and self.s[self.pos] in chars:
            self.pos += 1
            return True
        return False

    def _accept_run(self, chars: str) -> None:
        while self._accept(chars):
            pass

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if self.pos < len(self.s) and _is_alnum(self.s[self.pos]):
            self.pos += 1
            return False
        return True


def _unicode_name(c: str) -> str:
    # Go's %#U: U+007D '}'
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"
