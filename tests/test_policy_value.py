"""Policies valued offline on randomised data: unbiased against the truth, paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from uplift_engine.errors import DataError
from uplift_engine.evaluate.doubly_robust import compare, doubly_robust_scores, profit_scores, value

N, ARMS = 4_000, 3


def _world(rng):
    """Features, true conversion probabilities under each arm, and a randomised campaign."""
    x = rng.normal(size=(N, 2))
    base = 1 / (1 + np.exp(-(x[:, 0] - 1)))
    truth = np.column_stack([base, np.clip(base + 0.08 * (x[:, 1] > 0), 0, 1),
                             np.clip(base + 0.05 - 0.1 * (x[:, 0] > 1), 0, 1)])  # fmt: skip
    return x, truth


def _campaign(truth, rng):
    t = rng.choice(ARMS, size=N, p=[0.4, 0.3, 0.3])
    y = (rng.random(N) < truth[np.arange(N), t]).astype(float)
    return t, y


def _levels(x, t, y, fold):
    """Cross-fitted per-arm means within bins of the first feature (a crude outcome model)."""
    bins = np.digitize(x[:, 0], [-1, 0, 1])
    out = np.empty((N, ARMS))
    for f in (0, 1):
        fit, use = fold != f, fold == f
        for a in range(ARMS):
            for b in range(4):
                rows = fit & (t == a) & (bins == b)
                out[use & (bins == b), a] = y[rows].mean() if rows.any() else y[fit].mean()
    return out


def test_the_value_is_unbiased_and_the_paired_difference_narrower() -> None:
    rng = np.random.default_rng(0)
    x, truth = _world(rng)
    policy_a = np.where(x[:, 1] > 0, 1, 0)  # offer 1 where it works
    policy_b = np.where(x[:, 0] < -0.5, 2, policy_a)  # a challenger: offer 2 to some
    true_a = truth[np.arange(N), policy_a].mean()
    true_diff = true_a - truth[np.arange(N), policy_b].mean()
    errors, diffs, paired, unpaired, ipw_se, dr_se = [], [], [], [], [], []
    fold = rng.integers(0, 2, N)
    for _ in range(200):  # campaigns drawn again on the same customers
        t, y = _campaign(truth, rng)
        gamma = doubly_robust_scores(y, t, _levels(x, t, y, fold), np.tile([0.4, 0.3, 0.3], (N, 1)))
        est, se = value(gamma, policy_a)
        errors.append(est.value - true_a)
        dr_se.append(se)
        ipw_se.append(value(doubly_robust_scores(y, t, np.zeros((N, ARMS))), policy_a)[1])
        c = compare(gamma, policy_a, policy_b)
        diffs.append(c.difference.value - true_diff)
        paired.append(c.se_paired)
        unpaired.append(c.se_unpaired)
    mean_error, spread = np.mean(errors), np.std(errors) / np.sqrt(len(errors))
    assert abs(mean_error) < 2 * spread  # unbiased: within 2 standard errors of the mean
    assert abs(np.mean(diffs)) < 2 * np.std(diffs) / np.sqrt(len(diffs))
    # the standard errors are honest (their mean is the spread of the estimates, ±15%)
    assert np.mean(dr_se) == pytest.approx(np.std(errors), rel=0.15)
    assert np.mean(paired) == pytest.approx(np.std(diffs), rel=0.15)
    assert np.mean(paired) < 0.8 * np.mean(unpaired)  # paired: on the customers who differ
    assert np.mean(dr_se) < np.mean(ipw_se)  # the outcome model removes variance


def test_profit_scores_and_bad_policies() -> None:
    gamma = np.array([[0.1, 0.3], [0.2, 0.5]])
    profit = profit_scores(gamma, 50.0, np.array([0.0, 1.0]), np.array([0.0, 10.0]))
    assert profit[0, 0] == pytest.approx(5.0) and profit[0, 1] == pytest.approx(15 - 1 - 3)
    with pytest.raises(DataError, match=r"codes 0\.\.1"):
        value(gamma, np.array([0, 2]))
    with pytest.raises(DataError, match="propensity 0"):
        doubly_robust_scores(np.array([1.0, 0.0]), np.array([0, 1]), gamma,
                             np.array([[1.0, 0.0], [1.0, 0.0]]))  # fmt: skip
