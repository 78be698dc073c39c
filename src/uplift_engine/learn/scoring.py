"""Batch scoring: a bundle and an Arrow table in, the scores contract out.

Invariant: output rows are the input rows in order; the id column carries the input's values
as given (``row_id`` = 0-based row number when the bundle was trained without an id column
and the input has none); kept columns follow the score columns unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from uplift_engine.errors import DataError
from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.roles import ROW_ID
from uplift_engine.learn.scores import ScoresMeta, pred_column, uplift_column

SCORE_BATCH_ROWS = 262_144


def score_table(
    bundle: Bundle, table: pa.Table, keep: tuple[str, ...] = ()
) -> tuple[pa.Table, ScoresMeta]:
    """Score every row of ``table``; returns the scores table and its metadata."""
    missing_keep = [c for c in keep if c not in table.column_names]
    if missing_keep:
        raise DataError(
            f"--keep names column(s) {', '.join(map(repr, missing_keep))} that the data lacks",
            field=missing_keep[0],
        )
    id_name = str(bundle.columns["id"])
    if id_name in table.column_names:
        ids: pa.ChunkedArray | pa.Array = table.column(id_name)
    elif id_name == ROW_ID:
        ids = pa.array(np.arange(table.num_rows, dtype=np.int64))
    else:
        raise DataError(f"id column {id_name!r} (the model's id) is not in the data", field=id_name)
    levels = predict_levels_batched(bundle, table)
    arms = bundle.arms
    columns: dict[str, pa.Array | pa.ChunkedArray] = {id_name: ids}
    for a, arm in enumerate(arms):
        columns[pred_column(arm)] = pa.array(levels[:, a])
    for k, offer in enumerate(bundle.offers, start=1):
        columns[uplift_column(offer)] = pa.array(levels[:, k] - levels[:, 0])
    for name in keep:
        if name in columns:
            raise DataError(f"--keep column {name!r} clashes with a score column", field=name)
        columns[name] = table.column(name)
    meta = ScoresMeta(
        id_column=id_name,
        arms=arms,
        control=bundle.control,
        outcome=str(bundle.columns["outcome"]),
        outcome_kind=bundle.outcome_kind,
        model={
            "learner": bundle.manifest["learner"]["name"],
            "created_at": bundle.manifest["created_at"],
            "data_sha256": bundle.manifest["data_fingerprint"].get("sha256"),
        },
    )
    return pa.table(columns), meta


def predict_levels_batched(bundle: Bundle, table: pa.Table) -> np.ndarray:
    """Arm levels for every row, encoding in batches to bound memory."""
    names = bundle.encoder.names
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise DataError(
            f"the data lacks feature column(s) {', '.join(map(repr, missing))} that the model "
            "was trained with",
            field=missing[0],
        )
    out = np.empty((table.num_rows, len(bundle.arms)), dtype=np.float64)
    for start in range(0, table.num_rows, SCORE_BATCH_ROWS):
        part = table.slice(start, SCORE_BATCH_ROWS)
        out[start : start + part.num_rows] = bundle.predict_levels(
            {n: part.column(n) for n in names}
        )
    return out
