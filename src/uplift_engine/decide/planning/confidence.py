"""A budget held with stated confidence: the plan's true spend stays within it with probability q.

A plan spends its contact costs for sure, and its variable costs (a redemption cost per
conversion, or a share of the spend) as customers happen to respond: the optimiser's budget
holds that spend *in expectation* only, so a plan that uses it all overspends about half the
time, and more when the model's predicted levels run low. For the chosen options, with ``V_a``
the model's expected variable spend of the offers of arm ``a``:

* **model error** — the arm's level calibration on out-of-sample rows
  (:mod:`uplift_engine.evaluate.level_calibration`, carried by the bundle into the scores'
  metadata), taken in the bin of predicted effect each customer falls in (a plan takes the
  customers of high predicted effect, where levels tend to run high), scales the variable spend
  of the bin by its ratio ``ρ`` (observed / predicted) and adds the variance ``(se(ρ) · V)²``,
  one bin's customers erring together (the arm's figures for a bin without them);
* **response variance** — customers respond independently: a binary outcome adds
  ``Σ unit² · q(1 − q)`` (``q = ρ_a · p``, ``unit`` the redemption cost), a continuous one
  ``Σ unit² · σ_a²`` (``unit`` the cost rate, ``σ_a²`` the arm's residual variance).

The spend's upper bound is ``contact + Σ ρ_a V_a + z_q · sqrt(variances)`` (normal, the sum of
many customers). :func:`plan_within` searches the largest budget given to the optimiser whose
plan has its upper bound within the real budget (a secant step, then bisection), and reports the
headroom kept and the expected profit given up against the plain plan. Invariant: the result's
bound is within the budget; per-offer budget caps stay caps on the expected spend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from uplift_engine.decide.economics import Economics
from uplift_engine.decide.solver.problem import NONE, Problem, Solution
from uplift_engine.errors import ConfigError

MAX_SOLVES = 10
TOLERANCE = 0.002
"""The search stops when the bound is within this share of the budget below it."""


@dataclass(frozen=True)
class SpendBound:
    """A plan's spend: as the model expects it, corrected by calibration, its spread, its bound."""

    expected: float
    corrected: float
    sd: float
    upper: float


@dataclass(frozen=True)
class ConfidentPlan:
    """The solution whose spend bound holds, the budget the optimiser was given, the record."""

    solution: Solution
    problem: Problem
    record: dict[str, Any]


