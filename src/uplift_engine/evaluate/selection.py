"""Learner selection by cross-fitting (``--learner auto``).

Every candidate is fitted on all folds but one and predicts the held-out fold, so each row gets
an out-of-fold effect estimate from every candidate. The criterion, computed on those
estimates over all rows:

- binary outcomes: the normalised Qini coefficient of each offer against control, averaged
  over offers (higher is better), with inverse-propensity weights when the data has
  propensities (a plain Qini would reward sorting customers by their chance of the offer);
- continuous outcomes: the DR pseudo-outcome loss, the mean squared difference between the
  estimated effect and the AIPW pseudo-outcome built from cross-fitted per-arm outcome models
  (lower is better; it estimates the effect error up to a constant common to all candidates).
  Revenue is heavy-tailed: a few very large purchases make the loss's noise swamp the
  differences between candidates (on the simulated bank the plain loss ranked the learner with
  the worst true error first). So the outcome residuals in the pseudo-outcome are winsorised at
  the ``WINSOR_QUANTILE`` of their absolute values, which trades a little bias for much less
  noise; on Gaussian outcomes it changes nothing that matters. The cross-fitted Qini coefficient
  is recorded beside the loss, for information only.

Each score carries a percentile bootstrap interval over rows, and each candidate's difference to
the best score a paired one (the same resamples for every candidate, so the noise both share
cancels); a candidate whose difference interval holds 0 is statistically tied with the best.
Selection runs on at most ``MAX_ROWS`` rows (a seeded stratified sample).

The winner is the first candidate, in the order given, among those tied with the best — the
best itself when nothing ties. Candidates come simplest first (``AUTO_CANDIDATES``: one model,
then more models, forests last), so between candidates the data cannot tell apart the simpler
wins, as in the one-standard-error rule: it is cheaper to score and to explain, and less likely
to have come first by chance. On the benchmark's ten datasets (docs/learners.md) the rule
changed the pick on three, where the tied candidates' Qini lay within 0.011 of each other, and
each time the pick did better on the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from uplift_engine.evaluate.bootstrap import bootstrap_interval
from uplift_engine.evaluate.curves import PairCurves
from uplift_engine.evaluate.weighting import pair_weights
from uplift_engine.learn.data import CampaignData
from uplift_engine.learn.training import LEARNERS, BoosterParams
from uplift_engine.learn.training.boosting import fit_booster, predict

Statistic = Callable[[np.ndarray], np.ndarray]
"""Resample counts (b, n) → one score per resample (b,)."""
Scorer = Callable[[np.ndarray], Statistic]
"""A candidate's out-of-fold effects (n, K) → its statistic (sorted or reduced once)."""

