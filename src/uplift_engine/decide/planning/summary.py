"""The campaign summary: spend, incremental outcome, profit and ROI, per strategy.

Invariant: every figure is an expectation under the scores (the model's view), computed the same
way for the optimised plan and for the top-K baselines: spend = Σ expected cost, profit = Σ
expected incremental profit, incremental = Σ (pred_offer − pred_control) over treated customers
(conversions for a binary outcome, revenue for a continuous one), ROI = profit / spend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from uplift_engine.decide.solver.problem import chosen


@dataclass(frozen=True)
class Figures:
    """One strategy's expected results."""

    strategy: str
    spend: float
    profit: float
    incremental: float
    treated: int
    per_offer: dict[str, int]

    @property
    def roi(self) -> float:
        """Profit per unit of spend (NaN when nothing is spent)."""
        return self.profit / self.spend if self.spend > 0 else float("nan")

    def to_dict(self) -> dict[str, object]:
        """The figures as plain data (ROI included)."""
        return {**asdict(self), "roi": None if self.spend <= 0 else self.roi}


def figures(
    strategy: str,
    choice: np.ndarray,
    offers: list[str],
    profit: np.ndarray,
    cost: np.ndarray,
    lift: np.ndarray,
) -> Figures:
    """The figures of a choice vector over ``(K, n)`` profit, cost and lift arrays."""
    counts = np.bincount(choice[choice >= 0].astype(np.int64), minlength=len(offers))
    return Figures(
        strategy=strategy,
        spend=float(chosen(cost, choice).sum()),
        profit=float(chosen(profit, choice).sum()),
        incremental=float(chosen(lift, choice).sum()),
        treated=int((choice >= 0).sum()),
        per_offer={o: int(c) for o, c in zip(offers, counts, strict=True)},
    )


@dataclass(frozen=True)
class Summary:
    """What ``uplift optimize`` prints and the plan's metadata keeps."""

    budget: float
    outcome_kind: str
    plan: Figures
    baselines: list[Figures]
    customers: int
    excluded: dict[str, int]
    holdout: dict[str, object]
    method: str
    bound: float
    gap: float
    certified: bool
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        data = asdict(self)
        data["plan"] = self.plan.to_dict()
        data["baselines"] = [b.to_dict() for b in self.baselines]
        data["budget"] = None if not np.isfinite(self.budget) else self.budget
        return data

    def lines(self) -> list[str]:
        """The summary as text lines for a terminal."""
        what = "conversions" if self.outcome_kind == "binary" else "revenue"
        budget = "unlimited" if not np.isfinite(self.budget) else f"{self.budget:,.2f}"
        p = self.plan
        out = [
            f"customers: {self.customers:,}   budget: {budget}   spend: {p.spend:,.2f}"
            + (
                f" ({p.spend / self.budget:.1%})"
                if np.isfinite(self.budget) and self.budget
                else ""
            ),
            f"optimiser: {self.method}, profit {p.profit:,.2f} ≤ bound {self.bound:,.2f} "
            f"(gap {self.gap:.4%}{'' if self.certified else ', not certified'}, "
            f"{self.seconds:.2f} s)",
            "",
            f"{'strategy':<22}{'spend':>14}{'incr. ' + what:>18}{'profit':>14}{'ROI':>9}"
            f"{'treated':>10}",
        ]
        for f in [p, *self.baselines]:
            roi = "-" if f.spend <= 0 else f"{f.roi:.2f}"
            out.append(
                f"{f.strategy:<22}{f.spend:>14,.2f}{f.incremental:>18,.2f}{f.profit:>14,.2f}"
                f"{roi:>9}{f.treated:>10,}"
            )
        out.append("")
        out.append(
            "customers per offer: " + ", ".join(f"{o}={c:,}" for o, c in p.per_offer.items())
        )
        excluded = {k: v for k, v in self.excluded.items() if v}
        out.append(
            "excluded by guardrail: "
            + (", ".join(f"{k}={v:,}" for k, v in excluded.items()) if excluded else "none")
        )
        h = self.holdout
        out.append(
            f"holdout: {h.get('count', 0):,} of {h.get('eligible', 0):,} eligible "
            f"(share {h.get('share', 0)}, seed {h.get('seed')})"
        )
        return out
