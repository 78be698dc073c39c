"""The rule language's syntax: a hand-written tokenizer and recursive-descent parser.

Invariant: text becomes a small tree of frozen dataclasses (:class:`Node` and subclasses) or a
:class:`~uplift_engine.errors.ConfigError` naming the rule and the character position; nothing
is ever passed to ``eval``/``exec``/``compile``. The grammar is in :mod:`.expressions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from uplift_engine.errors import ConfigError, DataError

MAX_DEPTH = 64
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<quoted>`[^`]+`)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-)
      | (?P<bad>&&|\|\||=|!|.)""",
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "True", "False"}
_HINTS = {"=": "use == to compare", "&&": "use and", "||": "use or", "!": "use not or !="}


@dataclass(frozen=True)
class _Tok:
    kind: str  # number, string, name, keyword, op, end
    text: str
    pos: int


class Context:
    """Where a rule comes from, for messages."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text

    def syntax(self, pos: int, message: str) -> ConfigError:
        """An error in the rule's text at ``pos``."""
        return ConfigError(
            f"{self.name}: syntax error at position {pos + 1} of {self.text!r}: {message}",
            field=self.name,
        )

    def data(self, pos: int, message: str) -> DataError:
        """An error evaluating the rule against data (a column, a kind) at ``pos``."""
        return DataError(
            f"{self.name} (position {pos + 1} of {self.text!r}): {message}", field=self.name
        )


def _tokenize(ctx: Context) -> list[_Tok]:
    text = ctx.text
    tokens: list[_Tok] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "bad"
        value = match.group()
        if kind == "space":
            continue
        if kind == "bad":
            hint = _HINTS.get(value, "not part of the rule language")
            raise ctx.syntax(match.start(), f"unexpected {value!r} ({hint})")
        if kind == "name" and value in _KEYWORDS:
            kind = "keyword"
        if kind == "quoted":
            kind, value = "name", value[1:-1]
        tokens.append(_Tok(kind, value, match.start()))
    tokens.append(_Tok("end", "", len(text)))
    return tokens


# --- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A node of a parsed rule; ``pos`` is its first character."""

    pos: int

    def columns(self) -> set[str]:
        """Column names used below this node."""
        return set()


@dataclass(frozen=True)
class Literal(Node):
    """A number, string or true/false."""

    value: Any


@dataclass(frozen=True)
class Column(Node):
    """A column by name."""

    name: str

    def columns(self) -> set[str]:  # noqa: D102
        return {self.name}


@dataclass(frozen=True)
class Compare(Node):
    """``left op right``."""

    op: str
    left: Node
    right: Node

    def columns(self) -> set[str]:  # noqa: D102
        return self.left.columns() | self.right.columns()


@dataclass(frozen=True)
class InList(Node):
    """``operand [not] in (v1, v2, …)``."""

    operand: Node
    values: tuple[Any, ...]
    negate: bool

    def columns(self) -> set[str]:  # noqa: D102
        return self.operand.columns()


@dataclass(frozen=True)
class BoolOp(Node):
    """``and`` / ``or`` over two or more operands."""

    op: str
    items: tuple[Node, ...]

    def columns(self) -> set[str]:  # noqa: D102
        return set().union(*(i.columns() for i in self.items))


@dataclass(frozen=True)
class Not(Node):
    """``not item``."""

    item: Node

    def columns(self) -> set[str]:  # noqa: D102
        return self.item.columns()


# --- the parser -----------------------------------------------------------------------------


class _Parser:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tokens = _tokenize(ctx)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, text: str) -> bool:
        tok = self.peek()
        if tok.kind == kind and tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str) -> None:
        tok = self.peek()
        if tok.text != text or tok.kind not in ("op", "keyword"):
            raise self.ctx.syntax(tok.pos, f"expected {what}, got {_shown(tok)}")
        self.i += 1

    def parse(self) -> Node:
        if not self.ctx.text.strip():
            raise self.ctx.syntax(0, "the rule is empty")
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise self.ctx.syntax(tok.pos, f"unexpected {_shown(tok)} after a complete rule")
        return node

    def or_(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.ctx.syntax(self.peek().pos, f"nested deeper than {MAX_DEPTH} levels")
        first = self.and_()
        items = [first]
        while self.accept("keyword", "or"):
            items.append(self.and_())
        self.depth -= 1
        return first if len(items) == 1 else BoolOp(first.pos, "or", tuple(items))

    def and_(self) -> Node:
        first = self.not_()
        items = [first]
        while self.accept("keyword", "and"):
            items.append(self.not_())
        return first if len(items) == 1 else BoolOp(first.pos, "and", tuple(items))

    def not_(self) -> Node:
        tok = self.peek()
        if self.accept("keyword", "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.ctx.syntax(tok.pos, f"nested deeper than {MAX_DEPTH} levels")
            node = Not(tok.pos, self.not_())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.i += 1
            right = self.operand()
            after = self.peek()
            if after.kind == "op" and after.text in COMPARISONS:
                raise self.ctx.syntax(after.pos, "chained comparisons are not allowed; use and")
            return Compare(tok.pos, tok.text, left, right)
        negate = False
        if tok.kind == "keyword" and tok.text == "not":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "keyword" and nxt.text == "in":
                self.i += 1
                negate = True
        if self.accept("keyword", "in"):
            return InList(tok.pos, left, self.literal_list(), negate)
        return left

    def literal_list(self) -> tuple[Any, ...]:
        tok = self.peek()
        if not (self.accept("op", "(") or self.accept("op", "[")):
            raise self.ctx.syntax(
                tok.pos, f"expected a list like ('a', 'b') after in, got {_shown(tok)}"
            )
        closing = ")" if tok.text == "(" else "]"
        values: list[Any] = []
        while True:
            values.append(self.literal("a value in the list"))
            if self.accept("op", closing):
                break
            self.expect(",", f"',' or {closing!r}")
            if self.accept("op", closing):  # a trailing comma
                break
        return tuple(values)

    def literal(self, what: str) -> Any:
        tok = self.take()
        if tok.kind == "op" and tok.text == "-":
            num = self.take()
            if num.kind != "number":
                raise self.ctx.syntax(num.pos, f"expected a number after '-', got {_shown(num)}")
            return -_number(num.text)
        if tok.kind == "number":
            return _number(tok.text)
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "keyword" and tok.text in ("true", "false", "True", "False"):
            return tok.text.lower() == "true"
        raise self.ctx.syntax(tok.pos, f"expected {what}, got {_shown(tok)}")

    def operand(self) -> Node:
        tok = self.peek()
        if tok.kind == "name":
            self.i += 1
            return Column(tok.pos, tok.text)
        if self.accept("op", "("):
            inner = self.or_()
            self.expect(")", "')'")
            return inner
        return Literal(tok.pos, self.literal("a column, a number, a string or true/false"))


def _shown(tok: _Tok) -> str:
    return "the end of the rule" if tok.kind == "end" else repr(tok.text)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and re.fullmatch(r"\d+", text) else value


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(text: str, name: str) -> Node:
    """The tree of a rule's text (``name`` says where the rule comes from, for messages)."""
    return _Parser(Context(name, text)).parse()
