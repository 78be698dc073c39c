"""Column roles of a campaign table: id, treatment, outcome, propensity, features.

Every column not named by a flag is a feature, except datetime columns (dropped, and said so)
and identifier-like columns, which are refused: a string column whose values are mostly unique
(e-mails, phone numbers, account numbers), or an integer column named like an id whose values
are all unique. No personal data may end up in a bundle, so refusing is loud, not silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


def assign_roles(
    table: pa.Table,
    *,
    treatment: str,
    outcome: str,
    id_column: str | None = None,
    propensity: str | None = None,
    exclude: tuple[str, ...] = (),
) -> ColumnRoles:
    """Give every column of ``table`` its role, refusing identifier-like features."""
    names = table.column_names
    named = {"--treatment": treatment, "--outcome": outcome, "--id": id_column}
    named |= {"--propensity": propensity}
    for flag, column in named.items():
        if column is not None and column not in names:
            raise DataError(
                f"{flag} column {column!r} is not in the table; its columns are "
                f"{', '.join(names[:30])}{' …' if len(names) > 30 else ''}",
                field=column,
            )
    missing_excluded = [c for c in exclude if c not in names]
    if missing_excluded:
        raise DataError(f"--exclude names unknown column(s) {missing_excluded}", field="exclude")
    if treatment == outcome:
        raise DataError("--treatment and --outcome name the same column", field=outcome)

    if id_column is None:
        id_column = "customer_id" if "customer_id" in names else ROW_ID
    id_in_table = id_column in names
    reserved = {treatment, outcome, id_column, propensity, *exclude}
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
