"""Forests: the array evaluator, causalml's criteria, the uplift forest, the causal forest's
confidence intervals, and forest bundles that score without the training stack."""

from __future__ import annotations

import io
import json
import math
import shutil

import numpy as np
import pyarrow as pa
import pytest

from isolation import TRAINING_STACK, run_without
from synthetic import make_campaign, save_bundle
from uplift_engine.errors import BundleError, ConfigError
from uplift_engine.learn import load_bundle
from uplift_engine.learn.bundle import sha256
from uplift_engine.learn.data import fit_encoder
from uplift_engine.learn.data.scoring import score_table
from uplift_engine.learn.graph import IntervalSpec, ScoringGraph, Term
from uplift_engine.learn.little_bags import bayes_debias
from uplift_engine.learn.training import BoosterParams
from uplift_engine.learn.training.forest import CausalForest, UpliftForest
from uplift_engine.learn.training.forest.binning import fit_bins
from uplift_engine.learn.training.forest.builder import GrownTree, GrowSpec, assemble, grow
from uplift_engine.learn.training.forest.criteria import (
    CAUSAL,
    KL,
    causal_gain,
    causal_map_size,
    causal_slots,
    causal_split_map,
    causal_theta,
    divergence,
    kl_divergence,
    norm_i,
)
from uplift_engine.learn.training.forest.honest import (
    DEEP_SPLIT_ROWS,
    HonestSettings,
    causal_values,
    grow_honest_forest,
)
from uplift_engine.learn.training.forest.leaves import causal_leaf_values, route_stats
from uplift_engine.learn.tree_ensemble import TreeEnsemble

FAST = BoosterParams(n_estimators=100, learning_rate=0.1, threads=2)


# --------------------------------------------------------------------------- the evaluator
def _two_trees() -> TreeEnsemble:
    """Tree 0: x0 ≤ 0.5 ? (x1 ≤ −1 ? a : b) : c.  Tree 1: level of x2 in {0, 2} ? d : e."""
    masks = np.zeros((1, 256), dtype=bool)
    masks[0, [1, 3]] = True  # bins of levels 0 and 2 go left
    nan = np.nan
    return TreeEnsemble(
        {
            "feature": np.array([0, 1, -1, -1, -1, 2, -1, -1]),
            "threshold": np.array([0.5, -1.0, nan, nan, nan, nan, nan, nan]),
            "left": np.array([1, 3, -1, -1, -1, 6, -1, -1]),
            "right": np.array([2, 4, -1, -1, -1, 7, -1, -1]),
            "cat_index": np.array([-1, -1, -1, -1, -1, 0, -1, -1]),
            "cat_masks": masks,
            "values": np.array([[0, 0], [0, 0], [10, 1], [20, 2], [30, 3], [0, 0], [1, 5], [2, 7]]),
            "roots": np.array([0, 5]),
        }
    )


@pytest.mark.parametrize(
    ("row", "leaves", "outputs"),
    [
        ([0.0, -2.0, 0.0], [3, 6], [10.5, 3.5]),
        ([0.0, 0.0, 2.0], [4, 6], [15.5, 4.0]),
        ([1.0, -5.0, 1.0], [2, 7], [6.0, 4.0]),
        ([np.nan, np.nan, np.nan], [3, 7], [11.0, 4.5]),  # missing goes left, unknown level right
        ([0.5, -1.0, 7.0], [3, 7], [11.0, 4.5]),  # thresholds are inclusive on the left
    ],
    ids=["left-left", "left-right", "right", "missing", "on-threshold-unseen-level"],
)
def test_ensemble_walks_numeric_categorical_and_missing(row, leaves, outputs):
    ensemble = _two_trees()
    X = np.array([row])
    np.testing.assert_array_equal(ensemble.leaf_indices(X)[0], leaves)
    np.testing.assert_allclose(ensemble.predict(X)[0], outputs)


