"""Learner selection by cross-fitting (``--learner auto``).

Every candidate is fitted on all folds but one and predicts the held-out fold, so each row gets
an out-of-fold effect estimate from every candidate. The criterion, computed on those
estimates over all rows:

- binary outcomes: the normalised Qini coefficient of each offer against control, averaged
  over offers (higher is better);
- continuous outcomes: the DR pseudo-outcome loss, the mean squared difference between the
  estimated effect and the AIPW pseudo-outcome built from cross-fitted per-arm outcome models
  (lower is better; it estimates the effect error up to a constant common to all candidates).
  Revenue is heavy-tailed, so the loss often cannot tell candidates apart: every candidate
  whose loss lies within the best one's bootstrap interval is *tied* with it, and among the
  tied the one with the highest cross-fitted Qini coefficient wins (the loss ranks the
  estimates' error, the Qini their use for targeting).

Each score carries a percentile bootstrap interval over rows (the same resamples for every
candidate). Selection runs on at most ``MAX_ROWS`` rows (a seeded stratified sample).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from uplift_engine.evaluate.bootstrap import bootstrap_interval
from uplift_engine.evaluate.curves import PairCurves
from uplift_engine.learn import LEARNERS, BoosterParams, CampaignData
from uplift_engine.learn.boosting import fit_booster, predict

Statistic = Callable[[np.ndarray], np.ndarray]
"""Resample counts (b, n) → one score per resample (b,)."""
Scorer = Callable[[np.ndarray], Statistic]
"""A candidate's out-of-fold effects (n, K) → its statistic (sorted or reduced once)."""

FOLDS = 2
MAX_ROWS = 200_000
N_BOOT = 100
SELECTION_LEARNING_RATE = 0.1  # coarser boosting while comparing candidates: twice as fast


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's cross-fitted score and its bootstrap interval."""

    learner: str
    score: float
    low: float
    high: float
    seconds: float
    qini: float | None = None
    """Continuous outcomes: the cross-fitted Qini coefficient, the tie-breaker on the loss."""


@dataclass(frozen=True)
class SelectionReport:
    """Every candidate's score, the winner, and why it won."""

    criterion: str
    higher_is_better: bool
    candidates: list[CandidateScore]
    winner: str
    reason: str
    rows: int
    folds: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def select_learner(
    data: CampaignData,
    candidates: Sequence[str],
    *,
    params: BoosterParams,
    seed: int = 0,
    folds: int = FOLDS,
    max_rows: int = MAX_ROWS,
) -> SelectionReport:
    """Cross-fit every candidate on ``data`` and pick the best by the outcome's criterion."""
    import time

    params = replace(params, learning_rate=max(params.learning_rate, SELECTION_LEARNING_RATE))
    data = _sample(data, max_rows, seed)
    n = len(data.y)
    fold = np.random.default_rng(seed).permutation(n) % folds
    binary = data.outcome_kind == "binary"
    qini = _qini_scorer(data)
    scorer = qini if binary else _dr_loss_scorer(data, fold, params, seed)
    scores = []
    for name in candidates:
        clock = time.perf_counter()
        effects = np.empty((n, len(data.arms.offers)))
        for f in range(folds):
            train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            model = LEARNERS[name](params=params, seed=seed).fit(
                data.X[train],
                data.treatment[train],
                data.y[train],
                propensity=None if data.propensity is None else data.propensity[train],
                categorical=data.encoder.categorical_indices,
            )
            effects[test] = model.predict(data.X[test])
        statistic = scorer(effects)
        ones = np.ones((1, n))
        point = float(statistic(ones)[0])
        low, high = bootstrap_interval(statistic, n, n_boot=N_BOOT, seed=seed)
        targeting = None if binary else float(qini(effects)(ones)[0])
        scores.append(
            CandidateScore(
                name, point, float(low), float(high), time.perf_counter() - clock, targeting
            )
        )
    ranked = sorted(scores, key=lambda c: -c.score if binary else c.score)
    best = ranked[0]
    reason = (
        f"{best.learner} has the {'highest' if binary else 'lowest'} cross-fitted "
        f"{'Qini coefficient' if binary else 'DR loss'} ({best.score:.4g}, 95% CI "
        f"{best.low:.4g} to {best.high:.4g})"
    )
    tied = [c for c in ranked if c.score <= best.high] if not binary else []
    if len(tied) > 1:
        chosen = max(tied, key=lambda c: c.qini if c.qini is not None else -np.inf)
        names = ", ".join(c.learner for c in tied)
        reason = (
            f"{chosen.learner} has the highest cross-fitted Qini coefficient "
            f"({chosen.qini or 0.0:.4g}) among the learners whose DR loss is within the "
            f"interval of the lowest ({best.learner}: {best.score:.4g}, 95% CI {best.low:.4g} to "
            f"{best.high:.4g}): {names}"
        )
        best = chosen
    elif len(ranked) > 1:
        second = ranked[1]
        overlap = second.low <= best.score <= second.high
        reason += f"; runner-up {second.learner} scored {second.score:.4g}" + (
            ", within its interval: the two are statistically tied" if overlap else ""
        )
    return SelectionReport(
        criterion="qini_coefficient" if binary else "dr_pseudo_outcome_loss",
        higher_is_better=binary,
        candidates=scores,
        winner=best.learner,
        reason=reason,
        rows=n,
        folds=folds,
    )


def _sample(data: CampaignData, max_rows: int, seed: int) -> CampaignData:
    n = len(data.y)
    if n <= max_rows:
        return data
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False))
    return data.subset(rows)


def _qini_scorer(data: CampaignData) -> Scorer:
    pairs = []
    for k in range(1, len(data.arms.names)):
        rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
        pairs.append((k, rows, data.treatment[rows] == k, data.y[rows]))

    def scorer(effects: np.ndarray) -> Statistic:
        curves = [
            (PairCurves.build(effects[rows, k - 1], treated, y), rows)
            for k, rows, treated, y in pairs
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


def _dr_loss_scorer(
    data: CampaignData, fold: np.ndarray, params: BoosterParams, seed: int
) -> Scorer:
    n, arms = len(data.y), len(data.arms.names)
    mu = np.empty((n, arms))
    for f in np.unique(fold):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        for a in range(arms):
            rows = train[data.treatment[train] == a]
            booster = fit_booster(
                data.X[rows],
                data.y[rows],
                objective="regression",
                params=params,
                seed=seed + a,
                categorical=data.encoder.categorical_indices,
            )
            mu[test, a] = predict(booster, data.X[test], params.threads)
    shares = np.bincount(data.treatment, minlength=arms) / n
    e = data.propensity if data.propensity is not None else shares[data.treatment]
    residual = (data.y - mu[np.arange(n), data.treatment]) / e
    pseudo = mu[:, 1:] - mu[:, :1]
    pseudo += np.where(data.treatment[:, None] == np.arange(1, arms), residual[:, None], 0.0)
    pseudo -= np.where(data.treatment[:, None] == 0, residual[:, None], 0.0)

    def scorer(effects: np.ndarray) -> Statistic:
        loss = ((effects - pseudo) ** 2).mean(axis=1)
        return lambda weights: (weights @ loss) / weights.sum(axis=1)

    return scorer
