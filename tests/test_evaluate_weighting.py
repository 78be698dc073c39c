"""Inverse-propensity weighted curves on confounded data, where plain sums mislead."""

from __future__ import annotations

import numpy as np
import pytest

from uplift_engine.errors import DataError
from uplift_engine.evaluate import PairCurves, evaluate_uplift, pair_weights


def nie_wager_c(n, seed, *, effect=None):
    """Nie & Wager's setup C: assignment and baseline move together; effect 1 unless given."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    e = 1.0 / (1.0 + np.exp(x[:, 1] + x[:, 2]))
    baseline = 2.0 * np.log1p(np.exp(x[:, 0] + x[:, 1] + x[:, 2]))
    tau = np.ones(n) if effect is None else effect(x)
    t = (rng.uniform(size=n) < e).astype(np.int64)
    y = baseline + (t - 0.5) * tau + rng.normal(size=n)
    return x, t, y, np.column_stack([1.0 - e, e]), tau


def qini(score, t, y, weights=None):
    curves = PairCurves.build(score, t == 1, y, weights=weights)
    return float(curves.stats(None)["qini_coefficient"][0])


def test_weights_undo_a_ranking_by_the_chance_of_treatment():
    # The effect is the same for everyone, so no ranking is better than another. Ranking by
    # the chance of treatment, which falls as the baseline rises, gives the plain Qini a
    # coefficient of 0.28-0.29 (seeds 0-3); the weighted one reads -0.009 to 0.023.
    x, t, y, propensity, _ = nie_wager_c(40_000, seed=0)
    score = -(x[:, 1] + x[:, 2])
    weights = pair_weights(t, propensity, 1)
    plain, weighted = qini(score, t, y), qini(score, t, y, weights)
    assert plain > 0.2
    assert abs(weighted) < 0.04


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_qini_still_finds_a_true_ranking(seed):
    _, t, y, propensity, tau = nie_wager_c(40_000, seed, effect=lambda x: 1.0 + x[:, 0])
    # the true ranking scores 0.138-0.145 weighted (seeds 0-3), about half that plain
    weights = pair_weights(t, propensity, 1)
    good, reverse = qini(tau, t, y, weights), qini(-tau, t, y, weights)
    assert good > 0.12
    assert reverse < -0.12
    assert qini(tau, t, y) < 0.1


def test_weights_are_one_when_everyone_had_the_same_chance():
    rng = np.random.default_rng(3)
    t = rng.choice(3, size=9_000, p=[0.5, 0.3, 0.2])
    shares = np.bincount(t) / t.size
    propensity = np.broadcast_to(shares, (t.size, 3))
    pair = (t == 0) | (t == 2)
    weights = pair_weights(t[pair], propensity[pair], 2)
    np.testing.assert_allclose(weights, 1.0, rtol=1e-12)


def test_a_row_weighs_its_share_over_its_chance_within_the_pair():
    t = np.array([1, 0, 1, 0])
    propensity = np.array([[0.2, 0.2, 0.6], [0.2, 0.2, 0.6], [0.3, 0.1, 0.6], [0.1, 0.3, 0.6]])
    # chances of the arm each row got, given it is in the pair of arm 1 and control:
    # 0.5, 0.5, 0.25, 0.25; each arm has half the rows
    np.testing.assert_allclose(pair_weights(t, propensity, 1), [1.0, 1.0, 2.0, 2.0])


def test_a_zero_chance_of_the_arm_a_row_got_is_refused():
    t = np.array([1, 0])
    propensity = np.array([[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(DataError, match="assigned arm is 0 for 1 row"):
        pair_weights(t, propensity, 1)


def test_evaluate_uplift_weights_its_curves_when_given_propensities():
    x, t, y, propensity, _ = nie_wager_c(20_000, seed=4)
    score = -(x[:, 1] + x[:, 2])[:, None]
    args = (t, y, score, ["offer"])
    plain = evaluate_uplift(*args, n_boot=0).per_offer["offer"].qini_coefficient.value
    weighted = evaluate_uplift(*args, propensity=propensity, n_boot=0)
    value = weighted.per_offer["offer"].qini_coefficient.value
    assert value == pytest.approx(qini(score[:, 0], t, y, pair_weights(t, propensity, 1)))
    assert plain > 0.2 and abs(value) < 0.04
