"""The plan file: one row per scored customer, with the offer decided and why.

Columns: the id (under its own name, values as given), ``offer`` (the offer's arm name, empty
for none), ``expected_profit`` and ``expected_cost`` (0 without an offer), ``excluded_by`` (the
guardrails that excluded the customer, empty otherwise) and ``holdout`` (true for the random
holdout). Invariant: the metadata travels with the file, like the scores' — in the Parquet schema
metadata under the key ``uplift``, and for CSV in a sidecar ``<file>.meta.json`` — and carries
``schema_version = "uplift.plan/1"``, the budget, the holdout draw, the optimiser's bound, gap
and prices, and the summary. Both are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError
from uplift_engine.lake import read_table_and_meta, write_table

PLAN_SCHEMA_VERSION = "uplift.plan/1"
PLAN_COLUMNS = ("offer", "expected_profit", "expected_cost", "excluded_by", "holdout")


def plan_table(
    ids: pa.Array,
    id_column: str,
    offers: list[str],
    choice: np.ndarray,
    profit: np.ndarray,
    cost: np.ndarray,
    excluded_by: pa.Array,
    holdout: np.ndarray,
) -> pa.Table:
    """Build the plan's columns from a choice vector (``-1`` = none)."""
    codes = np.where(choice >= 0, choice, len(offers)).astype(np.int32)
    names = pa.array([*offers, ""], pa.string())
    offer = pa.DictionaryArray.from_arrays(codes, names).cast(pa.string())
    return pa.table(
        {
            id_column: ids,
            "offer": offer,
            "expected_profit": pa.array(profit, pa.float64()),
            "expected_cost": pa.array(cost, pa.float64()),
            "excluded_by": excluded_by,
            "holdout": pa.array(holdout, pa.bool_()),
        }
    )


def write_plan(
    table: pa.Table, meta: dict[str, Any], uri: str | Path, settings: Settings | None = None
) -> None:
    """Write a plan with its metadata (Parquet schema metadata, or a CSV sidecar)."""
    text = json.dumps(
        {**meta, "schema_version": PLAN_SCHEMA_VERSION}, sort_keys=True, default=_jsonable
    ).encode()
    write_table(table, uri, settings, meta=text)


def read_plan(uri: str | Path, settings: Settings | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Read a plan and its metadata; fail when it is not a plan of a known schema version."""
    table, raw = read_table_and_meta(uri, settings)
    meta = json.loads(raw) if raw else {}
    if meta.get("schema_version") != PLAN_SCHEMA_VERSION:
        raise DataError(
            f"{str(uri)!r} is not a plan of schema {PLAN_SCHEMA_VERSION!r} "
            f"(found {meta.get('schema_version')!r})"
        )
    missing = [c for c in PLAN_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(f"plan {str(uri)!r} lacks column(s) {', '.join(map(repr, missing))}")
    for name in ("offer", "excluded_by"):  # CSV may read '' as missing or numeric arm names
        text = pc.fill_null(table.column(name).cast(pa.string()), "")
        table = table.set_column(table.column_names.index(name), name, text)
    return table, meta


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in the plan's metadata")
