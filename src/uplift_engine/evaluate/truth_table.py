"""Line up a truth dataset with scored rows: the true expected outcome under every arm.

A truth table has the id column and ``true_<outcome>_<arm>`` for every arm (the simulator's
``truth/campaign_truth`` dataset follows this naming, see ``lake.layout.truth_column``). When it
holds several campaigns (a ``campaign_id`` column), one must be chosen. Every scored row must
find its truth: a missing one is an error, not a silently shorter evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError, quote_values
from uplift_engine.lake.layout import expected_column, truth_column

ROW = "__row"


def truth_matrix(
    ids: pa.ChunkedArray | pa.Array,
    id_column: str,
    truth: pa.Table,
    outcome: str,
    arms: list[str],
    campaign: str | None = None,
    column: Callable[[str, str], str] = truth_column,
) -> np.ndarray:
    """Shape (n, len(arms)): the true expected ``outcome`` of every row under every arm.

    ``column`` names the truth's column of an outcome and arm: ``truth_column`` (the default,
    ``true_*``) or ``expected_column`` (the conditional values, ``expected_*``).
    """
    if id_column not in truth.column_names:
        raise DataError(f"the truth table has no id column {id_column!r}", field=id_column)
    wanted = [column(outcome, arm) for arm in arms]
    missing = [c for c in wanted if c not in truth.column_names]
    if missing:
        raise DataError(
            f"the truth table lacks {', '.join(map(repr, missing))}; it needs "
            f"{column(outcome, '<arm>')} for every arm of the model",
            field=missing[0],
        )
    if "campaign_id" in truth.column_names:
        campaigns = pc.unique(truth.column("campaign_id")).to_pylist()
        if campaign is not None:
            if campaign not in campaigns:
                raise DataError(
                    f"campaign {campaign!r} is not in the truth table; it holds "
                    f"{quote_values(campaigns)}",
                    field="campaign",
                )
            truth = truth.filter(pc.equal(truth.column("campaign_id"), campaign))
        elif len(campaigns) > 1:
            raise DataError(
                f"the truth table holds several campaigns ({quote_values(campaigns)}); "
                "choose one with --campaign",
                field="campaign",
            )
    truth = truth.select([id_column, *wanted])
    if pc.count_distinct(truth.column(id_column)).as_py() != truth.num_rows:
        raise DataError(f"the truth table repeats values of {id_column!r}", field=id_column)
    if truth.schema.field(id_column).type != ids.type:  # e.g. ids read as text from a CSV
        ids = pc.cast(ids, pa.string())
        truth = truth.set_column(0, id_column, pc.cast(truth.column(id_column), pa.string()))
    left = pa.table({id_column: ids, ROW: pa.array(np.arange(len(ids)))})
    joined = left.join(truth, keys=id_column, join_type="left outer").sort_by(ROW)
    matrix = np.column_stack(
        [joined.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in wanted]
    )
    lacking = int(np.isnan(matrix).any(axis=1).sum())
    if lacking:
        raise DataError(f"{lacking:,} scored row(s) have no truth for every arm", field=id_column)
    return matrix


def has_conditional_truth(truth: pa.Table, outcome: str, arms: list[str]) -> bool:
    """Whether ``truth`` also holds the conditional values (``expected_*``) of every arm."""
    return all(expected_column(outcome, arm) in truth.column_names for arm in arms)
