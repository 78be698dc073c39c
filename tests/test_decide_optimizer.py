from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from uplift_engine.decide.planning import budget_frontier
from uplift_engine.decide.planning.baselines import top_k
from uplift_engine.decide.solver import Problem, solve
from uplift_engine.decide.solver.lagrangian import prepare
from uplift_engine.decide.solver.milp import solve_highs
from uplift_engine.decide.solver.problem import build_rows, chosen, tallies
from uplift_engine.errors import ConfigError
from uplift_engine.lake import read_table_and_meta


def instance(n: int, k: int = 3, seed: int = 0, **kw) -> Problem:
    """Profit and cost of k offers for n customers, like a binary campaign's figures."""
    rng = np.random.default_rng(seed)
    p0 = rng.beta(2, 12, n)
    pk = np.clip(p0 + rng.normal(0.03, 0.06, (k, n)), 0, 1)
    value = rng.lognormal(4.5, 0.5, n)
    contact = np.linspace(0.5, 2.0, k)[:, None]
    redemption = np.linspace(5.0, 30.0, k)[:, None]
    profit = pk * (value - redemption) - p0 * value - contact
    cost = contact + redemption * pk
    allowed = rng.random((k, n)) > 0.1
    budget = kw.pop("budget_share", 0.3) * float(np.where(profit > 0, cost, 0).max(0).sum())
    return Problem(profit, cost, allowed, tuple(f"o{j}" for j in range(k)), budget=budget, **kw)


def assert_feasible(problem: Problem, choice: np.ndarray) -> None:
    treated = np.flatnonzero(choice >= 0)
    assert problem.allowed[choice[treated], treated].all()
    spend = chosen(problem.cost, choice).sum()
    assert spend <= problem.budget * (1 + 1e-9)
    for j in range(len(problem.offers)):
        mine = choice == j
        assert mine.sum() <= problem.caps("max_customers")[j]
        assert problem.cost[j, mine].sum() <= problem.caps("max_budget")[j] * (1 + 1e-9)
    if problem.group_names:
        g = problem.group_codes()[treated]
        for s, name in enumerate(problem.group_names):
            share = (g == s).mean() if treated.size else 0.0
            assert problem.min_share[s] - 1e-9 <= share <= problem.max_share[s] + 1e-9, name


def segmented(n: int, seed: int) -> Problem:
    base = instance(n, seed=seed)
    groups = (np.random.default_rng(seed + 1).random(n) * 3).astype(np.int32)
    return replace(
        base,
        groups=groups,
        group_names=("mass", "priority", "young"),
        min_share=(0.0, 0.0, 0.4),
        max_share=(1.0, 0.15, 1.0),
    )


