"""Learner selection by cross-fitting (``--learner auto``).

Every candidate is fitted on all folds but one and predicts the held-out fold, so each row gets
an out-of-fold effect estimate from every candidate. The criterion, computed on those
estimates over all rows, is the normalised Qini coefficient of each offer against control,
averaged over offers (higher is better) — for binary and continuous outcomes alike — with
inverse-propensity weights when the data has propensities (a plain Qini would reward sorting
customers by their chance of the offer). It measures what targeting spends the budget on: how
well the model ranks customers by the effect, on outcomes observed, with no model of its own.
An earlier criterion for continuous outcomes, the DR pseudo-outcome loss (the effect's squared
error against AIPW pseudo-outcomes), rewarded near-constant effects on heavy-tailed revenue: on
Hillstrom's spend it chose the S-learner, whose cross-fitted Qini was −0.027 (it ranked the
customers backwards), in 9 splits of 10 (docs/learners.md); it also cost a cross-fitted outcome
model per arm.

Each score carries a percentile bootstrap interval over rows, and each candidate's difference to
the best score a paired one (the same resamples for every candidate, so the noise both share
cancels); a candidate whose difference interval holds 0 is statistically tied with the best.

The winner is the first candidate, in the order given, among those tied with the best — the
best itself when nothing ties: between candidates the data cannot tell apart, the one preferred
beforehand wins, as in the one-standard-error rule. ``AUTO_CANDIDATES`` puts the ensemble (the
average of an S-learner and an uplift forest) first and single learners after
it, simplest first: a single learner is chosen only when it is significantly better than the
average of several, which on the benchmark's real trials held up where every single learner
failed somewhere (docs/learners.md). An ensemble's cross-fitted effects are its members'
average, so it costs nothing beyond its members.

How much it costs is planned from the rows (:func:`plan_selection`), so that choosing stays a
small multiple of one fit however large the table:

- *rows*: every row up to ``FULL_ROWS``; above, a seeded sample stratified by arm of
  ``SHARE`` of them (at least ``FULL_ROWS``, at most ``MAX_ROWS``);
- *lighter forests* while comparing (``SELECTION_SETTINGS``), and the ensemble scored from its
  members' cross-fitted effects rather than fitted again;
- *one bootstrap per candidate*: every candidate's statistic is evaluated on the same seeded
  resamples once, and its interval and its paired difference to the best both come from
  those replicates;
- *repeats*: on few rows the criterion also depends on how the rows fall into folds, so small
  tables are cross-fitted ``repeats`` times on fresh folds and the criterion averaged over the
  repeats (still paired across candidates) — cheap where rows are few.

Successive halving (a first comparison on a quarter of the rows to eliminate the significantly
worse) was measured and left out: fits of a few thousand rows cost about as much as fits of
four times as many (LightGBM's cost per round and the forests' per tree do not shrink with the
rows), so at 1M rows the two stages took 25 s against 18 s for one (docs/benchmarks.md).

Candidates that cannot learn from the folds' rows (``UpliftLearner.shortfall``: a forest whose
leaves are larger than the data) are left out before any fit, with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from uplift_engine.errors import DataError
from uplift_engine.evaluate.bootstrap import bootstrap_replicates, percentile_interval
from uplift_engine.evaluate.cross_fit import LearnerFactory, cross_fitted_effects, fold_arm_rows
from uplift_engine.evaluate.curves import PairCurves
from uplift_engine.evaluate.weighting import pair_weights
from uplift_engine.learn.data import CampaignData, stratified_folds
from uplift_engine.learn.training import LEARNERS, MIN_ARM_ROWS, AverageLearner, BoosterParams
from uplift_engine.learn.training.ensemble import ENSEMBLE

Statistic = Callable[[np.ndarray], np.ndarray]
"""Resample counts (b, n) → one score per resample (b,)."""
Scorer = Callable[[np.ndarray], Statistic]
"""A candidate's out-of-fold effects (n, K) → its statistic (sorted or reduced once)."""