def test_ensemble_batches_and_threads_agree():
    ensemble = _two_trees()
    X = np.random.default_rng(0).normal(size=(70_000, 3))
    X[::7, 0] = np.nan
    X[:, 2] = np.round(np.abs(X[:, 2]) * 2)
    single = TreeEnsemble(ensemble.arrays(), threads=1).predict(X)
    np.testing.assert_array_equal(ensemble.predict(X), single)
    reference = np.array([_walk(ensemble, x) for x in X[:2000]])
    np.testing.assert_array_equal(ensemble.leaf_indices(X[:2000]), reference)


def _walk(ensemble: TreeEnsemble, x: np.ndarray) -> list[int]:
    """A plain Python traversal, the definition the vectorised one must match."""
    out = []
    for root in ensemble.roots:
        node = int(root)
        while ensemble.feature[node] >= 0:
            v = x[ensemble.feature[node]]
            cat = ensemble.cat_index[node]
            if cat >= 0:
                code = int(v) + 1 if np.isfinite(v) and 0 <= v < 255 else 0
                left = bool(ensemble.cat_masks[cat, code])
            else:
                left = not v > ensemble.threshold[node]
            node = int(ensemble.left[node] if left else ensemble.right[node])
        out.append(node)
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"left": np.array([0, 3, -1, -1, -1, 6, -1, -1])}, "children must follow their parent"),
        ({"right": np.array([2, 4, -1, -1, -1, 9, -1, -1])}, "children must follow their parent"),
        ({"roots": np.array([1, 5])}, "roots must start at 0"),
        ({"values": np.zeros((7, 2))}, "values must have shape"),
        ({"cat_index": np.array([-1, -1, -1, -1, -1, 4, -1, -1])}, "outside cat_masks"),
    ],
    ids=["cycle", "out-of-tree", "roots", "values", "mask"],
)
def test_corrupt_ensemble_is_refused(change, message):
    arrays = _two_trees().arrays() | change
    with pytest.raises(ValueError, match=message):
        TreeEnsemble(arrays)


# ------------------------------------------------------------------------ the criteria
def test_kl_and_normalisation_follow_causalml():
    assert kl_divergence(0.3, 0.2) == pytest.approx(
        0.3 * math.log(0.3 / 0.2) + 0.7 * math.log(0.7 / 0.8)
    )
    assert kl_divergence(0.4, 0.0) == 0.0  # causalml: no divergence from an empty control
    assert kl_divergence(1.0, 0.5) == pytest.approx(-math.log(0.5))
    assert kl_divergence(0.0, 1.0) == pytest.approx(-math.log(1e-6))  # q clipped to 1 − 1e-6
    assert divergence(KL, np.array([0.2, 0.3, 0.1])) == pytest.approx(
        kl_divergence(0.3, 0.2) + kl_divergence(0.1, 0.2)
    )
    # one offer, every arm sent left in the same share: causalml's parts 1 and 2 coincide
    current = np.array([100, 100, 10, 50, 50, 10], dtype=float)
    left = current / 2
    pt, pc = 25 / 50.1, 50 / 100.1
    h_split = -(50 / 150) * math.log(100 / 150)
    expected = (0.9 + 0.1) * h_split * kl_divergence(pt, pc)
    expected += (50 / 150) * -pt * math.log(pt) + (100 / 150) * -pc * math.log(pc) + 0.5
    assert norm_i(current, left) == pytest.approx(expected, rel=1e-9)


def test_causal_gain_prefers_the_split_that_separates_effects():
    rng = np.random.default_rng(0)
    n = 4000
    w = rng.integers(0, 2, n).astype(float)
    x = rng.random(n)
    w_res = w - 0.5
    y_res = np.where(x < 0.5, 0.4, -0.4) * w_res + rng.normal(0, 0.1, n)

    def stats(rows):
        return np.array(
            [
                (1 - w)[rows].sum(),
                w[rows].sum(),
                rows.sum(),
                w_res[rows].sum(),
                y_res[rows].sum(),
                (w_res * y_res)[rows].sum(),
                (w_res**2)[rows].sum(),
            ]
        )

    total = stats(np.ones(n, bool))
    mat, theta, node_map = np.zeros((1, 1)), np.zeros(1), np.zeros(causal_map_size(1))
    assert causal_split_map(total, 1, mat, theta, node_map)
    good = causal_gain(total, stats(x < 0.5), 1, node_map, theta)
    bad = causal_gain(total, stats(x < 0.2), 1, node_map, theta)
    assert good > 2 * bad > 0


