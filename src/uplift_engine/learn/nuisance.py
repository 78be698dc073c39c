"""Cross-fitted nuisances of the orthogonal learners (causal forest, R-learner).

Invariant: a row's nuisance estimates come from models that never saw the row (seeded folds).
:func:`outcome_by_arm` gives μ_a(x) for every arm ``a``; :func:`offer_propensity` gives e_k(x),
the chance of offer ``k`` against control among the rows of control and ``k`` — the design's
share when the given propensities are constant within each arm (a randomised design), else a
cross-fitted LightGBM classifier clipped to ``PROPENSITY_CLIP``. :func:`offer_residuals` makes
the residuals of Robinson's decomposition on those rows: Ỹ = y − m_k(x) with
m_k = e_k·μ_k + (1 − e_k)·μ_0, and W̃ = 1[arm = k] − e_k(x). :func:`joint_residuals` does the
same for all offers at once on every row (grf's multi-arm forest): e_a(x) the chance of each arm
(:func:`arm_propensities`), Ỹ = y − Σ_a e_a·μ_a and W̃_k = 1[arm = k] − e_k. The seeds are
fixed functions of the learner's seed, so a learner is reproducible and two learners with one
seed share nuisances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift_engine.learn.base import PROPENSITY_CLIP, TrainingData
from uplift_engine.learn.boosting import (
    BoosterParams,
    FitJob,
    fit_boosters,
    model_text,
    predict,
)

CROSS_FIT_FOLDS = 2


@dataclass(frozen=True)
class OfferResiduals:
    """Residuals of offer ``k`` on the rows of control and ``k``."""

    rows: np.ndarray  # indices into the training rows
    treated: np.ndarray  # 1.0 for rows of offer k, 0.0 for control rows
    propensity: np.ndarray  # e_k(x) per row
    y_res: np.ndarray  # Ỹ = y − m_k(x)
    w_res: np.ndarray  # W̃ = 1[arm = k] − e_k(x)


def outcome_by_arm(
    data: TrainingData, params: BoosterParams, seed: int, folds: np.ndarray | None = None
) -> np.ndarray:
    """Cross-fitted outcome of every row under every arm, shape (n, K + 1).

    ``folds`` (a fold number per row) defaults to ``CROSS_FIT_FOLDS`` seeded folds.
    """
    n = len(data.y)
    if folds is None:
        folds = np.random.default_rng([seed, 1]).permutation(n) % CROSS_FIT_FOLDS
    weights = data.sample_weight
    jobs, tests, arms = [], [], []
    for fold in range(int(folds.max()) + 1):
        train = np.flatnonzero(folds != fold)
        for arm in range(data.n_arms):
            fit_rows = train[data.treatment[train] == arm]
            jobs.append(
                FitJob(
                    data.X[fit_rows],
                    data.y[fit_rows],
                    data.objective,
                    seed + 10 * fold + arm,
                    [int(c) for c in data.categorical],
                    None if weights is None else weights[fit_rows],
                )
            )
            tests.append(np.flatnonzero(folds == fold))
            arms.append(arm)
    mu = np.empty((n, data.n_arms))
    for booster, test, arm in zip(fit_boosters(jobs, params), tests, arms, strict=True):
        mu[test, arm] = predict(booster, data.X[test], params.threads)
    return mu


def offer_propensity(
    data: TrainingData,
    k: int,
    rows: np.ndarray,
    treated: np.ndarray,
    params: BoosterParams,
    seed: int,
) -> np.ndarray:
    """Chance of offer ``k`` against control for each of ``rows`` (control and ``k`` rows)."""
    given = data.propensity[rows]
    arm = data.treatment[rows]
    p_offer, p_control = given[arm == k], given[arm == 0]
    if np.ptp(p_offer) == 0 and np.ptp(p_control) == 0:
        share = p_offer[0] / (p_offer[0] + p_control[0])
        return np.full(rows.size, share)
    folds = np.random.default_rng([seed, 2, k]).permutation(rows.size) % CROSS_FIT_FOLDS
    jobs = [
        FitJob(
            data.X[rows[folds != fold]],
            treated[folds != fold],
            "binary",
            seed + 500 + 10 * fold + k,
            [int(c) for c in data.categorical],
        )
        for fold in range(CROSS_FIT_FOLDS)
    ]
    e = np.empty(rows.size)
    for fold, booster in enumerate(fit_boosters(jobs, params)):
        test = np.flatnonzero(folds == fold)
        e[test] = predict(booster, data.X[rows[test]], params.threads)
    return np.clip(e, *PROPENSITY_CLIP)


def offer_residuals(
    data: TrainingData, mu: np.ndarray, k: int, params: BoosterParams, seed: int
) -> OfferResiduals:
    """Ỹ and W̃ of offer ``k`` on its rows and control's, from :func:`outcome_by_arm`'s ``mu``."""
    rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
    treated = (data.treatment[rows] == k).astype(np.float64)
    e = offer_propensity(data, k, rows, treated, params, seed)
    y_res = data.y[rows] - (e * mu[rows, k] + (1.0 - e) * mu[rows, 0])
    return OfferResiduals(rows, treated, e, y_res, treated - e)


@dataclass(frozen=True)
class JointResiduals:
    """Residuals of every offer at once, on every row."""

    propensity: np.ndarray  # e_a(x), rows × arms (control first), each row summing to 1
    y_res: np.ndarray  # Ỹ = y − Σ_a e_a(x)·μ_a(x)
    w_res: np.ndarray  # W̃_k = 1[arm = k] − e_k(x), rows × offers


def arm_propensities(data: TrainingData, params: BoosterParams, seed: int) -> np.ndarray:
    """Chance of every arm for every row, (n, K + 1), rows summing to 1.

    The design's shares when the given propensities are constant within each arm; else one
    cross-fitted LightGBM classifier per arm (that arm against the others; with a single offer
    only the offer's, and control's chance is the rest), each clipped to ``PROPENSITY_CLIP``
    and the row normalised.
    """
    n, arms = len(data.y), data.n_arms
    given = [data.propensity[data.treatment == a] for a in range(arms)]
    if all(np.ptp(p) == 0 for p in given):
        shares = np.array([p[0] for p in given])
        return np.broadcast_to(shares / shares.sum(), (n, arms)).copy()
    folds = np.random.default_rng([seed, 3]).permutation(n) % CROSS_FIT_FOLDS
    first = 1 if arms == 2 else 0
    cells = [(fold, a) for fold in range(CROSS_FIT_FOLDS) for a in range(first, arms)]
    jobs = [
        FitJob(
            data.X[folds != fold],
            (data.treatment[folds != fold] == a).astype(np.float64),
            "binary",
            seed + 700 + 10 * fold + a,
            [int(c) for c in data.categorical],
        )
        for fold, a in cells
    ]
    e = np.empty((n, arms))
    for (fold, a), booster in zip(cells, fit_boosters(jobs, params), strict=True):
        test = np.flatnonzero(folds == fold)
        e[test, a] = predict(booster, data.X[test], params.threads)
    if arms == 2:
        e[:, 0] = 1.0 - e[:, 1]
    e = np.clip(e, *PROPENSITY_CLIP)
    return e / e.sum(axis=1, keepdims=True)


def joint_residuals(
    data: TrainingData, mu: np.ndarray, params: BoosterParams, seed: int
) -> JointResiduals:
    """Ỹ and W̃ of all offers on every row, from :func:`outcome_by_arm`'s ``mu``."""
    e = arm_propensities(data, params, seed)
    arms = np.arange(1, data.n_arms)
    w_res = (data.treatment[:, None] == arms).astype(np.float64) - e[:, 1:]
    y_res = data.y - (e * mu).sum(axis=1)
    return JointResiduals(e, y_res, w_res)


def control_outcome_model(data: TrainingData, params: BoosterParams, seed: int) -> str:
    """LightGBM text model of the outcome under control, fitted on every control row.

    Effect-only learners add their effects to it, so every arm has a level (``pred_<arm>``).
    """
    control = np.flatnonzero(data.treatment == 0)
    job = FitJob(
        data.X[control],
        data.y[control],
        data.objective,
        seed,
        [int(c) for c in data.categorical],
        None if data.sample_weight is None else data.sample_weight[control],
    )
    return model_text(fit_boosters([job], params)[0])
