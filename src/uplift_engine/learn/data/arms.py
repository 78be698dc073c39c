"""Arms: the treatment column's labels encoded as codes, control first.

Invariant: after encoding, code 0 is control and codes 1..K are the offers in the order of
``ArmSet.names[1:]`` (sorted numerically for numeric labels, lexically otherwise). Names are
the labels as they appear in column names (:func:`~uplift_engine.learn.scores.arm_name`), so
``--control 0`` matches the integer 0 and the float 0.0 alike. Text labels are taken as they
are, after the user's ``aliases`` (``--arm-map FROM=TO``): an empty or blank label is a row
without an arm, and labels that differ only by case or surrounding spaces ("control",
"Control", "control ") are refused unless mapped, so that a typo never becomes an offer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Labels read as other labels (``--arm-map``), applied before anything else."""

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
        names = _names_of(apply_aliases(values, self.aliases))
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


def discover_arms(
    values: pa.ChunkedArray | pa.Array,
    column: str,
    control: str,
    aliases: Mapping[str, str] | None = None,
) -> ArmSet:
    """Find the arms of a treatment column and put ``control`` first."""
    aliases = dict(aliases or {})
    values = apply_aliases(values, aliases)
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    blank = 0 if numeric else _blank_count(values)
    if values.null_count or blank:
        raise DataError(
            f"treatment column {column!r} has {values.null_count + blank} row(s) without an arm "
            "(missing or blank); every row needs one",
            field=column,
        )
    distinct = pc.unique(values).to_pylist()
    if not numeric:
        _refuse_look_alikes(distinct, column)
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
    return ArmSet(column=column, names=(wanted, *names), aliases=aliases)


def parse_arm_map(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["Control=control", "control =control"]`` → a map of labels (spaces kept as given)."""
    found: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not target.strip():
            raise DataError(
                f"--arm-map takes FROM=TO (the label as it is in the data, then the label to "
                f"read it as), got {pair!r}",
                field="arm_map",
            )
        found[source] = target
    return found


def apply_aliases(
    values: pa.ChunkedArray | pa.Array, aliases: Mapping[str, str]
) -> pa.ChunkedArray | pa.Array:
    """The treatment column with every aliased label replaced (text columns only)."""
    if not aliases:
        return values
    text = pc.cast(values, pa.string())
    keys = pa.array(list(aliases), pa.string())
    index = pc.index_in(text, value_set=keys)
    mapped = pc.take(pa.array(list(aliases.values()), pa.string()), index)
    return pc.if_else(pc.is_null(index), text, mapped)


def _blank_count(values: pa.ChunkedArray | pa.Array) -> int:
    text = pc.cast(values, pa.string())
    return int(pc.sum(pc.equal(pc.utf8_trim_whitespace(text), "")).as_py() or 0)


def _refuse_look_alikes(labels: list[object], column: str) -> None:
    groups: dict[str, list[str]] = {}
    for label in labels:
        text = str(label)
        groups.setdefault(text.strip().casefold(), []).append(text)
    clashes = [sorted(g) for g in groups.values() if len(g) > 1]
    if not clashes:
        return
    first = clashes[0]
    plain = [label for label in first if label == label.strip().casefold()]
    keep = plain[0] if plain else first[0]
    maps = " ".join(f"--arm-map '{label}={keep}'" for label in first if label != keep)
    listed = "; ".join(", ".join(repr(label) for label in group) for group in clashes)
    raise DataError(
        f"treatment column {column!r} has labels that differ only by case or surrounding "
        f"spaces: {listed}; fix the data, or say which arm each one is, e.g. {maps}",
        field=column,
    )


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
