"""Benchmark of the decide layer: 10M customers × 5 offers, a global budget and per-offer caps.

Run on demand (not a test):  .venv/bin/python benchmarks/optimize.py [--customers N] [--offers K]

Times, excluding file I/O: (1) the optimiser alone on the problem's arrays, (2) the whole
library call `plan_campaign` (economics, guardrails, holdout, optimiser, top-K baselines, plan
table) on an in-memory scores table. Prints the certified gap against the LP relaxation's
bound; the target is ≤ 30 s and ≤ 0.01% on 2 cores. With --check-lp (small sizes only) it also
solves the full LP relaxation with HiGHS and compares bounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from uplift_engine.decide.planning import load_economics, plan_campaign
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.decide.solver import solve
from uplift_engine.decide.solver.lagrangian import prepare
from uplift_engine.decide.solver.milp import solve_highs

OFFERS = ("cashback", "fee_waiver", "bonus_points", "rate_boost", "free_transfer")
COSTS = [(2.0, 25.0), (1.0, 10.0), (0.5, 6.0), (3.0, 30.0), (0.8, 8.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--offers", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-lp", action="store_true")
    parser.add_argument("--segments", action="store_true", help="add min/max segment shares")
    args = parser.parse_args()
    n, k = args.customers, args.offers
    offers = OFFERS[:k]
    print(f"threads: {os.cpu_count()} cores visible; n={n:,} customers × {k} offers")

    t = time.perf_counter()
    camp = synthetic_campaign(n, offers, seed=args.seed)
    print(f"instance built in {time.perf_counter() - t:.1f} s (not counted)")
    economics = load_economics(
        {
            "offers": {
                o: {"contact_cost": c, "redemption_cost": r, "max_customers": int(0.05 * n)}
                | ({"max_budget": 0.6 * n} if j == 1 else {})
                for j, (o, (c, r)) in enumerate(zip(offers, COSTS, strict=False))
            }
        }
        | (
            {
                "segments": {
                    "column": "segment",
                    "shares": {"priority": {"max": 0.05}, "young": {"min": 0.45}},
                }
            }
            if args.segments
            else {}
        )
    )
    budget = 0.8 * n  # binding: the unconstrained optimum spends more

    t = time.perf_counter()
    plan = plan_campaign(
        camp.scores,
        camp.meta,
        economics,
        budget=budget,
        value=60.0,
        holdout=0.1,
        seed=args.seed,
        method="lagrangian",
    )
    whole = time.perf_counter() - t
    sol = plan.solution
    print(f"plan_campaign (library call, no file I/O): {whole:.1f} s")
    print(f"  optimiser alone inside it: {sol.seconds:.1f} s ({', '.join(sol.notes)})")
    print(
        f"  profit {sol.objective:,.2f}  LP bound {sol.bound:,.2f}  gap {sol.gap:.6%}  "
        f"certified={sol.certified}"
    )
    print("\n".join("  " + line for line in plan.summary.lines()))

    problem = plan.prepared.problem
    t = time.perf_counter()
    again = solve(problem, method="lagrangian", seed=args.seed + 1)
    print(f"optimiser alone, fresh call: {time.perf_counter() - t:.1f} s, gap {again.gap:.6%}")
    spend = float(plan.table.column("expected_cost").to_numpy().sum())
    print(f"budget check: spend {spend:,.2f} ≤ budget {budget:,.2f}: {spend <= budget}")
    for j, o in enumerate(offers):
        mine = sol.choice == j
        print(f"  {o}: {int(mine.sum()):,} customers (cap {economics.offers[o].max_customers:,})")
    if args.check_lp:
        data, _ = prepare(problem)
        t = time.perf_counter()
        lp = solve_highs(
            data.profit, data.cost, data.profit > -np.inf, data.groups, data.rows, data.rows.rhs
        )
        print(
            f"full LP relaxation (HiGHS): {time.perf_counter() - t:.1f} s, value "
            f"{lp.objective:,.4f} vs our bound {sol.bound:,.4f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"peak memory: {peak:.1f} GB")


if __name__ == "__main__":
    main()
