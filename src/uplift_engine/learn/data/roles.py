"""Column roles of a campaign table: id, treatment, outcome, propensity, features.

Every column not named by a flag is a feature, except datetime columns (dropped, and said so)
and identifier-like columns, which are refused: a string column whose values are mostly unique
(e-mails, phone numbers, account numbers), or an integer column named like an id whose values
are all unique. No personal data may end up in a bundle, so refusing is loud, not silent.

A table the project wrote (a campaign table) declares its roles in its Parquet metadata (key
``uplift``: ``roles.id``, ``roles.treatment``, ``roles.outcomes``, and ``control``): they are the
defaults of the flags, and every declared outcome but the one learned is left out of the
features, since it is measured after the offer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError

ROW_ID = "row_id"
IDENTIFIER_UNIQUE_SHARE = 0.9
IDENTIFIER_MIN_ROWS = 50
_ID_NAME = re.compile(
    r"(^|_)(id|ids|uuid|guid|key|number|no|num|phone|email|e_mail|account)$", re.I
)
_PII_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$|^\+?[\d\s().-]{8,}$", re.I)


@dataclass(frozen=True)
class ColumnRoles:
    """Which column plays which part; ``features`` in table order."""

    treatment: str
    outcome: str
    id_column: str
    id_in_table: bool
    features: tuple[str, ...]
    propensity: str | None = None
    excluded: tuple[str, ...] = ()
    dropped_datetime: tuple[str, ...] = field(default=())
    other_outcomes: tuple[str, ...] = ()
    """Outcomes the table declares besides the one learned: never features."""


@dataclass(frozen=True)
class DeclaredRoles:
    """The column roles a table declares in its metadata (all optional)."""

    id_column: str | None = None
    treatment: str | None = None
    control: str | None = None
    outcomes: tuple[str, ...] = ()


def declared_roles(table: pa.Table) -> DeclaredRoles:
    """What ``table``'s ``uplift`` metadata says of its columns (nothing, for other tables)."""
    raw = (table.schema.metadata or {}).get(b"uplift")
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        meta = {}
    roles = meta.get("roles") if isinstance(meta, dict) else None
    if not isinstance(roles, dict):
        return DeclaredRoles()
    names = set(table.column_names)
    outcomes = roles.get("outcomes") or []

    def named(value: object) -> str | None:
        return value if isinstance(value, str) and value in names else None

    return DeclaredRoles(
        id_column=named(roles.get("id")),
        treatment=named(roles.get("treatment")),
        control=str(meta["control"]) if meta.get("control") is not None else None,
        outcomes=tuple(o for o in outcomes if isinstance(o, str) and o in names),
    )


def choose(role: str, given: str | None, declared: str | None, what: str) -> str:
    """The ``role``'s value: as given, else as the table declares; else a clear error."""
    if given is not None:
        return given
    if declared is not None:
        return declared
    raise DataError(f"name the {role}: {what}; the table does not declare it", field=role)


def choose_outcome(given: str | None, declared: DeclaredRoles) -> str:
    """``--outcome`` as given, or the table's only declared outcome."""
    if given is not None:
        return given
    if len(declared.outcomes) == 1:
        return declared.outcomes[0]
    if declared.outcomes:
        raise DataError(
            f"the table declares several outcomes ({', '.join(map(repr, declared.outcomes))}); "
            "choose the one to learn",
            field="outcome",
        )
    raise DataError("name the outcome: the column with each row's result", field="outcome")


def assign_roles(
    table: pa.Table,
    *,
    treatment: str,
    outcome: str,
    id_column: str | None = None,
    propensity: str | None = None,
    exclude: tuple[str, ...] = (),
    other_outcomes: tuple[str, ...] = (),
) -> ColumnRoles:
    """Give every column of ``table`` its role, refusing identifier-like features.

    ``other_outcomes``: columns measured after the offer besides ``outcome`` (left out).
    """
    names = table.column_names
    named = {"treatment": treatment, "outcome": outcome, "id": id_column}
    named |= {"propensity": propensity}
    for role, column in named.items():
        if column is not None and column not in names:
            raise DataError(
                f"the {role} column {column!r} is not in the table; its columns are "
                f"{', '.join(names[:30])}{' …' if len(names) > 30 else ''}",
                field=role,
            )
    missing_excluded = [c for c in exclude if c not in names]
    if missing_excluded:
        raise DataError(
            f"the columns to exclude name unknown column(s) {missing_excluded}", field="exclude"
        )
    if treatment == outcome:
        raise DataError("the treatment and the outcome are the same column", field="outcome")

    if id_column is None:
        id_column = "customer_id" if "customer_id" in names else ROW_ID
    id_in_table = id_column in names
    other_outcomes = tuple(o for o in other_outcomes if o != outcome and o not in exclude)
    reserved = {treatment, outcome, id_column, propensity, *exclude, *other_outcomes}
    features, dropped = [], []
    for name in names:
        if name in reserved:
            continue
        kind = table.schema.field(name).type
        if pa.types.is_temporal(kind):
            dropped.append(name)
            continue
        reason = identifier_reason(table.column(name), name)
        if reason:
            raise DataError(
                f"column {name!r} looks like an identifier ({reason}) and may hold personal "
                f"data; pass it as --id {name} or leave it out with --exclude {name}",
                field=name,
            )
        features.append(name)
    if not features:
        raise DataError("the table has no feature columns left after the named ones")
    return ColumnRoles(
        treatment=treatment,
        outcome=outcome,
        id_column=id_column,
        id_in_table=id_in_table,
        features=tuple(features),
        propensity=propensity,
        excluded=tuple(exclude),
        dropped_datetime=tuple(dropped),
        other_outcomes=other_outcomes,
    )


def table_ids(
    table: pa.Table, id_name: str, *, what: str = "the data"
) -> pa.ChunkedArray | pa.Array:
    """The ids of ``table``'s rows: its id column, or the row numbers for :data:`ROW_ID`.

    The one place where a model's id is matched to a table (training, scoring, explanations):
    a table without the id column gets its 0-based row numbers only when the model itself was
    trained without one; otherwise the missing column is an error naming it.
    """
    if id_name in table.column_names:
        return table.column(id_name)
    if id_name == ROW_ID:
        return pa.array(np.arange(table.num_rows, dtype=np.int64))
    raise DataError(
        f"the id column {id_name!r} (the model's id) is not in {what}", field="id"
    )


def identifier_reason(column: pa.ChunkedArray, name: str) -> str | None:
    """Why a column looks like an identifier, or ``None`` when it does not."""
    n = len(column) - column.null_count
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        sample = column.drop_null().slice(0, 200).to_pylist()
        pii = sum(bool(_PII_VALUE.match(str(v).strip())) for v in sample)
        if sample and pii >= 0.8 * len(sample):
            return "its values look like e-mail addresses or phone numbers"
        if n >= IDENTIFIER_MIN_ROWS:
            share = pc.count_distinct(column).as_py() / n
            if share >= IDENTIFIER_UNIQUE_SHARE:
                return f"{share:.0%} of its values are distinct"
    elif (
        pa.types.is_integer(kind)
        and _ID_NAME.search(name)
        and n >= IDENTIFIER_MIN_ROWS
        and pc.count_distinct(column).as_py() == n
    ):
        return "its name says id and every value is distinct"
    return None