FOLDS = 2
MAX_ROWS = 200_000
N_BOOT = 100
SELECTION_LEARNING_RATE = 0.1  # coarser boosting while comparing candidates: twice as fast
WINSOR_QUANTILE = 0.995
"""Continuous outcomes: residuals beyond this quantile of their absolute values are clipped."""


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's cross-fitted score and its bootstrap interval."""

    learner: str
    score: float
    low: float
    high: float
    seconds: float
    qini: float | None = None
    """Continuous outcomes: the cross-fitted Qini coefficient, for information."""
    gap_low: float = 0.0
    gap_high: float = 0.0
    """Paired 95% bootstrap interval of (this score − the winner's); 0 to 0 for the winner."""

    @property
    def tied(self) -> bool:
        """Whether the difference to the winner is within the noise (its interval holds 0)."""
        return self.gap_low <= 0.0 <= self.gap_high


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
    """Cross-fit every candidate on ``data`` and pick one by the outcome's criterion.

    ``candidates`` are in order of preference: the first of those statistically tied with the
    best score wins.
    """
    import time

    rate = params.learning_rate or SELECTION_LEARNING_RATE
    params = replace(params, learning_rate=max(rate, SELECTION_LEARNING_RATE))
    data = _sample(data, max_rows, seed)
    n = len(data.y)
    fold = np.random.default_rng(seed).permutation(n) % folds
    binary = data.outcome_kind == "binary"
    qini = _qini_scorer(data)
    scorer = qini if binary else _dr_loss_scorer(data, fold, params, seed)
    scores, statistics = [], []
    for name in candidates:
        clock = time.perf_counter()
        effects = cross_fitted_effects(data, name, fold, params=params, seed=seed)
        statistic = scorer(effects)
        ones = np.ones((1, n))
        point = float(statistic(ones)[0])
        low, high = bootstrap_interval(statistic, n, n_boot=N_BOOT, seed=seed)
        targeting = None if binary else float(qini(effects)(ones)[0])
        statistics.append(statistic)
        scores.append(
            CandidateScore(
                name, point, float(low), float(high), time.perf_counter() - clock, targeting
            )
        )
    sign = -1.0 if binary else 1.0
    best_index = min(range(len(scores)), key=lambda i: sign * scores[i].score)
    best_statistic = statistics[best_index]
    for i, (score, statistic) in enumerate(zip(scores, statistics, strict=True)):
        if i == best_index:
            continue
        gap_low, gap_high = bootstrap_interval(
            _difference(statistic, best_statistic), n, n_boot=N_BOOT, seed=seed
        )
        scores[i] = replace(score, gap_low=float(gap_low), gap_high=float(gap_high))
    best = scores[best_index]
    winner = next(c for c in scores if c.tied)
    measure = "Qini coefficient" if binary else "DR loss"
    others = sorted((c for c in scores if c is not best), key=lambda c: sign * c.score)
    tied = [c.learner for c in others if c.tied]
    if winner is not best:
        reason = (
            f"{winner.learner}: it ranks customers as well as the top scorer, {best.learner} "
            f"(cross-fitted {measure} {winner.score:.4g} against {best.score:.4g}; the paired "
            "difference is within the noise), and it comes first in the order of preference, "
            f"simplest first ({', '.join(candidates)})"
        )
    else:
        reason = (
            f"{best.learner} has the {'highest' if binary else 'lowest'} cross-fitted {measure} "
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
            f"{abs(second.score - best.score):.4g} {'lower' if binary else 'higher'} "
            f"(paired 95% CI of the difference {second.gap_low:.4g} to {second.gap_high:.4g})"
        )
    return SelectionReport(
        criterion="qini_coefficient" if binary else "dr_pseudo_outcome_loss",
        higher_is_better=binary,
        candidates=scores,
        winner=winner.learner,
        best=best.learner,
        reason=reason,
        rows=n,
        folds=folds,
    )


def _difference(statistic: Statistic, reference: Statistic) -> Statistic:
    """The paired statistic: one score minus another on the same resamples."""
    return lambda weights: statistic(weights) - reference(weights)


def cross_fitted_effects(
    data: CampaignData, learner: str, fold: np.ndarray, *, params: BoosterParams, seed: int
) -> np.ndarray:
    """Every row's effect estimates (n, K) from ``learner`` fitted on the other folds."""
    effects = np.empty((len(data.y), len(data.arms.offers)))
    for f in np.unique(fold):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        model = LEARNERS[learner](params=params, seed=seed).fit(
            data.X[train],
            data.treatment[train],
            data.y[train],
            propensity=None if data.propensity is None else data.propensity[train],
            categorical=data.encoder.categorical_indices,
        )
        effects[test] = model.predict(data.X[test])
    return effects


def _sample(data: CampaignData, max_rows: int, seed: int) -> CampaignData:
    n = len(data.y)
    if n <= max_rows:
        return data
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False))
    return data.subset(rows)


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
    residual = data.y - mu[np.arange(n), data.treatment]
    limit = float(np.quantile(np.abs(residual), WINSOR_QUANTILE))
    residual = np.clip(residual, -limit, limit) / e
    pseudo = mu[:, 1:] - mu[:, :1]
    pseudo += np.where(data.treatment[:, None] == np.arange(1, arms), residual[:, None], 0.0)
    pseudo -= np.where(data.treatment[:, None] == 0, residual[:, None], 0.0)

    def scorer(effects: np.ndarray) -> Statistic:
        loss = ((effects - pseudo) ** 2).mean(axis=1)
        return lambda weights: (weights @ loss) / weights.sum(axis=1)

    return scorer
