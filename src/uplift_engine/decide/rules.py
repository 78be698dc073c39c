"""A tiny rule language for policies; it evaluates values and can never run code.

Grammar (keywords lower case; ``True``/``False`` also accepted)::

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [ ("==" | "!=" | "<" | "<=" | ">" | ">=") operand
                          | ["not"] "in" list ]
    operand    := NUMBER | "-" NUMBER | STRING | "true" | "false" | NAME | `any name`
                | "(" or ")"
    list       := ("(" | "[") literal ("," literal)* [","] (")" | "]")

A NAME is a column (looked up by the caller); a bare column must be a true/false flag.
Comparisons need the same kind on both sides (number, string or flag). Missing values follow
three-valued logic (``null == 1`` is unknown, ``unknown or true`` is true); the caller says what
an unknown final answer means. Invariant: the text is tokenised and parsed by hand into a small
tree of dataclasses; nothing is ever passed to ``eval``/``exec``/``compile``, no attribute or
function is reachable, and every error names the rule and the character position.

:class:`Evaluator` walks a tree and checks the kinds of what it compares, once for every way
of evaluating: :class:`RowEvaluator` here (one customer's Python values, the request corridor:
NumPy at most), and the columnar evaluator of
:mod:`uplift_engine.decide.planning.columnar_rules` (Arrow columns, a whole table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from uplift_engine.decide.syntax import (
    BoolOp,
    Column,
    Compare,
    Context,
    InList,
    Literal,
    Node,
    Not,
    parse,
)
from uplift_engine.errors import ConfigError

MAX_LENGTH = 4_000
PY_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
Value = tuple[Any, str]  # (a value of the evaluator's kind, its kind: number|string|bool|null)


def py_kind(value: Any) -> str:
    """The kind of a Python value: ``number``, ``string``, ``bool`` or ``null`` (NaN too)."""
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "null" if value != value else "number"  # NaN counts as missing
    if isinstance(value, str):
        return "string"
    return type(value).__name__


_KIND_WORD = {"bool": "a true/false flag", "number": "a number", "string": "a string"}
_KIND_PLURAL = {"bool": "true/false values", "number": "numbers", "string": "strings"}


def describe(node: Node, kind: str) -> str:
    """What a node is, for messages: ``column 'age' (a number)``."""
    word = _KIND_WORD.get(kind, kind)
    if isinstance(node, Column):
        return f"column {node.name!r} ({word})"
    if isinstance(node, Literal):
        return f"{node.value!r} ({word})"
    return word


class Evaluator:
    """Evaluates one tree, checking kinds; subclasses say what values are and how they combine."""

    def __init__(self, ctx: Context, columns: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.columns = columns

    # --- what a subclass provides ----------------------------------------------------------
    def literal(self, value: Any) -> Any:
        """A literal as one of this evaluator's values."""
        raise NotImplementedError

    def column_value(self, name: str) -> Value:
        """The value of a column (present in ``columns``) and its kind."""
        raise NotImplementedError

    def compared(self, op: str, left: Any, right: Any) -> Any:
        """``left op right`` (three-valued: missing gives unknown)."""
        raise NotImplementedError

    def found(self, value: Any, kind: str, options: tuple[Any, ...], negate: bool) -> Any:
        """Whether ``value`` is among ``options`` (three-valued)."""
        raise NotImplementedError

    def inverted(self, value: Any) -> Any:
        """Not ``value`` (three-valued)."""
        raise NotImplementedError

    def combined(self, op: str, values: list[Any]) -> Any:
        """``and`` / ``or`` of ``values`` (Kleene logic)."""
        raise NotImplementedError

    # --- the walk and its kind checks, shared --------------------------------------------
    def run(self, node: Node) -> Value:
        """The value of ``node`` and its kind."""
        if isinstance(node, Literal):
            return self.literal(node.value), py_kind(node.value)
        if isinstance(node, Column):
            if node.name not in self.columns:
                raise self.ctx.data(node.pos, f"column {node.name!r} is not available")
            return self.column_value(node.name)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Not):
            return self.inverted(self.flag(node.item)), "bool"
        if isinstance(node, BoolOp):
            return self.combined(node.op, [self.flag(item) for item in node.items]), "bool"
        raise TypeError(f"unknown node {node!r}")  # pragma: no cover - the parser builds nodes

    def flag(self, node: Node) -> Any:
        """The value of ``node``, which must be true/false."""
        value, kind = self.run(node)
        if kind not in ("bool", "null"):
            raise self.ctx.data(
                node.pos,
                f"{describe(node, kind)} is used as true/false; compare it (e.g. with > or ==)",
            )
        return value

    def compare(self, node: Compare) -> Value:
        """A comparison of two operands of the same kind."""
        left, lk = self.run(node.left)
        right, rk = self.run(node.right)
        if lk != rk and "null" not in (lk, rk):
            left_text, right_text = describe(node.left, lk), describe(node.right, rk)
            raise self.ctx.data(node.pos, f"cannot compare {left_text} with {right_text}")
        if node.op not in ("==", "!=") and "bool" in (lk, rk):
            raise self.ctx.data(node.pos, f"{node.op!r} does not order true/false flags")
        return self.compared(node.op, left, right), "bool"

    def in_list(self, node: InList) -> Value:
        """Membership in a list of literals of one kind, the operand's."""
        value, kind = self.run(node.operand)
        kinds = {py_kind(v) for v in node.values}
        if len(kinds) > 1:
            raise self.ctx.data(node.pos, "the list after in mixes kinds of values")
        list_kind = kinds.pop()
        if list_kind != kind and kind != "null":
            raise self.ctx.data(
                node.pos,
                f"cannot look for {describe(node.operand, kind)} in a list of "
                f"{_KIND_PLURAL.get(list_kind, list_kind)}",
            )
        return self.found(value, kind, node.values, node.negate), "bool"


