"""The budget frontier: expected incremental profit and ROI as the budget grows.

Invariant: each point is a full optimisation of the same problem (same guardrails, holdout and
caps) at one budget, from zero to the spend of the unconstrained optimum (or a given maximum),
evenly spaced; profit never falls as the budget grows, so the profit-maximising budget is the
smallest budget that reaches the unconstrained profit. This is the cost-aware, multi-offer Qini
curve: ``marginal_roi`` is the extra profit per extra unit spent since the previous point.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.decide.solver.optimizer import solve
from uplift_engine.decide.solver.problem import Problem, chosen
from uplift_engine.evaluate.estimate import json_number
from uplift_engine.lake import write_table

FRONTIER_SCHEMA_VERSION = "uplift.frontier/1"


@dataclass(frozen=True)
class FrontierPoint:
    """The optimum at one budget."""

    budget: float
    spend: float
    profit: float
    roi: float
    marginal_roi: float
    treated: int
    gap: float

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready: a number that is not finite (the ROI of a zero spend) as null."""
        return {k: json_number(v) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Frontier:
    """Points by increasing budget, and the budget that maximises profit."""

    points: list[FrontierPoint]
    best_budget: float
    best_profit: float

    def table(self) -> pa.Table:
        """The points as an Arrow table (its metadata: :meth:`meta`)."""
        return pa.Table.from_pylist([asdict(p) for p in self.points])

    def meta(self) -> bytes:
        """The metadata written with the table: the schema version and the best budget."""
        meta = {"schema_version": FRONTIER_SCHEMA_VERSION, "best_budget": self.best_budget}
        return json.dumps(meta).encode()

    def write(self, uri: str | Path, settings: Settings | None = None) -> None:
        """Write the frontier (CSV or Parquet) with its metadata."""
        write_table(self.table(), uri, settings, meta=self.meta())

    def lines(self) -> list[str]:
        """The frontier as text lines."""
        out = [
            f"{'budget':>14}{'spend':>14}{'profit':>14}{'ROI':>8}{'marg. ROI':>11}{'treated':>10}"
        ]
        for p in self.points:
            roi = "-" if p.spend <= 0 else f"{p.roi:.2f}"
            marginal = "-" if np.isnan(p.marginal_roi) else f"{p.marginal_roi:.2f}"
            out.append(
                f"{p.budget:>14,.2f}{p.spend:>14,.2f}{p.profit:>14,.2f}{roi:>8}"
                f"{marginal:>11}{p.treated:>10,}"
            )
        out.append(
            f"profit is highest ({self.best_profit:,.2f}) from a budget of {self.best_budget:,.2f}"
        )
        return out


def budget_frontier(
    problem: Problem, *, points: int = 21, max_budget: float | None = None, seed: int = 0
) -> Frontier:
    """Optimise at ``points`` budgets from 0 to ``max_budget`` (default: unconstrained spend)."""
    free = solve(replace(problem, budget=float("inf")), method="lagrangian", seed=seed)
    top_spend = float(chosen(problem.cost, free.choice).sum())
    top = top_spend if max_budget is None else float(max_budget)
    budgets = np.linspace(0.0, top, max(2, int(points)))
    out: list[FrontierPoint] = []
    last_spend, last_profit = 0.0, 0.0
    for budget in budgets:
        if budget >= top_spend:
            sol = free
        else:
            sol = solve(replace(problem, budget=float(budget)), method="lagrangian", seed=seed)
        spend = float(chosen(problem.cost, sol.choice).sum())
        step = spend - last_spend
        out.append(
            FrontierPoint(
                budget=float(budget),
                spend=spend,
                profit=sol.objective,
                roi=sol.objective / spend if spend > 0 else float("nan"),
                marginal_roi=(sol.objective - last_profit) / step if step > 1e-9 else float("nan"),
                treated=int((sol.choice >= 0).sum()),
                gap=sol.gap,
            )
        )
        last_spend, last_profit = spend, sol.objective
    return Frontier(
        out,
        best_budget=min(top_spend, top),
        best_profit=free.objective if top >= top_spend else out[-1].profit,
    )
