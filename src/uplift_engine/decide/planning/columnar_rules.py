"""A policy rule over whole Arrow columns: every customer of a table at once.

The language, its parsing and its kind checks are :mod:`uplift_engine.decide.rules`'; this
evaluator gives the same answers as one customer at a time, over Arrow arrays with Kleene logic
(a missing value is unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.decide.rules import Evaluator, Rule, Value
from uplift_engine.decide.syntax import Context

_COMPARE: dict[str, Callable[..., Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def arrow_kind(t: pa.DataType) -> str:
    """The kind of an Arrow type: ``number``, ``string``, ``bool``, ``null`` (or its name)."""
    if pa.types.is_dictionary(t):
        return arrow_kind(t.value_type)
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_null(t):
        return "null"
    return str(t)


class ColumnEvaluator(Evaluator):
    """Arrow columns (and scalars for literals), Kleene logic."""

    def literal(self, value: Any) -> Any:
        """The literal as an Arrow scalar."""
        return pa.scalar(value)

    def column_value(self, name: str) -> Value:
        """The column (dictionary columns decoded)."""
        value = self.columns[name]
        kind = arrow_kind(value.type)
        if pa.types.is_dictionary(value.type):
            value = value.cast(value.type.value_type)
        return value, kind

    def compared(self, op: str, left: Any, right: Any) -> Any:
        """Arrow's comparison (null where a side is)."""
        return _COMPARE[op](left, right)

    def found(self, value: Any, kind: str, options: tuple[Any, ...], negate: bool) -> Any:
        """Membership, null for a missing value."""
        unknown = pa.scalar(None, pa.bool_())
        if isinstance(value, pa.Scalar):
            found = pa.scalar(value.as_py() in options) if value.is_valid else unknown
        else:
            if kind == "number":
                value = value.cast(pa.float64())
                choices = pa.array([float(v) for v in options], pa.float64())
            else:
                choices = pa.array(list(options)).cast(value.type)
            found = pc.if_else(pc.is_null(value), unknown, pc.is_in(value, value_set=choices))
        return pc.invert(found) if negate else found

    def inverted(self, value: Any) -> Any:
        """Not (null stays null)."""
        return pc.invert(value)

    def combined(self, op: str, values: list[Any]) -> Any:
        """Kleene ``and`` / ``or``."""
        fn = pc.and_kleene if op == "and" else pc.or_kleene
        out = values[0]
        for value in values[1:]:
            out = fn(out, value)
        return out


def evaluate_columns(
    rule: Rule, columns: Mapping[str, pa.Array], n: int, unknown: bool
) -> np.ndarray:
    """``rule`` for ``n`` rows as a boolean array; ``unknown`` replaces missing answers."""
    ctx = Context(rule.name, rule.text)
    try:
        value = ColumnEvaluator(ctx, columns).flag(rule.tree)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise ctx.data(0, f"cannot be evaluated: {exc}") from exc
    if isinstance(value, pa.Scalar):
        answer = value.as_py()
        return np.full(n, unknown if answer is None else bool(answer))
    filled = pc.fill_null(value, unknown)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
