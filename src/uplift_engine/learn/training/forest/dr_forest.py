"""The DR-learner's forest final stage: honest regression forests on AIPW pseudo-outcomes.

Invariant: ``pseudo[:, k − 1]`` is offer ``k``'s cross-fitted AIPW pseudo-outcome on every
training row (its efficient influence function plus the effect), so its conditional mean is the
effect τ_k(x); one honest regression forest per offer (EconML's ``ForestDRLearner``) averages it
over the forest's neighbourhood of x, and the little bags give that average's variance — a
per-customer confidence interval. Every forest is grown on all rows of one binned matrix;
a leaf keeps at least ``min_samples_treatment`` estimation rows of the offer and of control.
"""

from __future__ import annotations

import numpy as np

from uplift_engine.learn.graph import IntervalSpec, Term
from uplift_engine.learn.training.base import TrainingData
from uplift_engine.learn.training.forest.binning import fit_bins
from uplift_engine.learn.training.forest.honest import (
    REGRESSION,
    HonestSettings,
    grow_honest_forest,
    regression_values,
)
from uplift_engine.learn.tree_ensemble import TreeEnsemble


def pseudo_outcome_forests(
    data: TrainingData,
    pseudo: np.ndarray,
    settings: HonestSettings,
    *,
    seed: int,
    threads: int,
    prefix: str = "tau",
) -> tuple[dict[str, TreeEnsemble], IntervalSpec]:
    """One honest forest per offer (``<prefix>_<k>``) and the intervals they give."""
    n = len(data.y)
    if pseudo.shape != (n, data.n_arms - 1):
        raise ValueError(f"pseudo-outcomes must have shape {(n, data.n_arms - 1)}")
    binning = fit_bins(
        data.X, data.categorical, max_bins=settings.max_bins, seed=seed, threads=threads
    )
    weight = data.sample_weight if data.sample_weight is not None else np.ones(n)
    control = (data.treatment == 0).astype(np.float64)
    rows = np.arange(n, dtype=np.int64)
    ensembles: dict[str, TreeEnsemble] = {}
    variance: list[list[Term]] = []
    for k in range(1, data.n_arms):
        offer = (data.treatment == k).astype(np.float64)
        vals = regression_values(offer, control, pseudo[:, k - 1], weight)
        name = f"{prefix}_{k}"
        ensembles[name] = grow_honest_forest(
            REGRESSION, settings, binning, rows, vals, seed=seed, stream=k, threads=threads
        )
        variance.append([Term(name)])
    return ensembles, IntervalSpec(variance, level=settings.interval_level, kind="confidence")
