"""The multi-offer Qini curve over budget: the knapsack's path, valued doubly robust, paired."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from uplift_engine.errors import DataError
from uplift_engine.evaluate.budget_curve import budget_curve, hull_path


def test_at_every_breakpoint_the_path_is_the_best_allocation_of_its_budget() -> None:
    rng = np.random.default_rng(4)
    for _ in range(5):
        n, k = 6, 3
        reward = rng.normal(1.0, 1.0, (n, k))
        cost = rng.uniform(0.5, 3.0, (n, k))
        path = hull_path(reward, cost)
        best: dict[float, float] = {}
        choices = list(itertools.product(range(k + 1), repeat=n))
        spends = [sum(cost[i, a - 1] for i, a in enumerate(c) if a) for c in choices]
        gains = [sum(reward[i, a - 1] for i, a in enumerate(c) if a) for c in choices]
        for budget in path.spend:
            arms = path.arms_at(budget)
            mine = sum(reward[i, a - 1] for i, a in enumerate(arms) if a)
            spent = sum(cost[i, a - 1] for i, a in enumerate(arms) if a)
            assert spent == pytest.approx(budget)
            best[budget] = max(g for g, s in zip(gains, spends, strict=True) if s <= budget + 1e-9)
            assert mine == pytest.approx(best[budget])  # the LP is integral at its breakpoints


def test_the_curve_is_the_allocations_doubly_robust_gain_and_pairs_with_a_baseline() -> None:
    rng = np.random.default_rng(1)
    n, k = 20_000, 3
    reward = rng.normal(0.2, 1.0, (n, k))
    cost = rng.uniform(1.0, 4.0, (n, k))
    gamma = np.column_stack([np.zeros(n), reward + rng.normal(0, 3.0, (n, k))])
    near = reward + rng.normal(0, 0.1, (n, k))  # a baseline model that mostly agrees
    curve = budget_curve(reward, cost, gamma, points=6, baseline=(near, cost))
    assert curve[0].gain.value == 0 and curve[0].spend == 0
    top = curve[-1]
    arms = hull_path(reward, cost).arms_at(top.budget)
    assert top.gain.value == pytest.approx(gamma[np.arange(n), arms].sum())
    gains = [p.gain.value for p in curve]
    assert gains == sorted(gains)  # more budget, more gain (rewards are the scores' means)
    for point in curve[1:]:
        assert point.spend <= point.budget + 1e-9
        unpaired = np.hypot(point.gain.high - point.gain.value,
                            point.baseline.high - point.baseline.value)  # fmt: skip
        assert point.difference.high - point.difference.value < 0.5 * unpaired
    with pytest.raises(DataError, match="positive"):
        hull_path(reward, np.zeros((n, k)))
