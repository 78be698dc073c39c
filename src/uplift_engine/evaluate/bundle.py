"""How well a bundle targets on a campaign table: the use case behind ``uplift evaluate``.

Invariant: the table is a randomised campaign with the columns the bundle was trained with —
its arm column (labels read through the bundle's ``arm_map``), its outcome, and its propensity
column when it had one; the bundle scores every row and :func:`evaluate_uplift` measures the
ranking against what happened. With a truth table (the simulator's, or any with
``true_<outcome>_<arm>`` columns keyed by the bundle's id), the report adds the effect error,
the intervals' coverage and the share of the oracle's gain. The CLI, the pipeline's gate and the
dashboard call this one function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from uplift_engine.errors import DataError
from uplift_engine.evaluate.evaluation import evaluate_uplift
from uplift_engine.evaluate.truth_table import has_conditional_truth, truth_matrix
from uplift_engine.lake.layout import expected_column
from uplift_engine.learn import Bundle
from uplift_engine.learn.data import ROW_ID, ArmSet, outcome_values, predict_batched
from uplift_engine.learn.data.dataset import propensity_matrix


def evaluate_bundle(
    bundle: Bundle,
    table: pa.Table,
    *,
    truth: pa.Table | None = None,
    campaign: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    threads: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The evaluation report of ``bundle`` on ``table`` (and against ``truth``), JSON-ready."""
    say = progress or (lambda _: None)
    columns = bundle.columns
    for role, name in (("treatment", columns.treatment), ("outcome", columns.outcome)):
        if name not in table.column_names:
            raise DataError(
                f"the data lacks the {role} column {name!r} the model was trained with",
                field=role,
            )
    arms = ArmSet(
        column=columns.treatment,
        names=tuple(bundle.arms),
        aliases=columns.arm_map,
    )
    treatment = arms.encode(table.column(columns.treatment))
    y = outcome_values(table.column(columns.outcome), columns.outcome)
    propensity = None
    if columns.propensity and columns.propensity in table.column_names:
        received = outcome_values(table.column(columns.propensity), columns.propensity)
        propensity = propensity_matrix(treatment, received, len(bundle.arms))
    say(f"scoring {table.num_rows:,} rows")
    bounded = bundle.intervals is not None
    levels, lower, upper = predict_batched(bundle, table, with_interval=bounded)
    truth_levels = conditional = None
    if truth is not None:
        id_name = columns.id
        if id_name in table.column_names:
            ids = table.column(id_name)
        elif id_name == ROW_ID:
            raise DataError("matching the truth needs an id column; the model has none")
        else:
            raise DataError(f"the data lacks the id column {id_name!r}", field=id_name)
        outcome = columns.outcome
        truth_levels = truth_matrix(ids, id_name, truth, outcome, bundle.arms, campaign)
        if has_conditional_truth(truth, outcome, bundle.arms):
            conditional = truth_matrix(
                ids, id_name, truth, outcome, bundle.arms, campaign, expected_column
            )
    say("computing metrics and bootstrap intervals")
    report = evaluate_uplift(
        treatment,
        y,
        levels[:, 1:] - levels[:, :1],
        bundle.offers,
        propensity=propensity,
        truth=truth_levels,
        conditional_truth=conditional,
        bounds=(lower, upper) if lower is not None and upper is not None else None,
        n_boot=n_boot,
        seed=seed,
        threads=threads,
    ).to_dict()
    report["model"] = {
        "learner": bundle.manifest["learner"]["name"],
        "intervals": bundle.intervals,
    }
    return report
