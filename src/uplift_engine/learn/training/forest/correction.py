"""The causal forest's correcting second stage: a forest of what the first one missed, if it helps.

Invariant: the first forest's effects θ₁ are shrunk towards the middle wherever the effect
surface is steeper or more oblique than its leaves (a forest averages over neighbourhoods that,
at the edges of the effects, hold customers with milder ones), and that smoothing bias is
outside its intervals. So a second honest forest of ``boost_trees`` trees is grown on the
residual outcome Ỹ − W̃ᵀθ₁(x), θ₁ the first forest's *out-of-bag* effects (from the little bags
whose half-sample left the row out, so a row's own outcome never enters its offset), with
leaves ``BOOST_LEAF_FACTOR`` times as large and trees on ``BOOST_SAMPLE_FRACTION`` of the rows
(what it estimates is smooth). It is kept only when it lowers the out-of-bag R-loss
Σw·(Ỹ − W̃ᵀθ)² significantly: over the rows out of bag in both forests, the per-row change of
the loss must have a t statistic below −``BOOST_T``. Kept, the
effects are θ₁ + θ₂ and their variance the sum of both forests' little-bag variances (their
covariance is left out); and since one step removes only part of a bias the test has shown,
the intervals take θ₂ as the bound on the bias left: their half-width is z·√(variance + θ₂²)
(the causal forest's bias terms, :class:`~uplift_engine.learn.graph.IntervalSpec`). grf grows
boosted regression forests the same way, step by step while the out-of-bag error falls; one
step is what the benchmark's data needed (docs/learners.md).

Rows out of bag in no little bag (a share of 2^−groups) take the whole forest's effect as their
offset and stay out of the test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from uplift_engine.learn.training.forest.binning import Binning
from uplift_engine.learn.training.forest.criteria import CAUSAL
from uplift_engine.learn.training.forest.honest import (
    HonestSettings,
    grow_honest_forest,
    grow_honest_forest_out_of_bag,
    tree_shape,
)
from uplift_engine.learn.tree_ensemble import TreeEnsemble

BOOST_LEAF_FACTOR = 4
BOOST_SAMPLE_FRACTION = 0.35
"""Each correcting tree draws 35% of the rows (70% of its bag's half-sample): what it estimates
is smooth, and on the five-feature Nie–Wager trials its 60 trees cost 0.15 s less than at 50%
(PEHE within 2%)."""
BOOST_T = 2.0
BOOST_STREAM = 1_000
"""The correcting forest of stream ``k`` is grown as stream ``k + BOOST_STREAM``."""


def grow_corrected_causal_forest(
    settings: HonestSettings,
    binning: Binning,
    rows: np.ndarray,
    vals: np.ndarray,
    *,
    seed: int,
    stream: int,
    threads: int,
    n_offers: int,
) -> list[TreeEnsemble]:
    """The causal forest on ``rows``, and its correcting forest when the R-loss test keeps it.

    ``vals`` are :func:`~uplift_engine.learn.training.forest.honest.causal_values` of all rows.
    """
    if settings.boost_trees == 0:
        first = grow_honest_forest(
            CAUSAL, settings, binning, rows, vals, seed=seed, stream=stream, threads=threads,
            n_offers=n_offers,
        )
        return [first]
    first, first_oob = grow_honest_forest_out_of_bag(
        CAUSAL, settings, binning, rows, vals, seed=seed, stream=stream, threads=threads,
        n_offers=n_offers,
    )
    theta = first_oob.outputs
    row_vals = vals[rows]
    shifted = vals.copy()
    shifted[rows] = shift_outcome(row_vals, theta, n_offers)
    min_leaf, _ = tree_shape(settings, rows.size)
    second_settings = dataclasses.replace(
        settings,
        n_trees=settings.boost_trees,
        min_samples_leaf=BOOST_LEAF_FACTOR * min_leaf,
        sample_fraction=min(settings.sample_fraction, BOOST_SAMPLE_FRACTION),
    )
    second, second_oob = grow_honest_forest_out_of_bag(
        CAUSAL, second_settings, binning, rows, shifted, seed=seed,
        stream=stream + BOOST_STREAM, threads=threads, n_offers=n_offers,
    )
    delta = second_oob.outputs
    tested = first_oob.covered & second_oob.covered
    change = r_loss(row_vals[tested], theta[tested] + delta[tested], n_offers) - r_loss(
        row_vals[tested], theta[tested], n_offers
    )
    return [first, second] if _t_statistic(change) < -BOOST_T else [first]


def shift_outcome(row_vals: np.ndarray, theta: np.ndarray, n_offers: int) -> np.ndarray:
    """Causal values of the same rows with Ỹ replaced by Ỹ − W̃ᵀθ (θ: rows × K).

    Columns as :func:`~uplift_engine.learn.training.forest.honest.causal_values` lays them out: arm
    counts (K + 1), w, w·W̃ (K), w·Ỹ, w·Ỹ·W̃ (K), w·W̃_j·W̃_k (j ≤ k).
    """
    k_ = n_offers
    out = row_vals.copy()
    w_res = row_vals[:, k_ + 2 : 2 * k_ + 2]
    out[:, 2 * k_ + 2] -= (w_res * theta).sum(axis=1)
    pair = _pair_columns(k_)
    for j in range(k_):
        out[:, 2 * k_ + 3 + j] -= sum(theta[:, k] * row_vals[:, pair[j][k]] for k in range(k_))
    return out


def r_loss(row_vals: np.ndarray, theta: np.ndarray, n_offers: int) -> np.ndarray:
    """Each row's w·(Ỹ − W̃ᵀθ)² less w·Ỹ² (which does not depend on θ)."""
    k_ = n_offers
    loss = -2.0 * (row_vals[:, 2 * k_ + 3 : 3 * k_ + 3] * theta).sum(axis=1)
    pair = _pair_columns(k_)
    for j in range(k_):
        for k in range(k_):
            loss += theta[:, j] * theta[:, k] * row_vals[:, pair[j][k]]
    return loss


def _pair_columns(n_offers: int) -> list[list[int]]:
    """Column of w·W̃_j·W̃_k for every (j, k), both orders."""
    column = 3 * n_offers + 3
    pair = [[0] * n_offers for _ in range(n_offers)]
    for j in range(n_offers):
        for k in range(j, n_offers):
            pair[j][k] = pair[k][j] = column
            column += 1
    return pair


def _t_statistic(change: np.ndarray) -> float:
    """Mean over standard error of per-row loss changes; 0 when there are too few to tell."""
    if change.size < 100:
        return 0.0
    spread = float(change.std(ddof=1))
    if spread == 0.0:
        return 0.0
    return float(change.mean()) / (spread / math.sqrt(change.size))
