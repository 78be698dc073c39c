"""The multi-offer Qini curve over budget on a million customers × 5 offers: how long it takes.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/budget_curve.py [--customers 1000000]

Random predicted rewards and costs for every (customer, offer), random doubly robust scores; the
solution path (:func:`~uplift_engine.evaluate.budget_curve.hull_path`) and the curve at 21
budgets, paired against a baseline model's allocation at each. Reports the median of ``--runs``
runs of each step, measured in this process. Writes the table into docs/measurement.md with
``--write``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from uplift_engine.evaluate.budget_curve import budget_curve, hull_path  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--offers", type=int, default=5)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n, k = args.customers, args.offers
    reward = rng.normal(0.5, 1.0, (n, k))
    cost = rng.uniform(0.5, 5.0, (n, k))
    gamma = rng.normal(0.0, 1.0, (n, k + 1))
    other = reward + rng.normal(0.0, 0.5, (n, k))
    path_s, curve_s = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        hull_path(reward, cost)
        t1 = time.perf_counter()
        budget_curve(reward, cost, gamma, points=21, baseline=(other, cost))
        t2 = time.perf_counter()
        path_s.append(t1 - t0)
        curve_s.append(t2 - t1)
    body = (
        "| step | median seconds |\n|---|---:|\n"
        f"| the solution path ({n:,} customers × {k} offers) | {statistics.median(path_s):.1f} |\n"
        f"| the curve at 21 budgets, paired against a baseline allocation (both paths) | "
        f"{statistics.median(curve_s):.1f} |\n\n"
        f"Median of {args.runs} runs, one process, 2 cores (benchmarks/budget_curve.py); "
        "the target is under a minute."
    )
    print(body)
    if args.write:
        write_block(ROOT / "docs" / "measurement.md", "budget-curve", body,
                    heading="The Qini curve over budget: time")  # fmt: skip


if __name__ == "__main__":
    main()
