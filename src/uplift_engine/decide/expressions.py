"""A tiny rule language for policies; it evaluates columns and can never run code.

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
_COMPARE: dict[str, Callable[..., Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_PY_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
Value = tuple[Any, str]  # (Arrow array / scalar / Python value, kind: number|string|bool|null)


def _arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type)
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _py_kind(value: Any) -> str:
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


def _describe(node: Node, kind: str) -> str:
    word = _KIND_WORD.get(kind, kind)
    if isinstance(node, Column):
        return f"column {node.name!r} ({word})"
    if isinstance(node, Literal):
        return f"{node.value!r} ({word})"
    return word


class _Evaluator:
    """Vectorised (Arrow columns) or row-wise (Python values) evaluation of one tree."""

    def __init__(self, ctx: Context, columns: Mapping[str, Any], rowwise: bool) -> None:
        self.ctx = ctx
        self.columns = columns
        self.rowwise = rowwise

    def run(self, node: Node) -> Value:
        if isinstance(node, Literal):
            return (node.value if self.rowwise else pa.scalar(node.value)), _py_kind(node.value)
        if isinstance(node, Column):
            return self.column(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Not):
            value = self.flag(node.item)
            if self.rowwise:
                return (None if value is None else not value), "bool"
            return pc.invert(value), "bool"
        if isinstance(node, BoolOp):
            return self.bool_op(node)
        raise TypeError(f"unknown node {node!r}")  # pragma: no cover - the parser builds nodes

    def column(self, node: Column) -> Value:
        if node.name not in self.columns:
            raise self.ctx.data(node.pos, f"column {node.name!r} is not available")
        value = self.columns[node.name]
        if self.rowwise:
            kind = _py_kind(value)
            return (None if kind == "null" else value), kind
        kind = _arrow_kind(value.type)
        if pa.types.is_dictionary(value.type):
            value = value.cast(value.type.value_type)
        return value, kind

    def flag(self, node: Node) -> Any:
        value, kind = self.run(node)
        if kind not in ("bool", "null"):
            raise self.ctx.data(
                node.pos,
                f"{_describe(node, kind)} is used as true/false; compare it (e.g. with > or ==)",
            )
        return value

    def compare(self, node: Compare) -> Value:
        left, lk = self.run(node.left)
        right, rk = self.run(node.right)
        self.same_kind(node, node.left, lk, node.right, rk)
        if node.op not in ("==", "!=") and "bool" in (lk, rk):
            raise self.ctx.data(node.pos, f"{node.op!r} does not order true/false flags")
        if self.rowwise:
            if left is None or right is None:
                return None, "bool"
            return bool(_PY_COMPARE[node.op](left, right)), "bool"
        return _COMPARE[node.op](left, right), "bool"

    def same_kind(self, node: Node, a: Node, ak: str, b: Node, bk: str) -> None:
        if ak != bk and "null" not in (ak, bk):
            raise self.ctx.data(
                node.pos, f"cannot compare {_describe(a, ak)} with {_describe(b, bk)}"
            )

    def in_list(self, node: InList) -> Value:
        value, kind = self.run(node.operand)
        kinds = {_py_kind(v) for v in node.values}
        if len(kinds) > 1:
            raise self.ctx.data(node.pos, "the list after in mixes kinds of values")
        list_kind = kinds.pop()
        if list_kind != kind and kind != "null":
            raise self.ctx.data(
                node.pos,
                f"cannot look for {_describe(node.operand, kind)} in a list of "
                f"{_KIND_PLURAL.get(list_kind, list_kind)}",
            )
        if self.rowwise:
            if value is None:
                return None, "bool"
            return (value in node.values) != node.negate, "bool"
        unknown = pa.scalar(None, pa.bool_())
        if isinstance(value, pa.Scalar):
            found = pa.scalar(value.as_py() in node.values) if value.is_valid else unknown
        else:
            if kind == "number":
                value = value.cast(pa.float64())
                options = pa.array([float(v) for v in node.values], pa.float64())
            else:
                options = pa.array(list(node.values)).cast(value.type)
            found = pc.if_else(pc.is_null(value), unknown, pc.is_in(value, value_set=options))
        return (pc.invert(found) if node.negate else found), "bool"

    def bool_op(self, node: BoolOp) -> Value:
        values = [self.flag(item) for item in node.items]
        if self.rowwise:
            return _kleene(node.op, values), "bool"
        fn = pc.and_kleene if node.op == "and" else pc.or_kleene
        out = values[0]
        for value in values[1:]:
            out = fn(out, value)
        return out, "bool"


def _kleene(op: str, values: list[Any]) -> bool | None:
    decisive = op == "or"  # True decides an or, False decides an and
    if any(v is not None and bool(v) == decisive for v in values):
        return decisive
    return None if any(v is None for v in values) else not decisive


@dataclass(frozen=True)
class Rule:
    """A parsed rule: evaluate it over columns (vectorised) or over one customer's values."""

    name: str
    text: str
    tree: Node

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the rule reads, sorted."""
        return tuple(sorted(self.tree.columns()))

    def evaluate(self, columns: Mapping[str, pa.Array], n: int, unknown: bool) -> np.ndarray:
        """The rule for ``n`` rows as a boolean array; ``unknown`` replaces missing answers."""
        ctx = Context(self.name, self.text)
        try:
            value = _Evaluator(ctx, columns, rowwise=False).flag(self.tree)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ctx.data(0, f"cannot be evaluated: {exc}") from exc
        if isinstance(value, pa.Scalar):
            answer = value.as_py()
            return np.full(n, unknown if answer is None else bool(answer))
        filled = pc.fill_null(value, unknown)
        if isinstance(filled, pa.ChunkedArray):
            filled = filled.combine_chunks()
        return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)

    def evaluate_row(self, row: Mapping[str, Any], unknown: bool) -> bool:
        """The rule for one customer given as a mapping of column to value."""
        ctx = Context(self.name, self.text)
        try:
            value = _Evaluator(ctx, row, rowwise=True).flag(self.tree)
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
