"""The causal forest's correcting stage: out-of-bag effects, the shifted outcome, the test."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from uplift_engine.learn.graph import ScoringGraph
from uplift_engine.learn.training import BoosterParams
from uplift_engine.learn.training.forest import CausalForest
from uplift_engine.learn.training.forest.binning import fit_bins
from uplift_engine.learn.training.forest.correction import r_loss, shift_outcome
from uplift_engine.learn.training.forest.criteria import CAUSAL
from uplift_engine.learn.training.forest.honest import (
    HonestSettings,
    bag_positions,
    causal_values,
    grow_honest_forest,
    grow_honest_forest_out_of_bag,
)

FAST = BoosterParams(n_estimators=100, learning_rate=0.1, threads=2)


def _kinked(n: int, seed: int):
    """Nie & Wager's setup D: effects with kinks along sums of features, confounded."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    up = np.maximum(0.0, X[:, 0] + X[:, 1] + X[:, 2])
    down = np.maximum(0.0, X[:, 3] + X[:, 4])
    tau = up - down
    e = 1.0 / (1.0 + np.exp(-X[:, 0]) + np.exp(-X[:, 1]))
    arm = (rng.random(n) < e).astype(np.int64)
    y = (up + down) / 2 + (arm - 0.5) * tau + rng.normal(size=n)
    return X, arm, y, np.where(arm == 1, e, 1.0 - e), tau