FOLDS = 2
MAX_FOLDS = 5
"""Selection cross-fits on ``FOLDS`` folds, and on up to ``MAX_FOLDS`` when an arm is so small
that half of it is fewer rows than a learner fits on (``selection_folds``)."""
FULL_ROWS = 12_000
SHARE = 0.1
MAX_ROWS = 100_000
"""Selection compares on every row up to ``FULL_ROWS`` and on ``SHARE`` of them above (at least
``FULL_ROWS``, at most ``MAX_ROWS``): at 100,000 rows on 12,000 and at 1M on 100,000, which
kept the selection within 3 fits of a T-learner on all the rows (docs/benchmarks.md)."""
REPEAT_ROWS = 12_000
MAX_REPEATS = 3
"""Tables of fewer rows than ``REPEAT_ROWS`` are cross-fitted ⌈REPEAT_ROWS / rows⌉ times, at most
``MAX_REPEATS``."""
N_BOOT = 100
SELECTION_SETTINGS: dict[str, dict[str, Any]] = {
    "uplift_forest": {"n_trees": 25},
    "causal_forest": {"n_trees": 40, "boost_trees": 20},
}
"""Lighter forests while comparing (and inside the ensemble while comparing it): a forest's cost
grows with its trees, and its ranking settles long before its intervals do."""
SELECTION_LEARNING_RATE = 0.1  # coarser boosting while comparing candidates: twice as fast


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's cross-fitted score and its bootstrap interval."""

    learner: str
    score: float
    low: float
    high: float
    seconds: float
    gap_low: float = 0.0
    gap_high: float = 0.0
    """Paired 95% bootstrap interval of (this score − the best's); 0 to 0 for the best."""

    @property
    def tied(self) -> bool:
        """Whether the difference to the best is within the noise (its interval holds 0)."""
        return self.gap_low <= 0.0 <= self.gap_high


@dataclass(frozen=True)
class LeftOut:
    """A candidate that was not compared, and why."""

    learner: str
    reason: str


@dataclass(frozen=True)
class SelectionPlan:
    """How many rows the candidates are compared on, in how many folds and repeats."""

    rows: int
    folds: int
    repeats: int


@dataclass(frozen=True)
class SelectionReport:
    """Every candidate's score, the winner, and why it won."""

    criterion: str
    higher_is_better: bool
    candidates: list[CandidateScore]
    winner: str
    best: str
    """The candidate with the best score (the winner unless a simpler one is tied with it)."""
    reason: str
    rows: int
    folds: int
    repeats: int = 1
    left_out: list[LeftOut] = field(default_factory=list)
    """Candidates not cross-fitted, and why (too few rows for their settings)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def plan_selection(rows: int, smallest_arm: int) -> SelectionPlan:
    """The selection's rows, folds and repeats for a table of ``rows`` rows."""
    used = rows if rows <= FULL_ROWS else min(MAX_ROWS, max(FULL_ROWS, round(SHARE * rows)))
    smallest = max(1, round(smallest_arm * used / rows))
    repeats = min(MAX_REPEATS, max(1, math.ceil(REPEAT_ROWS / used)))
    return SelectionPlan(used, selection_folds(smallest), repeats)


def select_learner(
    data: CampaignData,
    candidates: Sequence[str],
    *,
    params: BoosterParams,
    seed: int = 0,
    plan: SelectionPlan | None = None,
) -> SelectionReport:
    """Cross-fit every candidate on ``data`` and pick one by the outcome's criterion.

    ``candidates`` are in order of preference: the first of those statistically tied with the
    best score wins. ``plan``: :func:`plan_selection` of the data unless given.
    """
    rate = params.learning_rate or SELECTION_LEARNING_RATE
    params = replace(params, learning_rate=max(rate, SELECTION_LEARNING_RATE))
    if plan is None:
        plan = plan_selection(len(data.y), int(np.bincount(data.treatment).min()))
    data = _sample(data, plan.rows, seed)
    compared, left_out = _feasible(data, candidates, plan.folds, params, seed)
    scores = _compare(data, compared, plan, params, seed)
    return _report(scores, candidates, plan, left_out)