class RowEvaluator(Evaluator):
    """One customer's values (Python), with three-valued logic (``None`` = unknown)."""

    def literal(self, value: Any) -> Any:
        """The literal itself."""
        return value

    def column_value(self, name: str) -> Value:
        """The customer's value (NaN is missing)."""
        value = self.columns[name]
        kind = py_kind(value)
        return (None if kind == "null" else value), kind

    def compared(self, op: str, left: Any, right: Any) -> Any:
        """Unknown when either side is missing."""
        if left is None or right is None:
            return None
        return bool(PY_COMPARE[op](left, right))

    def found(self, value: Any, kind: str, options: tuple[Any, ...], negate: bool) -> Any:
        """Unknown for a missing value."""
        if value is None:
            return None
        return (value in options) != negate

    def inverted(self, value: Any) -> Any:
        """Unknown stays unknown."""
        return None if value is None else not value

    def combined(self, op: str, values: list[Any]) -> Any:
        """Kleene logic."""
        return kleene(op, values)


def kleene(op: str, values: list[Any]) -> bool | None:
    """``and`` / ``or`` of true, false and unknown (``None``) values."""
    decisive = op == "or"  # True decides an or, False decides an and
    if any(v is not None and bool(v) == decisive for v in values):
        return decisive
    return None if any(v is None for v in values) else not decisive


@dataclass(frozen=True)
class Rule:
    """A parsed rule: evaluate it over one customer's values (columns: the planning layer)."""

    name: str
    text: str
    tree: Node

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the rule reads, sorted."""
        return tuple(sorted(self.tree.columns()))

    def evaluate_row(self, row: Mapping[str, Any], unknown: bool) -> bool:
        """The rule for one customer given as a mapping of column to value."""
        ctx = Context(self.name, self.text)
        try:
            value = RowEvaluator(ctx, row).flag(self.tree)
        except TypeError as exc:
            raise ctx.data(0, f"cannot be evaluated: {exc}") from exc
        return unknown if value is None else bool(value)


def compile_rule(text: str, name: str = "rule") -> Rule:
    """Parse ``text`` into a :class:`Rule`; ``name`` says where it comes from in messages."""
    if not isinstance(text, str):
        raise ConfigError(f"{name}: a rule must be text, got {type(text).__name__}", field=name)
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"{name}: a rule may have at most {MAX_LENGTH} characters", field=name)
    return Rule(name=name, text=text, tree=parse(text, name))
