"""Whether a model's outcome levels add up: observed against predicted sums, arm by arm.

A plan's spend follows the sums of the predicted outcomes under the offers it makes (how many
redeem, or how much is spent where a cost is a share of it); so what a budget needs from a model
is that those sums are right. On out-of-sample rows (cross-fitted or held out), for each arm
``a`` with rows ``i`` assigned to it, outcomes ``y`` and predicted levels ``ŷ`` under ``a``:

* ``ratio = Σ y / Σ ŷ`` — the ratio estimator of how much the model's sum must be scaled;
* ``ratio_se = sqrt(Σ (y − ratio·ŷ)²) / Σ ŷ`` — its standard error (the residuals' spread
  carried to the sum; rows are independent);
* ``residual_variance = Σ (y − ratio·ŷ)² / (n − 1)`` — one row's spread around its scaled
  prediction (a continuous outcome's; a binary one's follows from ``p``).

A plan does not take customers at random: it takes those whose predicted effect is high, where a
model's levels tend to run high too (the winner's curse). So for each offer the same figures are
also given by bins of its predicted effect (``bins`` equal-count bins over every out-of-sample
row; the edges are kept, so a plan can put its customers in them).

Invariant: an arm (or a bin) with fewer than two out-of-sample rows, or whose predictions sum to
0 or less, gets no entry (nothing can be said; a planner falls back to the arm's, then to none);
the record names the evaluation the rows came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SCHEMA_VERSION = "uplift.level_calibration/1"


BINS = 5


def level_calibration(
    treatment: np.ndarray,
    y: np.ndarray,
    levels: np.ndarray,
    arms: Sequence[str],
    evaluation: str,
    bins: int = BINS,
) -> dict[str, Any]:
    """The calibration of ``levels`` (n, arms; control first) as a JSON-ready record.

    Per arm, and for each offer also per bin of its predicted effect; out of sample.
    """
    per_arm: dict[str, dict[str, Any]] = {}
    for a, arm in enumerate(arms):
        rows = treatment == a
        overall = _figures(y[rows], levels[rows, a])
        if overall is None:
            continue
        if a > 0:
            effect = levels[:, a] - levels[:, 0]
            edges = np.quantile(effect, np.arange(1, bins) / bins)
            where = np.searchsorted(edges, effect[rows], side="right")
            observed, predicted = y[rows], levels[rows, a]
            overall["bins"] = {
                "effect_edges": [float(e) for e in edges],
                "figures": [_figures(observed[where == b], predicted[where == b])
                            for b in range(bins)],
            }  # fmt: skip
        per_arm[arm] = overall
    return {"schema_version": SCHEMA_VERSION, "evaluation": evaluation, "arms": per_arm}


def _figures(observed: np.ndarray, predicted: np.ndarray) -> dict[str, Any] | None:
    n = len(observed)
    total = float(predicted.sum())
    if n < 2 or not total > 0:
        return None
    ratio = float(observed.sum()) / total
    residual = observed.astype(np.float64) - ratio * predicted
    squares = float(residual @ residual)
    return {
        "rows": n,
        "observed_mean": float(observed.mean()),
        "predicted_mean": total / n,
        "ratio": ratio,
        "ratio_se": squares**0.5 / total,
        "residual_variance": squares / (n - 1),
    }