def _compare(
    data: CampaignData,
    candidates: Sequence[str],
    plan: SelectionPlan,
    params: BoosterParams,
    seed: int,
) -> list[CandidateScore]:
    """Every candidate's score on ``data`` (averaged over repeats) and its paired gap."""
    n = len(data.y)
    scorer = _qini_scorer(data)
    folds = [stratified_folds(data.treatment, plan.folds, seed + r) for r in range(plan.repeats)]
    cache: dict[str, list[np.ndarray]] = {}

    def runs(name: str) -> list[np.ndarray]:
        """The candidate's effects from every repeat; an ensemble's, its members' average."""
        if name not in cache:
            learner = _factory(name, params, seed)()
            if isinstance(learner, AverageLearner):
                members = [runs(member) for member in learner.members]
                cache[name] = [np.mean(parts, axis=0) for parts in zip(*members, strict=True)]
            else:
                cache[name] = [
                    cross_fitted_effects(data, _factory(name, params, seed + r), fold)
                    for r, fold in enumerate(folds)
                ]
        return cache[name]

    scores, replicates = [], []
    ones = np.ones((1, n))
    for name in candidates:
        clock = time.perf_counter()
        effects = runs(name)
        statistic = _mean([scorer(e) for e in effects])
        point = float(statistic(ones)[0])
        # the same seeded resamples for every candidate: their differences are paired
        reps = bootstrap_replicates(
            statistic, n, n_boot=N_BOOT, seed=seed, threads=max(1, params.threads)
        )
        low, high = percentile_interval(reps)
        replicates.append(reps)
        scores.append(
            CandidateScore(
                name,
                point,
                float(low),
                float(high),
                time.perf_counter() - clock,
            )
        )
    best = max(range(len(scores)), key=lambda i: scores[i].score)
    for i, score in enumerate(scores):
        if i != best:
            gap_low, gap_high = percentile_interval(replicates[i] - replicates[best])
            scores[i] = replace(score, gap_low=float(gap_low), gap_high=float(gap_high))
    return scores


def _report(
    scores: list[CandidateScore],
    candidates: Sequence[str],
    plan: SelectionPlan,
    left_out: list[LeftOut],
) -> SelectionReport:
    best = max(scores, key=lambda c: c.score)
    winner = next(c for c in scores if c is best or c.tied)
    measure = "Qini coefficient"
    others = sorted((c for c in scores if c is not best), key=lambda c: -c.score)
    tied = [c.learner for c in others if c.tied]
    if winner is not best and winner.learner == ENSEMBLE:
        members = ", ".join(AverageLearner().members)
        reason = (
            f"ensemble, the average of {members}: no single learner ranks customers "
            f"significantly better (the top scorer, {best.learner}, has a cross-fitted "
            f"{measure} of {best.score:.4g} against the average's {winner.score:.4g}; the "
            "paired difference is within the noise), and an average of several holds up best "
            "when the data cannot tell them apart"
        )
    elif winner is not best:
        reason = (
            f"{winner.learner}: it ranks customers as well as the top scorer, {best.learner} "
            f"(cross-fitted {measure} {winner.score:.4g} against {best.score:.4g}; the paired "
            "difference is within the noise), and it comes first in the order of preference "
            f"({', '.join(candidates)})"
        )
    else:
        reason = (
            f"{best.learner} has the highest cross-fitted {measure} "
            f"({best.score:.4g}, 95% CI {best.low:.4g} to {best.high:.4g})"
        )
    if winner is best and tied:
        reason += (
            f"; statistically tied with it (paired difference within the noise): {', '.join(tied)}"
        )
    elif winner is best and others:
        second = others[0]
        reason += (
            f"; runner-up {second.learner} scored {second.score:.4g}, "
            f"{abs(second.score - best.score):.4g} lower "
            f"(paired 95% CI of the difference {second.gap_low:.4g} to {second.gap_high:.4g})"
        )
    return SelectionReport(
        criterion="qini_coefficient",
        higher_is_better=True,
        candidates=scores,
        winner=winner.learner,
        best=best.learner,
        reason=reason,
        rows=plan.rows,
        folds=plan.folds,
        repeats=plan.repeats,
        left_out=left_out,
    )


