"""Columns for the decide layer: the scores first, then a customers table joined on the id.

Invariant: every column handed out is aligned with the scores' rows (one value per scored
customer, in the scores' order). A customer missing from the customers table gets a missing
value; a customers table with repeated ids is refused. Ids are matched by value, and as text
when the two tables store them with different types (``123`` matches ``"123"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.config.settings import Settings
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.errors import DataError, quote_values
from uplift_engine.lake import read_table, resolve
from uplift_engine.limits import MAX_AMOUNT


def _plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array


def _comparable(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array]:
    if a.type == b.type:
        return a, b
    return a.cast(pa.string()), b.cast(pa.string())


class ColumnSource:
    """Look up columns by name in the scores, then in the customers table."""

    def __init__(self, scores: pa.Table, id_column: str, customers: pa.Table | None = None) -> None:
        self.scores = scores
        self.id_column = id_column
        self.customers = customers
        self._rows: pa.Array | None = None
        if customers is not None and id_column not in customers.column_names:
            raise DataError(
                f"the customers table has no id column {id_column!r} to join on; it has "
                f"{quote_values(customers.column_names)}",
                field=id_column,
            )

    @property
    def n(self) -> int:
        """Number of scored customers."""
        return self.scores.num_rows

    def ids(self) -> pa.Array:
        """The scores' id column."""
        return _plain(self.scores.column(self.id_column))

    def has(self, name: str) -> bool:
        """Whether the column exists in either table."""
        return name in self.scores.column_names or (
            self.customers is not None and name in self.customers.column_names
        )

    def require(self, needed: dict[str, str]) -> None:
        """Fail naming the first missing column and what needs it."""
        for name, who in needed.items():
            if not self.has(name):
                raise self._missing(name, who)

    def _missing(self, name: str, who: str) -> DataError:
        where = "the scores" + (
            " or the customers table"
            if self.customers is not None
            else " (join a customers table on the id for more columns)"
        )
        field = name if self.customers is not None else "customers"
        return DataError(f"{who} names column {name!r}, which is not in {where}", field=field)

    def get(self, name: str) -> pa.Array:
        """The column aligned with the scores' rows."""
        if name in self.scores.column_names:
            return _plain(self.scores.column(name))
        customers = self.customers
        if customers is None or name not in customers.column_names:
            raise self._missing(name, "a rule")
        return _plain(customers.column(name)).take(self._row_index(customers))

    def gather(self, names: Iterable[str]) -> dict[str, pa.Array]:
        """Several columns at once, by name."""
        return {name: self.get(name) for name in names}

    def numbers(self, name: str, who: str, *, non_negative: bool = False) -> np.ndarray:
        """A numeric column as float64; missing or absurd values are an error naming ``who``."""
        column = self.get(name)
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_decimal(column.type)
        ):
            raise DataError(
                f"{who}: column {name!r} must be numeric, got {column.type}", field=name
            )
        values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{who}: column {name!r} has {int(bad.sum())} missing or infinite value(s)",
                field=name,
            )
        wild = (np.abs(values) > MAX_AMOUNT) | ((values < 0) if non_negative else False)
        if wild.any():
            bounds = f"beyond ±{MAX_AMOUNT:.0e}"
            if non_negative:
                bounds = f"below 0 or above {MAX_AMOUNT:.0e}"
            raise DataError(
                f"{who}: column {name!r} has {int(wild.sum())} value(s) {bounds} "
                f"(first: {values[np.argmax(wild)]:g})",
                field=name,
            )
        return values

    def _row_index(self, customers: pa.Table) -> pa.Array:
        if self._rows is None:
            theirs = _plain(customers.column(self.id_column))
            if pc.count_distinct(theirs).as_py() != len(theirs):
                raise DataError(
                    f"the customers table repeats ids in column {self.id_column!r}; "
                    "it needs one row per customer",
                    field=self.id_column,
                )
            ours, theirs = _comparable(self.ids(), theirs)
            self._rows = pc.index_in(ours, value_set=theirs)
        return self._rows


def match_ids(ids: pa.Array, listed: pa.Array) -> np.ndarray:
    """Which of ``ids`` appear in ``listed`` (a boolean array)."""
    ours, theirs = _comparable(_plain(ids), _plain(listed))
    found = pc.is_in(ours, value_set=theirs)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def read_id_list(uri: str | Path, id_column: str, settings: Settings | None = None) -> pa.Array:
    """Ids from a file: a table (the id column, else its first column) or text, one a line."""
    text = str(uri)
    if text.endswith(".txt"):
        lines = resolve(uri, settings).read_bytes().decode().splitlines()
        return pa.array([line.strip() for line in lines if line.strip()])
    table = read_table(uri, settings)
    if table.num_columns == 0:
        raise DataError(f"id list {text!r} has no columns")
    name = id_column if id_column in table.column_names else table.column_names[0]
    return _plain(table.column(name)).drop_null()


def do_not_contact(
    id_column: str,
    settings: Settings | None,
    *,
    listed: str | None = None,
    policy: CompiledPolicy | None = None,
    policy_uri: str | None = None,
) -> pa.Array | None:
    """Every id never to contact: a list file and the policy's ``dnc`` (beside the policy file).

    None when there is neither; ids as text, since that is how they are matched.
    """
    uris = [listed] if listed else []
    if policy is not None and policy.policy.dnc:
        where = policy.policy.dnc
        if policy_uri and "://" not in where and not where.startswith("/"):
            where = str(PurePosixPath(policy_uri).parent / where)
        uris.append(where)
    lists = [read_id_list(uri, id_column, settings).cast(pa.string()) for uri in uris]
    return pa.concat_arrays(lists) if lists else None
