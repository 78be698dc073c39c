"""Arms: the treatment column's labels encoded as codes, control first.

Invariant: after encoding, code 0 is control and codes 1..K are the offers in the order of
``ArmSet.names[1:]`` (sorted numerically for numeric labels, lexically otherwise). Names are
the labels as they appear in column names (:func:`~uplift_engine.learn.scores.arm_name`), so
``--control 0`` matches the integer 0 and the float 0.0 alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError, quote_values
from uplift_engine.learn.scores import arm_name


@dataclass(frozen=True)
class ArmSet:
    """The arms of a campaign: their names (control first) and the treatment column's name."""

    column: str
    names: tuple[str, ...]

    @property
    def control(self) -> str:
        """The control arm's name."""
        return self.names[0]

    @property
    def offers(self) -> tuple[str, ...]:
        """The offers' names, in code order 1..K."""
        return self.names[1:]

    def encode(self, values: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Map the treatment column to codes (int64); unknown labels raise :class:`DataError`."""
        names = _names_of(values)
        lookup = {name: code for code, name in enumerate(self.names)}
        uniques, inverse = np.unique(names, return_inverse=True)
        unknown = [u for u in uniques if u not in lookup]
        if unknown:
            raise DataError(
                f"column {self.column!r} holds arm(s) {quote_values(unknown)} that the model "
                f"does not know; its arms are {quote_values(self.names)}",
                field=self.column,
            )
        return np.array([lookup[u] for u in uniques], dtype=np.int64)[inverse]


def discover_arms(values: pa.ChunkedArray | pa.Array, column: str, control: str) -> ArmSet:
    """Find the arms of a treatment column and put ``control`` first."""
    if values.null_count:
        raise DataError(
            f"treatment column {column!r} has {values.null_count} missing value(s); every row "
            "needs an arm",
            field=column,
        )
    distinct = pc.unique(values).to_pylist()
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    ordered = sorted(distinct) if numeric else sorted(distinct, key=str)
    names = [arm_name(v) for v in ordered]
    wanted = _control_name(control, numeric)
    if wanted not in names:
        raise DataError(
            f"control label {control!r} is not among the values of column {column!r}: "
            f"{quote_values(names)}",
            field="control",
        )
    if len(set(names)) != len(names):
        raise DataError(f"column {column!r} has labels that collide once written as names")
    if len(names) < 2:
        raise DataError(f"column {column!r} has only the control arm; a campaign needs an offer")
    names.remove(wanted)
    return ArmSet(column=column, names=(wanted, *names))


def _control_name(control: str, numeric: bool) -> str:
    if numeric:
        try:
            return arm_name(float(control))
        except ValueError:
            return control
    return control


def _names_of(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    if numeric:
        floats = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        uniques, inverse = np.unique(floats, return_inverse=True)
        return np.array([arm_name(float(u)) for u in uniques], dtype=object)[inverse]
    return np.asarray(pc.cast(values, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