def test_causal_statistics_of_several_offers_solve_to_each_offers_effect():
    # Three offers, effects 0.3, −0.2 and 0 on one side of x = 0.5 and their negatives on the
    # other: the node's solve recovers each, and the split at 0.5 has the larger gain.
    rng = np.random.default_rng(1)
    n = 40_000
    arm = rng.integers(0, 4, n)
    x = rng.random(n)
    e = np.full((n, 3), 0.25)
    w_res = (arm[:, None] == np.arange(1, 4)).astype(float) - e
    sign = np.where(x < 0.5, 1.0, -1.0)
    tau = np.array([0.3, -0.2, 0.0])
    y_res = (w_res * tau).sum(axis=1) * sign + rng.normal(0, 0.1, n)
    vals = causal_values(n, np.arange(n), arm, w_res, y_res, np.ones(n))
    assert vals.shape == (n, causal_slots(3)) == (n, 18)
    mat, theta = np.zeros((3, 3)), np.zeros(3)
    assert causal_theta(vals[x < 0.5].sum(axis=0), 3, mat, theta)
    np.testing.assert_allclose(theta, tau, atol=0.01)
    assert causal_theta(vals[x >= 0.5].sum(axis=0), 3, mat, theta)
    np.testing.assert_allclose(theta, -tau, atol=0.01)
    total = vals.sum(axis=0)
    node_map = np.zeros(causal_map_size(3))
    assert causal_split_map(total, 3, mat, theta, node_map)
    good = causal_gain(total, vals[x < 0.5].sum(0), 3, node_map, theta)
    bad = causal_gain(total, vals[x < 0.2].sum(0), 3, node_map, theta)
    assert good > 2 * bad > 0
    # An arm missing from a node leaves its system singular: the node is not split.
    no_arm_3 = vals[arm != 3].sum(axis=0)
    assert not causal_theta(no_arm_3, 3, mat, theta)
    assert not causal_split_map(no_arm_3, 3, mat, theta, node_map)
    # A child without weight has no gain.
    assert causal_gain(total, np.zeros_like(total), 3, node_map, theta) == -1.0


def test_causal_gain_is_grfs_gradient_criterion_row_by_row():
    # Two offers, propensities and weights that vary by row: the compiled gain equals
    # ‖Σ_left w·ρ‖²·(1/Σw_left + 1/Σw_right) with each row's pseudo-outcome written out,
    # ρ_i = A⁻¹(W̃_i − W̄)(Ỹ_i − Ȳ − (W̃_i − W̄)ᵀθ); the pseudo-outcomes sum to zero over the
    # node; and for a split whose children's effects differ little from the node's, the gain
    # is within 15% of the exact Σ_children Σw·‖θ_c − θ‖² it approximates.
    rng = np.random.default_rng(7)
    n = 20_000
    x = rng.random(n)
    e = np.column_stack([0.2 + 0.2 * x, 0.3 - 0.1 * x])
    arm = (rng.random(n)[:, None] > np.cumsum(np.column_stack([1 - e.sum(1), e]), 1)).sum(1)
    w_res = (arm[:, None] == np.arange(1, 3)).astype(float) - e
    tau = np.column_stack([0.1 + 0.05 * x, -0.05 + 0.02 * x])
    y_res = (w_res * tau).sum(axis=1) + rng.normal(0, 0.5, n)
    weight = rng.uniform(0.5, 2.0, n)
    vals = causal_values(n, np.arange(n), arm, w_res, y_res, weight)
    total = vals.sum(axis=0)
    mat, theta, node_map = np.zeros((2, 2)), np.zeros(2), np.zeros(causal_map_size(2))
    assert causal_split_map(total, 2, mat, theta, node_map)

    def solve(rows):
        sw = weight[rows].sum()
        w_bar = (weight[rows, None] * w_res[rows]).sum(0) / sw
        y_bar = (weight[rows] * y_res[rows]).sum() / sw
        dw = w_res[rows] - w_bar
        a = (weight[rows, None, None] * dw[:, :, None] * dw[:, None, :]).sum(0) / sw
        moment = (weight[rows, None] * dw * (y_res[rows] - y_bar)[:, None]).sum(0) / sw
        th = np.linalg.solve(a, moment)
        return th, w_bar, y_bar, a

    th, w_bar, y_bar, a = solve(np.arange(n))
    dw = w_res - w_bar
    rho = np.linalg.solve(a, (dw * (y_res - y_bar - dw @ th)[:, None]).T).T
    np.testing.assert_allclose((weight[:, None] * rho).sum(0), 0.0, atol=1e-8 * n)
    left = x < 0.3
    expected = ((weight[left, None] * rho[left]).sum(0) ** 2).sum() * (
        1 / weight[left].sum() + 1 / weight[~left].sum()
    )
    gain = causal_gain(total, vals[left].sum(0), 2, node_map, theta)
    assert gain == pytest.approx(expected, rel=1e-9)
    exact = sum(
        weight[rows].sum() * ((solve(rows)[0] - th) ** 2).sum()
        for rows in (np.flatnonzero(left), np.flatnonzero(~left))
    )
    assert gain == pytest.approx(exact, rel=0.15)