def selection_folds(smallest_arm: int) -> int:
    """The folds to cross-fit on when the smallest arm has ``smallest_arm`` rows.

    ``FOLDS``, or the fewest more that leave every fit at least ``MIN_ARM_ROWS`` rows of the
    arm (a fold holds at most ⌈rows / folds⌉ of them); a ``DataError`` below
    :data:`MIN_SELECTION_ARM_ROWS`.
    """
    for folds in range(FOLDS, MAX_FOLDS + 1):
        if smallest_arm - -(-smallest_arm // folds) >= MIN_ARM_ROWS:
            return folds
    raise DataError(
        f"choosing a learner needs at least {MIN_SELECTION_ARM_ROWS} rows of every arm; "
        f"the smallest has {smallest_arm}",
        field="learner",
    )


MIN_SELECTION_ARM_ROWS = next(
    m for m in range(MIN_ARM_ROWS, 10 * MIN_ARM_ROWS) if m - -(-m // MAX_FOLDS) >= MIN_ARM_ROWS
)
"""The fewest rows of an arm ``--learner auto`` can cross-fit its candidates on."""


def _feasible(
    data: CampaignData,
    candidates: Sequence[str],
    folds: int,
    params: BoosterParams,
    seed: int,
) -> tuple[list[str], list[LeftOut]]:
    """The candidates that can learn from the folds' rows, and the others with the reason."""
    fold = stratified_folds(data.treatment, folds, seed)
    fit_rows = fold_arm_rows(data.treatment, fold, len(data.arms.names))
    kept, left_out = [], []
    for name in candidates:
        reason = _factory(name, params, seed)().shortfall(fit_rows)
        if reason is None:
            kept.append(name)
        else:
            left_out.append(LeftOut(name, reason))
    if not kept:
        raise DataError(
            "no candidate learner can learn from so few rows: "
            + "; ".join(f"{c.learner}: {c.reason}" for c in left_out),
            field="learner",
        )
    return kept, left_out


def _factory(name: str, params: BoosterParams, seed: int) -> LearnerFactory:
    settings = SELECTION_SETTINGS.get(name, {})
    return lambda: LEARNERS[name](params=params, seed=seed, **settings)


def _mean(statistics: list[Statistic]) -> Statistic:
    """The average of statistics on the same resamples (the criterion over repeats)."""
    if len(statistics) == 1:
        return statistics[0]
    return lambda weights: np.mean([s(weights) for s in statistics], axis=0)


def _sample(data: CampaignData, rows: int, seed: int) -> CampaignData:
    """A seeded sample of ``rows`` rows, stratified by arm (all of them when there are fewer)."""
    n = len(data.y)
    if n <= rows:
        return data
    rng = np.random.default_rng([seed, 23])
    picked = []
    for arm in range(len(data.arms.names)):
        members = np.flatnonzero(data.treatment == arm)
        take = max(1, round(len(members) * rows / n))
        picked.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return data.subset(np.sort(np.concatenate(picked)))


def _qini_scorer(data: CampaignData) -> Scorer:
    pairs = []
    propensity = data.propensity_matrix()
    for k in range(1, len(data.arms.names)):
        rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
        weights = None
        if propensity is not None:
            weights = pair_weights(data.treatment[rows], propensity[rows], k)
        pairs.append((k, rows, data.treatment[rows] == k, data.y[rows], weights))

    def scorer(effects: np.ndarray) -> Statistic:
        curves = [
            (PairCurves.build(effects[rows, k - 1], treated, y, weights=weights), rows)
            for k, rows, treated, y, weights in pairs
        ]

        def statistic(weights: np.ndarray) -> np.ndarray:
            stacked = np.vstack(
                [c.stats(weights, columns=rows)["qini_coefficient"] for c, rows in curves]
            )
            # an offer whose coefficient is undefined (no outcome at all) does not count
            defined = np.isfinite(stacked)
            total = np.where(defined, stacked, 0.0).sum(axis=0)
            return total / np.maximum(defined.sum(axis=0), 1)

        return statistic

    return scorer