CASES = {
    "budget": lambda: instance(300, seed=1),
    "budget+caps": lambda: instance(
        400, seed=2, max_customers=(20, 1e9, 40), max_budget=(math.inf, 150.0, math.inf)
    ),
    "caps-only": lambda: replace(
        instance(300, seed=3, max_customers=(10, 10, 10)), budget=math.inf
    ),
    "segment-shares": lambda: segmented(300, seed=4),
    "four-offers": lambda: instance(250, k=4, seed=5, budget_share=0.1),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_lagrangian_is_within_its_stated_gap_of_the_exact_milp(case):
    problem = CASES[case]()
    priced = solve(problem, method="lagrangian")
    exact = solve(problem, method="milp", mip_gap=0.0)
    assert exact.certified and exact.gap == pytest.approx(0.0, abs=1e-9)
    assert_feasible(problem, priced.choice)
    assert_feasible(problem, exact.choice)
    # the bound is a true upper bound, and the stated gap covers the distance to the optimum
    assert exact.objective <= priced.bound + 1e-6
    assert exact.objective - priced.objective <= priced.gap * abs(priced.bound) + 1e-6
    assert priced.objective == pytest.approx(chosen(problem.profit, priced.choice).sum())
    assert priced.gap < 0.02  # a few fractional customers out of hundreds


def test_auto_uses_the_exact_milp_on_small_problems_when_the_gap_is_worth_closing():
    problem = CASES["budget+caps"]()
    auto = solve(problem)
    exact = solve(problem, method="milp", mip_gap=0.0)
    assert auto.objective >= exact.objective * (1 - 1e-4)
    assert auto.gap <= 1e-4


def test_large_problem_is_certified_against_the_full_lp_relaxation():
    problem = instance(
        90_000,
        k=4,
        seed=7,
        max_customers=(4_000, 6_000, 1e9, 5_000),
        max_budget=(math.inf, 20_000.0, math.inf, math.inf),
        budget_share=0.2,
    )
    sol = solve(problem, method="lagrangian")
    assert sol.certified and sol.gap <= 1e-4
    assert sol.notes[0].startswith("levels") and "not certified" not in sol.notes[0]
    assert_feasible(problem, sol.choice)
    data, _ = prepare(problem)
    lp = solve_highs(
        data.profit, data.cost, data.profit > -np.inf, data.groups, data.rows, data.rows.rhs
    )
    assert sol.bound == pytest.approx(lp.objective, rel=1e-7)  # the bound is the LP optimum


def test_prices_reproduce_the_plan_customer_by_customer():
    problem = instance(60_000, seed=8, max_customers=(2_000, 1e9, 1e9))
    sol = solve(problem, method="lagrangian")
    rows = build_rows(problem)
    lam = np.array([sol.prices[name] for name in rows.names])
    alpha, beta = rows.prices_to_tables(lam)
    reduced = np.where(
        problem.allowed, problem.profit - alpha[:, :1] * problem.cost - beta[:, :1], -np.inf
    )
    rule = np.where(reduced.max(0) > 0, reduced.argmax(0), -1)
    assert (rule == sol.choice).mean() > 0.999


def test_nothing_allowed_gives_an_empty_plan():
    problem = instance(100, seed=9)
    empty = replace(problem, allowed=np.zeros_like(problem.allowed))
    sol = solve(empty)
    assert (sol.choice == -1).all() and sol.objective == 0 and sol.bound == 0


def test_zero_budget_treats_no_one():
    sol = solve(replace(instance(500, seed=10), budget=0.0))
    assert (sol.choice == -1).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"budget": -5.0}, r"the budget must be a number ≥ 0, got -5"),
        ({"budget": float("nan")}, "the budget must be a number"),
        ({"max_customers": (1, -2, 3)}, "max_customers of offer 'o1' must be ≥ 0"),
        (
            {
                "groups": np.zeros(50, np.int32),
                "group_names": ("a", "b"),
                "min_share": (0.7, 0.6),
                "max_share": (1.0, 1.0),
            },
            "minimum shares add up to 1.3 > 1",
        ),
        (
            {
                "groups": np.zeros(50, np.int32),
                "group_names": ("a", "b"),
                "min_share": (0.0, 0.0),
                "max_share": (0.5, 0.3),
            },
            "maximum shares add up to 0.8 < 1",
        ),
        (
            {
                "groups": np.zeros(50, np.int32),
                "group_names": ("a", "b"),
                "min_share": (0.0, 0.2),
                "max_share": (1.0, 1.0),
            },
            "segment 'b' needs at least 0.2 of the treated customers but has no customer eligible",
        ),
        (
            {
                "groups": np.zeros(50, np.int32),
                "group_names": ("a",),
                "min_share": (0.5,),
                "max_share": (0.2,),
            },
            r"shares must satisfy 0 ≤ min ≤ max ≤ 1",
        ),
    ],
    ids=[
        "negative-budget",
        "nan-budget",
        "negative-cap",
        "mins-over-one",
        "maxes-under-one",
        "empty-min-segment",
        "min-above-max",
    ],
)
def test_contradictory_settings_are_refused(change, message):
    base = instance(50, seed=11)
    with pytest.raises(ConfigError, match=message):
        replace(base, **change)


def test_unknown_method_is_refused():
    with pytest.raises(ConfigError, match="method must be one of auto, milp, lagrangian, got 'cp'"):
        solve(instance(10), method="cp")


def test_top_k_respects_budget_and_caps_and_stops_at_the_first_misfit():
    problem = instance(5_000, seed=12, max_customers=(50, 1e9, 1e9))
    score = problem.profit  # any score
    choice = top_k(problem, score)
    assert_feasible(problem, choice)
    counts, costs = tallies(choice, problem.cost, problem.group_codes(), 3, 1)
    assert counts[0, 0] <= 50 and costs.sum() <= problem.budget
    # top-K leaves money on the table that the optimiser uses
    assert solve(problem).objective > chosen(problem.profit, choice).sum()


def test_frontier_rises_to_the_unconstrained_optimum(tmp_path):
    problem = instance(3_000, seed=13, max_customers=(300, 1e9, 1e9))
    frontier = budget_frontier(problem, points=6)
    profits = [p.profit for p in frontier.points]
    assert frontier.points[0].spend == 0 and profits[0] == 0
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(profits))
    free = solve(replace(problem, budget=math.inf))
    assert frontier.best_profit == pytest.approx(free.objective, rel=1e-6)
    assert frontier.best_budget == pytest.approx(chosen(problem.cost, free.choice).sum())
    marginal = [p.marginal_roi for p in frontier.points[1:]]
    assert marginal[0] >= marginal[-1]  # diminishing returns
    frontier.write(tmp_path / "frontier.csv")
    table, meta = read_table_and_meta(tmp_path / "frontier.csv")  # CSV keeps it in its sidecar
    assert table.num_rows == 6 and b"uplift.frontier/1" in meta