# ------------------------------------------------------------------- the uplift forest
@pytest.fixture(scope="module")
def binary():
    return make_campaign(n=20_000, seed=11)


@pytest.mark.parametrize("criterion", ["KL", "ED", "Chi", "DDP"], ids=str)
def test_uplift_forest_criteria_recover_effects(criterion, binary):
    # large leaves: DDP, unnormalised, otherwise prefers noisy end-cuts (as causalml's does)
    model = UpliftForest(
        params=FAST, seed=0, n_trees=30, criterion=criterion, min_samples_leaf=1000
    ).fit(binary.X, binary.treatment, binary.y, categorical=[5])
    effects = model.predict(binary.X)
    for k in range(2):
        corr = np.corrcoef(effects[:, k], binary.true_effects[:, k])[0, 1]
        assert corr > 0.5, f"{criterion}, offer {k + 1}: correlation {corr:.2f}"
    levels = model.predict_outcomes(binary.X[:100])
    assert levels.shape == (100, 3) and ((levels >= 0) & (levels <= 1)).all()


def test_uplift_forest_continuous_outcome_uses_squared_difference():
    data = make_campaign(n=10_000, seed=3, kind="continuous")
    model = UpliftForest(params=FAST, seed=0, n_trees=30).fit(data.X, data.treatment, data.y)
    assert model.get_params()["criterion"] == "auto"
    effects = model.predict(data.X)
    assert np.corrcoef(effects[:, 0], data.true_effects[:, 0])[0, 1] > 0.6
    assert np.abs(effects.mean(axis=0) - data.true_effects.mean(axis=0)).max() < 1.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"criterion": "KL"}, "needs a binary"),
        ({"criterion": "gini"}, "must be auto or one of KL, ED, Chi, DDP, SD"),
        ({"max_depth": 0}, "max_depth is out of range"),
    ],
    ids=["binary-only", "unknown", "depth"],
)
def test_uplift_forest_settings_are_checked(kwargs, message):
    data = make_campaign(n=2_000, seed=3, kind="continuous")
    with pytest.raises(ConfigError, match=message):
        UpliftForest(**kwargs).fit(data.X, data.treatment, data.y)


def test_forest_is_the_same_on_one_or_two_threads(binary):
    def fit(threads):
        params = BoosterParams(threads=threads)
        return UpliftForest(params=params, seed=5, n_trees=12).fit(
            binary.X, binary.treatment, binary.y, categorical=[5]
        )

    np.testing.assert_array_equal(fit(1).predict(binary.X[:500]), fit(2).predict(binary.X[:500]))