class SpendModel:
    """The spend of any choice of options, from the costs and the arms' level calibration."""

    def __init__(
        self,
        cost: np.ndarray,
        propensity: np.ndarray,
        offers: list[str],
        economics: Economics,
        outcome_kind: str,
        calibration: Mapping[str, Any] | None,
        lift: np.ndarray | None = None,
    ) -> None:
        terms = [economics.offers[o] for o in offers]
        self.contact = np.array([t.contact_cost for t in terms], dtype=np.float64)
        binary = outcome_kind == "binary"
        self.binary = binary
        self.unit = np.array(
            [(t.redemption_cost if binary else t.cost_rate) or 0.0 for t in terms],
            dtype=np.float64,
        )
        self.variable = cost - self.contact[:, None]  # (K, n) the model's expected variable
        self.propensity = propensity
        self.lift = lift
        arms = (calibration or {}).get("arms", {})
        self.calibrated = all(o in arms for o in offers) and bool(offers)
        self.evaluation = (calibration or {}).get("evaluation")
        # per offer: effect edges, and (ratio, se, residual variance) per bin
        self.edges = []
        self.table = []
        for offer in offers:
            found = arms.get(offer) or {}
            whole = _triple(found, (1.0, 0.0, 0.0))
            binned = found.get("bins") or {}
            self.edges.append(np.asarray(binned.get("effect_edges", []), dtype=np.float64))
            figures = binned.get("figures") or [None]
            self.table.append(np.array([_triple(f, whole) for f in figures]))

    def bound(self, choice: np.ndarray, confidence: float) -> SpendBound:
        """The spend of ``choice`` (option per customer, ``NONE`` for none) at ``confidence``."""
        rows = np.flatnonzero(choice != NONE)
        k = choice[rows]
        variable = self.variable[k, rows]
        contact = float(self.contact[k].sum())
        expected = contact + float(variable.sum())
        ratio, ratio_se, residual = np.ones(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
        model_var = 0.0
        corrected = contact
        for j in np.unique(k):
            mine = np.flatnonzero(k == j)
            table = self.table[j]
            if len(table) > 1 and self.lift is not None:
                where = np.searchsorted(self.edges[j], self.lift[j, rows[mine]], side="right")
            else:
                where = np.zeros(len(mine), dtype=np.int64)
            ratio[mine], ratio_se[mine], residual[mine] = table[where].T
            per_bin = np.bincount(where, weights=variable[mine], minlength=len(table))
            corrected += float(per_bin @ table[:, 0])
            model_var += float(((table[:, 1] * per_bin) ** 2).sum())
        if self.binary:
            q = np.clip(ratio * np.clip(self.propensity[k, rows], 0.0, 1.0), 0.0, 1.0)
            response_var = float((self.unit[k] ** 2 * q * (1.0 - q)).sum())
        else:
            response_var = float((self.unit[k] ** 2 * residual).sum())
        sd = math.sqrt(model_var + response_var)
        z = NormalDist().inv_cdf(confidence)
        return SpendBound(expected, corrected, sd, corrected + z * sd)


def check_confidence(confidence: float, budget: float) -> None:
    """Refuse a confidence outside ``[0.5, 1)``, or one asked of a plan without a budget."""
    if not 0.5 <= confidence < 1:
        raise ConfigError(
            f"the budget confidence must be in [0.5, 1), got {confidence}",
            field="budget_confidence",
        )
    if not math.isfinite(budget):
        raise ConfigError("a budget confidence needs a budget", field="budget_confidence")


def plan_within(
    problem: Problem,
    spend: SpendModel,
    confidence: float,
    solve: Callable[[Problem], Solution],
    plain: Solution,
) -> ConfidentPlan:
    """The plan whose spend stays within ``problem.budget`` with probability ``confidence``."""
    budget = problem.budget
    check_confidence(confidence, budget)
    plain_bound = spend.bound(plain.choice, confidence)
    if plain_bound.upper <= budget:
        best, best_budget, best_bound, solves = plain, budget, plain_bound, 1
    else:
        best, best_budget, best_bound, solves = _search(
            problem, spend, confidence, solve, plain_bound
        )
    given_up = float(_profit(problem, plain.choice) - _profit(problem, best.choice))
    record = {
        "confidence": confidence,
        "budget": budget,
        "optimiser_budget": best_budget,
        "headroom": budget - best_bound.corrected,
        "expected_spend": best_bound.expected,
        "corrected_expected_spend": best_bound.corrected,
        "spend_sd": best_bound.sd,
        "spend_upper": best_bound.upper,
        "plain_spend_upper": plain_bound.upper,
        "expected_profit_given_up": given_up,
        "solves": solves,
        "model_error": (
            f"level calibration of {spend.evaluation} rows"
            if spend.calibrated
            else "not accounted: the scores carry no level calibration (response variance only)"
        ),
    }
    return ConfidentPlan(best, replace(problem, budget=best_budget), record)


def _search(
    problem: Problem,
    spend: SpendModel,
    confidence: float,
    solve: Callable[[Problem], Solution],
    plain_bound: SpendBound,
) -> tuple[Solution, float, SpendBound, int]:
    """The largest optimiser budget whose plan's bound fits, with its solution and bound.

    Also the solves made, the plain one counted. ``low`` is always a budget whose plan fits
    (0 spends nothing) and every trial lies strictly between ``low`` and ``high``, so the last
    trial that fits is the largest.
    """
    budget = problem.budget
    low, high = 0.0, budget
    found: tuple[Solution, float, SpendBound] | None = None
    trial, bound, solves = budget, plain_bound, 1
    while solves < MAX_SOLVES:
        step = trial - (bound.upper - budget)  # secant: lower by the overshoot
        trial = step if low < step < high else (low + high) / 2
        solution = solve(replace(problem, budget=trial))
        bound = spend.bound(solution.choice, confidence)
        solves += 1
        if bound.upper <= budget:
            low, found = trial, (solution, trial, bound)
            if budget - bound.upper <= TOLERANCE * budget:
                break
        else:
            high = trial
    if found is None:  # the search ran out: the empty plan always fits
        empty = solve(replace(problem, budget=0.0))
        found = (empty, 0.0, spend.bound(empty.choice, confidence))
    return (*found, solves)


def _triple(
    figures: Mapping[str, Any] | None, fallback: tuple[float, float, float]
) -> tuple[float, float, float]:
    """(ratio, its se, residual variance) of a calibration entry, else ``fallback``."""
    if not figures:
        return fallback
    return (
        float(figures["ratio"]),
        float(figures["ratio_se"]),
        float(figures["residual_variance"]),
    )


def _profit(problem: Problem, choice: np.ndarray) -> float:
    rows = np.flatnonzero(choice != NONE)
    return float(problem.profit[choice[rows], rows].sum())
