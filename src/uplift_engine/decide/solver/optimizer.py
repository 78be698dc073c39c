"""Choose the solver: exact MILP where it is small, certified prices (Lagrangian) elsewhere.

Invariant: every method returns a :class:`~.problem.Solution` that satisfies the budget and
every cap exactly (in expectation), with an upper bound from the LP relaxation so the gap is
always stated. ``auto`` runs the price method first (it is fast and gives the prices the
per-request decider needs) and polishes with the MILP only when the instance is small and the
gap is worth closing.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from uplift_engine.decide.solver.lagrangian import finish, prepare, solve_lagrangian, total_profit
from uplift_engine.decide.solver.milp import solve_highs
from uplift_engine.decide.solver.problem import NONE, Problem, Solution
from uplift_engine.errors import ConfigError

METHODS = ("auto", "milp", "lagrangian")
EXACT_MAX_OPTIONS = 50_000  # auto: the MILP for at most this many allowed (customer, offer) pairs
DEFAULT_GAP = 1e-4  # 0.01%


def solve(
    problem: Problem,
    *,
    method: str = "auto",
    mip_gap: float = DEFAULT_GAP,
    time_limit: float = 60.0,
    seed: int = 0,
) -> Solution:
    """Allocate at most one offer per customer to maximise expected incremental profit.

    ``method``: ``"milp"`` (HiGHS branch and bound to ``mip_gap``, within ``time_limit``
    seconds), ``"lagrangian"`` (certified prices, any size), or ``"auto"``.
    """
    if method not in METHODS:
        raise ConfigError(
            f"method must be one of {', '.join(METHODS)}, got {method!r}", field="method"
        )
    started = time.perf_counter()
    priced = solve_lagrangian(problem, seed=seed, time_limit=time_limit)
    n_options = int(problem.allowed.sum())
    if method == "lagrangian" or (
        method == "auto" and (n_options > EXACT_MAX_OPTIONS or priced.gap <= mip_gap)
    ):
        return priced
    exact = _milp(problem, priced, mip_gap=mip_gap, time_limit=time_limit, seed=seed)
    return replace(exact, seconds=time.perf_counter() - started)


def _milp(
    problem: Problem, priced: Solution, *, mip_gap: float, time_limit: float, seed: int
) -> Solution:
    data, active = prepare(problem)
    start = priced.choice[active]
    res = solve_highs(
        data.profit,
        data.cost,
        data.profit > -np.inf,
        data.groups,
        data.rows,
        data.rows.rhs,
        integer=True,
        time_limit=time_limit,
        mip_gap=mip_gap,
        start=start,
        seed=seed,
    )
    notes = [f"milp {res.status}"]
    if not res.ok:
        return replace(priced, notes=(*priced.notes, *notes))
    choice = np.full(active.size, NONE, dtype=np.int16)
    take = res.x > 0.5
    choice[res.customer[take]] = res.offer[take]
    choice = finish(data, choice, np.zeros(0, dtype=np.int64))  # strict feasibility
    if total_profit(data, choice) < priced.objective:
        choice = start
    full = np.full(problem.n_customers, NONE, dtype=np.int16)
    full[active] = choice
    bound = min(priced.bound, res.bound) if np.isfinite(res.bound) else priced.bound
    objective = total_profit(data, choice)
    return Solution(
        choice=full,
        objective=objective,
        bound=max(bound, objective),
        method="milp",
        prices=priced.prices,
        certified=res.status == "optimal",
        notes=tuple(notes),
    )
