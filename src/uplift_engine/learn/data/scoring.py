"""Batch scoring: a bundle and an Arrow table in, the scores contract out.

Invariant: output rows are the input rows in order; the id column carries the input's values
as given (``row_id`` = 0-based row number when the bundle was trained without an id column
and the input has none); kept columns follow the score columns unchanged. When the bundle
bounds its effects, every ``uplift_<offer>`` is followed by ``uplift_<offer>_lower`` and
``_upper`` and the metadata carries the interval's level and kind.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from uplift_engine.errors import DataError
from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.data.roles import table_ids
from uplift_engine.learn.scores import ScoresMeta, pred_column, uplift_column

SCORE_BATCH_ROWS = 262_144


def score_table(
    bundle: Bundle, table: pa.Table, keep: tuple[str, ...] = ()
) -> tuple[pa.Table, ScoresMeta]:
    """Score every row of ``table``; returns the scores table and its metadata."""
    missing_keep = [c for c in keep if c not in table.column_names]
    if missing_keep:
        raise DataError(
            f"the columns to keep name {', '.join(map(repr, missing_keep))}, which the data "
            "lacks",
            field="keep",
        )
    id_name = bundle.columns.id
    ids = table_ids(table, id_name)
    intervals = bundle.intervals
    levels, lower, upper = predict_batched(bundle, table, with_interval=intervals is not None)
    arms = bundle.arms
    columns: dict[str, pa.Array | pa.ChunkedArray] = {id_name: ids}
    for a, arm in enumerate(arms):
        columns[pred_column(arm)] = pa.array(levels[:, a])
    for k, offer in enumerate(bundle.offers, start=1):
        columns[uplift_column(offer)] = pa.array(levels[:, k] - levels[:, 0])
        if lower is not None and upper is not None:
            columns[uplift_column(offer, "lower")] = pa.array(lower[:, k - 1])
            columns[uplift_column(offer, "upper")] = pa.array(upper[:, k - 1])
    for name in keep:
        if name in columns:
            raise DataError(
                f"the column to keep {name!r} clashes with a score column", field="keep"
            )
        columns[name] = table.column(name)
    meta = ScoresMeta(
        id_column=id_name,
        arms=arms,
        control=bundle.control,
        outcome=bundle.columns.outcome,
        outcome_kind=bundle.outcome_kind,
        interval_level=float(intervals["level"]) if intervals else None,
        interval_kind=str(intervals["kind"]) if intervals else None,
        model={
            "learner": bundle.manifest["learner"]["name"],
            "created_at": bundle.manifest["created_at"],
            "data_sha256": bundle.manifest["data_fingerprint"].get("sha256"),
            "version": bundle.version,
            "level_calibration": bundle.manifest.get("metrics", {}).get("level_calibration"),
        },
    )
    return pa.table(columns), meta


def predict_levels_batched(bundle: Bundle, table: pa.Table) -> np.ndarray:
    """Arm levels for every row, encoding in batches to bound memory."""
    return predict_batched(bundle, table)[0]


def predict_batched(
    bundle: Bundle, table: pa.Table, *, with_interval: bool = False
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Arm levels, and effect bounds when asked (else None), encoding in batches."""
    names = bundle.encoder.names
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise DataError(
            f"the data lacks feature column(s) {', '.join(map(repr, missing))} that the model "
            "was trained with",
            field=missing[0],
        )
    n, n_offers = table.num_rows, len(bundle.offers)
    out = np.empty((n, n_offers + 1), dtype=np.float64)
    lower = np.empty((n, n_offers)) if with_interval else None
    upper = np.empty((n, n_offers)) if with_interval else None
    for start in range(0, n, SCORE_BATCH_ROWS):
        part = table.slice(start, SCORE_BATCH_ROWS)
        rows = slice(start, start + part.num_rows)
        columns = {name: part.column(name) for name in names}
        if lower is not None and upper is not None:
            out[rows], lower[rows], upper[rows] = bundle.predict_levels_and_interval(columns)
        else:
            out[rows] = bundle.predict_levels(columns)
    return out, lower, upper