def test_categorical_effects_are_found():
    rng = np.random.default_rng(4)
    n = 20_000
    X = np.column_stack([rng.integers(0, 6, n).astype(float), rng.normal(size=n)])
    treatment = rng.integers(0, 2, n)
    uplift = np.where(np.isin(X[:, 0], [1, 4]), 0.25, 0.0)
    y = (rng.random(n) < 0.2 + uplift * treatment).astype(float)
    model = UpliftForest(params=FAST, seed=0, n_trees=20, max_depth=3).fit(
        X, treatment, y, categorical=[0]
    )
    effects = model.predict(np.column_stack([np.arange(6.0), np.zeros(6)]))[:, 0]
    assert effects[[1, 4]].min() > 0.15 > 0.08 > np.abs(effects[[0, 2, 3, 5]]).max()


def test_binned_training_routes_rows_as_the_array_evaluator_does():
    rng = np.random.default_rng(2)
    n = 5_000
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 5, n), rng.exponential(size=n)])
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.1, 1] = np.nan
    w = rng.integers(0, 2, n).astype(float)
    effect = X[:, 2] + (X[:, 1] == 2) + np.nan_to_num(X[:, 0]) ** 2
    y = effect * w + rng.normal(size=n) * 0.1
    binning = fit_bins(X, [1], max_bins=32)
    vals = np.column_stack([1 - w, w, np.ones(n), w - 0.5, y, (w - 0.5) * y, 0.25 * w**0])
    offset = np.zeros(n, dtype=np.int64)
    spec = GrowSpec(
        kind=CAUSAL,
        slots=causal_slots(1),
        n_arms=2,
        max_depth=6,
        min_leaf=20,
        min_arm=2,
        max_features=3,
    )
    trees, counts = [], []
    for seed in range(3):
        rows = np.sort(rng.choice(n, n // 2, replace=False))
        feature, thr, left, right, cat_row, masks, _ = grow(spec, binning, rows, offset, vals, seed)
        others = np.setdiff1d(np.arange(n), rows)
        stats = route_stats(
            binning.bins,
            others,
            offset,
            vals,
            feature,
            thr,
            left,
            right,
            cat_row,
            masks,
            causal_slots(1),
        )
        values = causal_leaf_values(stats, left, right, 1, 1)
        trees.append(GrownTree(feature, thr, left, right, cat_row, masks, values))
        counts.append((others, stats[:, 0] + stats[:, 1]))
    ensemble = assemble(trees, binning, combine="mean")
    assert (ensemble.cat_index >= 0).any() and (ensemble.feature == 0).any()
    for t, (others, node_counts) in enumerate(counts):
        leaves = ensemble.leaf_indices(X[others])[:, t] - ensemble.roots[t]
        by_leaf = np.bincount(leaves, minlength=node_counts.size)
        is_leaf = trees[t].feature < 0
        np.testing.assert_array_equal(by_leaf[is_leaf], node_counts[is_leaf])


# ------------------------------------------------------------------- the causal forest
# One forest for both offers (the default) or one per offer: measured on this campaign (training
# seed 41, test seed 22, learner seed 3), coverage and PEHE as asserted either way.
@pytest.mark.parametrize("joint_arms", [True, False], ids=["joint", "per-offer"])
def test_causal_forest_intervals_cover_the_true_effect(joint_arms):
    data = make_campaign(n=20_000, seed=41)
    model = CausalForest(params=FAST, seed=3, joint_arms=joint_arms).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    assert set(model.export().ensembles) == ({"cf"} if joint_arms else {"cf_1", "cf_2"})
    test = make_campaign(n=5_000, seed=22)
    lower, upper = model.predict_interval(test.X)
    effects = model.predict(test.X)
    assert np.all(lower <= effects + 1e-12) and np.all(effects <= upper + 1e-12)
    for k in range(2):
        truth = test.true_effects[:, k]
        coverage = np.mean((lower[:, k] <= truth) & (truth <= upper[:, k]))
        pehe = np.sqrt(np.mean((effects[:, k] - truth) ** 2))
        assert 0.85 <= coverage <= 0.95, f"offer {k + 1}: 90% intervals cover {coverage:.3f}"
        assert pehe < 0.05, f"offer {k + 1}: PEHE {pehe:.3f}"


@pytest.mark.parametrize(
    ("rows", "deepest"), [(4 * DEEP_SPLIT_ROWS - 8, 14), (4 * DEEP_SPLIT_ROWS, 18)]
)
def test_honest_trees_grow_deeper_from_the_large_data_size(rows, deepest):
    # max_depth=None: 14 levels below DEEP_SPLIT_ROWS splitting rows a tree (a quarter of the
    # forest's rows at sample_fraction 0.5), 18 from there; leaves of 1/8000 of them, at least 10.
    rng = np.random.default_rng(0)
    X = rng.random((rows, 3))
    arm = rng.integers(0, 2, rows)
    w_res = arm - 0.5
    y_res = np.sin(40 * X[:, 0]) * np.cos(40 * X[:, 1]) * w_res + rng.normal(0, 0.1, rows)
    vals = causal_values(rows, np.arange(rows), arm, w_res, y_res, np.ones(rows))
    settings = HonestSettings(
        n_trees=2, group_size=2, min_samples_leaf=None, min_samples_treatment=2,
        max_depth=None, max_features=None, sample_fraction=0.5, interval_level=0.9, max_bins=255,
    )
    forest = grow_honest_forest(
        CAUSAL, settings, fit_bins(X, []), np.arange(rows), vals, seed=0, stream=0,
        threads=2,
    )
    assert int(forest._depth.max()) == deepest


def _confounded(n: int, seed: int, offers: int):
    """Assignment driven by x0, which also drives the outcome: a naive contrast is biased."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    tilt = [(0.8 if k % 2 else -0.8) * X[:, 0] for k in range(1, offers + 1)]
    e = np.exp(np.column_stack([np.zeros(n), *tilt]))
    e /= e.sum(axis=1, keepdims=True)
    arm = (rng.random(n)[:, None] > np.cumsum(e, axis=1)).sum(axis=1)
    tau = np.column_stack([1.0 + (X[:, 1] > 0), -0.5 * np.tanh(X[:, 2])][:offers])
    levels = np.column_stack([np.zeros(n), tau])
    y = 2 * X[:, 0] + levels[np.arange(n), arm] + rng.normal(size=n)
    return X, arm, y, e, tau


# Measured (seeds 0–2): coverage 0.91–0.92 with one offer, 0.87–0.91 with two; mean error
# within ±0.04 of the truth, where the naive contrast is off by 1.1–1.4.
@pytest.mark.parametrize("offers", [1, 2])
def test_causal_forest_with_estimated_propensities_removes_confounding(offers):
    X, arm, y, e, tau = _confounded(20_000, 0, offers)
    X_test, _, _, _, truth = _confounded(5_000, 100, offers)
    model = CausalForest(params=FAST, seed=0).fit(X, arm, y, propensity=e[np.arange(y.size), arm])
    lower, upper = model.predict_interval(X_test)
    effects = model.predict(X_test)
    for k in range(offers):
        naive = y[arm == k + 1].mean() - y[arm == 0].mean() - tau[:, k].mean()
        coverage = np.mean((lower[:, k] <= truth[:, k]) & (truth[:, k] <= upper[:, k]))
        assert abs(naive) > 1.0
        assert abs((effects[:, k] - truth[:, k]).mean()) < 0.05
        assert 0.85 <= coverage <= 0.95, f"offer {k + 1}: 90% intervals cover {coverage:.3f}"


def test_joint_causal_ensemble_variance_is_the_little_bag_variance_of_each_offer():
    # The ensemble's vectorised solve and influence against a row-by-row reference with
    # explicit matrices: θ = J⁻¹(M_wy − M_w·M_y), ψ_b = (s_wy − M_w·s_y − M_y·s_w + M_w·M_y)
    # − (S_ww − M_w·s_wᵀ − s_w·M_wᵀ + M_w·M_wᵀ)·θ, variance of the bag means of J⁻¹ψ_b,
    # Bayes-debiased, plus the Monte Carlo variance of the mean of the bags.
    data = make_campaign(n=6_000, seed=5)
    model = CausalForest(params=FAST, seed=1, n_trees=20, group_size=4).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    ensemble = model.export().ensembles["cf"]
    assert ensemble.n_outputs == 2 and ensemble.values.shape[1] == 8
    X = make_campaign(n=40, seed=6).X
    theta, variance = ensemble.predict_variance(X)
    leaves = ensemble.leaf_indices(X)
    for i in range(X.shape[0]):
        s = ensemble.values[leaves[i]]  # trees × 8: W̃1, W̃2, Ỹ, W̃1Ỹ, W̃2Ỹ, W̃1², W̃1W̃2, W̃2²
        w, y, wy = s[:, :2], s[:, 2], s[:, 3:5]
        ww = np.stack([[s[:, 5], s[:, 6]], [s[:, 6], s[:, 7]]]).transpose(2, 0, 1)
        mw, my, mwy, mww = w.mean(0), y.mean(), wy.mean(0), ww.mean(0)
        jac = mww - np.outer(mw, mw)
        expected = np.linalg.solve(jac, mwy - mw * my)
        np.testing.assert_allclose(theta[i], expected, rtol=1e-8, atol=1e-12)
        phi = []
        for b in range(ensemble.n_trees):
            psi = wy[b] - mw * y[b] - my * w[b] + mw * my
            psi -= (ww[b] - np.outer(mw, w[b]) - np.outer(w[b], mw) + np.outer(mw, mw)) @ expected
            phi.append(np.linalg.solve(jac, psi))
        phi = np.array(phi).reshape(5, 4, 2)  # bags × trees in a bag × offers
        between = (phi.mean(axis=1) ** 2).mean(axis=0)
        total = (phi**2).mean(axis=(0, 1))
        spread = between * 5 / 4  # 5 bags' means vary around their own mean
        reference = bayes_debias(spread, (total - between) / 3, 5) + spread / 5
        np.testing.assert_allclose(variance[i], reference, rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trees": 30, "group_size": 8}, "n_trees is out of range"),
        ({"group_size": 1}, "group_size is out of range"),
        ({"sample_fraction": 0.7}, "sample_fraction is out of range"),
        ({"boost_trees": 30}, "boost_trees is out of range"),
    ],
    ids=["whole-groups", "group", "fraction", "whole-correcting-groups"],
)
def test_causal_forest_settings_are_checked(kwargs, message):
    data = make_campaign(n=2_000, seed=3)
    with pytest.raises(ConfigError, match=message):
        CausalForest(**kwargs).fit(data.X, data.treatment, data.y)


# ----------------------------------------------------------------------------- bundles
@pytest.fixture(scope="module")
def forest_bundles(tmp_path_factory):
    data = make_campaign(n=8_000, seed=5)
    table = pa.table({f"x{j}": data.X[:, j] for j in range(5)})
    table = table.append_column(
        "tier", pa.array(np.array(["a", "b", "c", "d"])[data.X[:, 5].astype(int)])
    )
    encoder = fit_encoder(table, table.column_names)
    X = encoder.transform({n: table.column(n) for n in encoder.names})
    models = {
        "uplift_forest": UpliftForest(params=FAST, seed=1, n_trees=20),
        "causal_forest": CausalForest(params=FAST, seed=1, n_trees=40),
    }
    out = {}
    for name, model in models.items():
        model.fit(X, data.treatment, data.y, categorical=encoder.categorical_indices)
        folder = tmp_path_factory.mktemp("bundles") / name
        save_bundle(model, encoder, folder)
        out[name] = (model, folder)
    return table, X, out


@pytest.mark.parametrize("name", ["uplift_forest", "causal_forest"])
def test_forest_bundle_reproduces_predictions(name, forest_bundles):
    table, X, models = forest_bundles
    model, folder = models[name]
    bundle = load_bundle(folder)
    columns = {n: table.column(n) for n in bundle.encoder.names}
    np.testing.assert_allclose(
        bundle.predict_levels(columns), model.predict_outcomes(X), rtol=0, atol=1e-12
    )
    assert all(p.suffix in {".json", ".sha256", ".txt", ".npy"} for p in folder.rglob("*.*"))


def test_causal_forest_bundle_scores_intervals(forest_bundles):
    table, X, models = forest_bundles
    model, folder = models["causal_forest"]
    bundle = load_bundle(folder)
    assert bundle.manifest["intervals"] == {"level": 0.9, "kind": "confidence"}
    scores, meta = score_table(bundle, table)
    assert (meta.interval_level, meta.interval_kind) == (0.9, "confidence")
    lower, upper = model.predict_interval(X)
    for k, offer in enumerate(["cash", "fee"]):
        np.testing.assert_allclose(scores.column(f"uplift_{offer}_lower").to_numpy(), lower[:, k])
        np.testing.assert_allclose(scores.column(f"uplift_{offer}_upper").to_numpy(), upper[:, k])
    assert scores.column_names[4:7] == ["uplift_cash", "uplift_cash_lower", "uplift_cash_upper"]


def test_uplift_forest_scores_have_no_interval_columns(forest_bundles):
    table, _, models = forest_bundles
    scores, meta = score_table(load_bundle(models["uplift_forest"][1]), table)
    assert meta.interval_level is None and meta.interval_kind is None
    assert not any(c.endswith(("_lower", "_upper")) for c in scores.column_names)


def _rewrite(folder, path, data):
    """Replace a bundle file and re-sign it, as an attacker with write access could."""
    (folder / path).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][path] = sha256(data)
    text = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (folder / "manifest.json").write_bytes(text)
    (folder / "manifest.sha256").write_text(sha256(text) + "\n")


def test_tampered_or_pickled_arrays_are_refused(forest_bundles, tmp_path):
    source = forest_bundles[2]["uplift_forest"][1]
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    path = "models/uplift_forest/values.npy"
    (copy / path).write_bytes((copy / path).read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(BundleError, match=r"values\.npy does not match its checksum"):
        load_bundle(copy)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    _rewrite(copy, path, buffer.getvalue())
    with pytest.raises(BundleError, match="without pickled objects"):
        load_bundle(copy)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 3)))
    _rewrite(copy, path, buffer.getvalue())
    with pytest.raises(BundleError, match="manifest is incomplete: tree ensemble values"):
        load_bundle(copy)


def test_graph_refuses_terms_that_read_missing_outputs():
    ensemble = _two_trees()
    levels = [[Term("f", output=0)], [Term("f", output=2)]]
    manifest = ScoringGraph({}, levels, ensembles={"f": ensemble}).to_manifest()
    with pytest.raises(ValueError, match="reads output 2"):
        ScoringGraph.from_manifest(manifest, {}, ensemble_arrays={"f": ensemble.arrays()})


@pytest.mark.parametrize(
    ("bias", "message"),
    [
        ([[Term("g")]], "bias bounds must come from tree ensembles"),
        ([[Term("f")], [Term("f")]], "one bias bound per offer"),
    ],
)
def test_graph_refuses_bias_bounds_it_cannot_read(bias, message):
    ensemble = _two_trees()
    intervals = IntervalSpec([[Term("f", output=1)]], bias=bias)
    levels = [[Term("f")], [Term("f", output=1)]]
    graph = ScoringGraph({}, levels, ensembles={"f": ensemble}, intervals=intervals)
    with pytest.raises(ValueError, match=message):
        ScoringGraph.from_manifest(
            graph.to_manifest(), {"g": "text"}, ensemble_arrays={"f": ensemble.arrays()}
        )


@pytest.mark.parametrize("name", ["uplift_forest", "causal_forest"])
def test_forest_scoring_needs_no_training_stack(name, forest_bundles):
    """Load and score a forest bundle where pandas, scikit-learn and numba cannot be imported."""
    folder = forest_bundles[2][name][1]
    out = run_without(
        TRAINING_STACK,
        f"""
        from uplift_engine.learn.bundle import load_bundle
        bundle = load_bundle({str(folder)!r})
        row = {{n: [0.5] for n in bundle.encoder.names}} | {{"tier": ["b"]}}
        levels = bundle.predict_levels(row)
        if bundle.intervals:
            _, lower, upper = bundle.predict_levels_and_interval(row)
            assert (lower <= upper).all()
        print(levels.shape)
        """,
    )
    assert out == "(1, 3)"