def _two_offers(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    arm = rng.integers(0, 3, n)
    w_res = np.column_stack([(arm == 1) - 1 / 3, (arm == 2) - 1 / 3])
    y_res = w_res @ np.array([0.5, -0.2]) + X[:, 0] * w_res[:, 0] + rng.normal(size=n)
    return X, arm, w_res, y_res, rng.random(n) + 0.5


def test_out_of_bag_outputs_come_from_the_bags_that_left_the_row_out():
    X, arm, w_res, y_res, weight = _two_offers(3_000, 0)
    rows = np.arange(X.shape[0])
    vals = causal_values(rows.size, rows, arm, w_res, y_res, weight)
    settings = HonestSettings(4, 2, None, 2, None, None, 0.5, 0.9, 255)
    binning = fit_bins(X, [])
    forest, oob = grow_honest_forest_out_of_bag(
        CAUSAL, settings, binning, rows, vals, seed=3, stream=5, threads=2, n_offers=2
    )
    same = grow_honest_forest(
        CAUSAL, settings, binning, rows, vals, seed=3, stream=5, threads=2, n_offers=2
    )
    np.testing.assert_array_equal(forest.values, same.values)  # the same forest either way
    leaves = forest.leaf_indices(X)  # rows × trees
    in_bag = np.zeros((2, rows.size), dtype=bool)
    for g in range(2):
        in_bag[g, bag_positions(rows.size, 3, 5, g)] = True
    means = np.zeros((rows.size, forest.values.shape[1]))
    for i in range(rows.size):
        trees = [t for t in range(4) if not in_bag[t // 2, i]] or list(range(4))
        means[i] = forest.values[leaves[i, trees]].mean(axis=0)
    np.testing.assert_allclose(oob.outputs, forest.outputs_of(means), rtol=1e-10, atol=1e-12)
    # two bags of half the rows each: a quarter of the rows is in both and takes the forest's
    np.testing.assert_array_equal(oob.covered, ~in_bag.all(axis=0))
    assert 0.2 < 1 - oob.covered.mean() < 0.3


def test_the_shifted_outcome_and_the_r_loss_are_those_of_the_residuals():
    X, arm, w_res, y_res, weight = _two_offers(500, 1)
    rows = np.arange(X.shape[0])
    theta = np.random.default_rng(2).normal(size=(rows.size, 2))
    vals = causal_values(rows.size, rows, arm, w_res, y_res, weight)
    shifted_y = y_res - (w_res * theta).sum(axis=1)
    np.testing.assert_allclose(
        shift_outcome(vals, theta, 2),
        causal_values(rows.size, rows, arm, w_res, shifted_y, weight),
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        r_loss(vals, theta, 2), weight * shifted_y**2 - weight * y_res**2, rtol=1e-9, atol=1e-9
    )


# Measured (seeds 0–2, 20,000 training rows, 5,000 test rows): with the correcting forest PEHE
# 0.368–0.377 and coverage 0.86–0.87, without it 0.447–0.460 and 0.68–0.70 (with the correction
# but without its bias bound in the intervals, 0.80–0.81).
def test_the_correcting_forest_is_kept_where_the_forest_is_biased():
    X, arm, y, propensity, _ = _kinked(20_000, 0)
    X_test, _, _, _, truth = _kinked(5_000, 100)
    results = {}
    for boost in (60, 0):
        model = CausalForest(params=FAST, seed=0, boost_trees=boost).fit(
            X, arm, y, propensity=propensity
        )
        lower, upper = model.predict_interval(X_test)
        effect = model.predict(X_test)[:, 0]
        pehe = float(np.sqrt(np.mean((effect - truth) ** 2)))
        coverage = float(np.mean((lower[:, 0] <= truth) & (truth <= upper[:, 0])))
        results[boost] = (set(model.export().ensembles), pehe, coverage)
    assert results[60][0] == {"cf", "cf_boost"} and results[0][0] == {"cf"}
    assert results[60][1] < 0.85 * results[0][1], results
    assert 0.85 <= results[60][2] <= 0.95, results
    assert results[0][2] < 0.75, results  # the smoothing bias the correction finds


def test_a_kept_correction_bounds_the_bias_in_the_intervals():
    # Half-width z·√(variance of both forests + correction²): an interval on the root-mean-square
    # error, with the correction's effect as the bound on the bias it left.
    X, arm, y, propensity, _ = _kinked(8_000, 1)
    model = CausalForest(params=FAST, seed=1).fit(X, arm, y, propensity=propensity)
    graph = model.export()
    assert set(graph.ensembles) == {"cf", "cf_boost"}
    X_test = _kinked(500, 101)[0]
    lower, upper = model.predict_interval(X_test)
    first = graph.ensembles["cf"].predict_variance(X_test)[1][:, 0]
    correction, second = (v[:, 0] for v in graph.ensembles["cf_boost"].predict_variance(X_test))
    half = NormalDist().inv_cdf(0.95) * np.sqrt(first + second + correction**2)
    np.testing.assert_allclose((upper - lower)[:, 0] / 2, half, rtol=1e-9)
    assert float(np.mean(np.abs(correction) / np.sqrt(first + second))) > 0.2
    manifest = graph.to_manifest()  # the bound travels with the bundle
    assert manifest["intervals"]["bias"] == [[{"model": "cf_boost", "weight": 1.0}]]
    arrays = {name: ensemble.arrays() for name, ensemble in graph.ensembles.items()}
    loaded = ScoringGraph.from_manifest(manifest, graph.models, ensemble_arrays=arrays)
    np.testing.assert_allclose(loaded.predict_interval(X_test)[1], upper, rtol=1e-12)


@pytest.mark.parametrize("joint_arms", [True, False], ids=["joint", "per-offer"])
def test_the_correcting_forest_is_dropped_where_the_effect_is_constant(joint_arms):
    # Nie & Wager's setup C: a hard baseline, a constant effect the forest has no bias on.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20_000, 5))
    e = 1.0 / (1.0 + np.exp(X[:, 1] + X[:, 2]))
    arm = (rng.random(X.shape[0]) < e).astype(np.int64)
    y = 2 * np.log1p(np.exp(X[:, 0] + X[:, 1] + X[:, 2])) + (arm - 0.5) + rng.normal(size=arm.size)
    model = CausalForest(params=FAST, seed=1, joint_arms=joint_arms).fit(
        X, arm, y, propensity=np.where(arm == 1, e, 1.0 - e)
    )
    assert set(model.export().ensembles) == ({"cf"} if joint_arms else {"cf_1"})
    assert abs(float(model.predict(X[:2_000]).mean()) - 1.0) < 0.1
