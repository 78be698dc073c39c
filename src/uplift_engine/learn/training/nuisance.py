"""Cross-fitted nuisances of the orthogonal learners (causal forest, R- and DR-learners).

Invariant: a row's nuisance estimates come from models that never saw the row (seeded folds).
:func:`fit_nuisances` fits a learner's boosters in one batch (side by side, each predicting its
held-out fold on its own thread; :func:`~uplift_engine.learn.training.boosting.fit_and_score`): the
outcome μ_a(x) under every arm ``a`` — or, with ``marginal=True``, the outcome whatever the arm,
m(x) = E[y | x] — optionally every arm's chance e_a(x), and the control outcome model on all
control rows that effect-only learners add their effects to. :func:`offer_propensity` gives
e_k(x), the chance of offer ``k`` against control among the rows of control and ``k`` — the
design's share when the given propensities are constant within each arm (a randomised design),
else a cross-fitted LightGBM classifier clipped to ``PROPENSITY_CLIP``. :func:`offer_residuals`
makes the residuals of Robinson's decomposition on those rows: Ỹ = y − m_k(x) with
m_k = e_k·μ_k + (1 − e_k)·μ_0, and W̃ = 1[arm = k] − e_k(x). :func:`joint_residuals` does the
same for all offers at once on every row (grf's multi-arm forest): Ỹ = y − m(x) and
W̃_k = 1[arm = k] − e_k(x). The seeds are fixed functions of the learner's seed, so a learner
is reproducible and two learners with one seed share nuisances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from uplift_engine.learn.training.base import PROPENSITY_CLIP, TrainingData
from uplift_engine.learn.training.boosting import (
    BoosterParams,
    FitJob,
    fit_and_score,
    fit_booster,
    model_text,
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


@dataclass(frozen=True)
class Nuisances:
    """What one batch of boosters gives a learner (:func:`fit_nuisances`)."""

    mu: np.ndarray  # cross-fitted outcome of every row under every arm, (n, K + 1);
    # with ``marginal=True`` (n, 1): the outcome whatever the arm, m(x) = E[y | x]
    propensity: np.ndarray | None  # chance of every arm, (n, K + 1), rows summing to 1
    control_model: str  # LightGBM text model of the outcome under control, on all control rows


def fit_nuisances(
    data: TrainingData,
    params: BoosterParams,
    seed: int,
    *,
    folds: np.ndarray | None = None,
    propensities: bool = False,
    marginal: bool = False,
    control: bool = True,
) -> Nuisances:
    """Cross-fitted μ_a(x) (or m(x)), optionally e_a(x), and the control model, in one batch.

    ``marginal``: one outcome model per fold on the rows of every arm, m(x) = E[y | x] =
    Σ_a e_a(x)·μ_a(x) (grf's Ŷ), instead of one per fold and arm. It is all a joint causal
    forest needs, and it halves the predictions to make: on the 70,000 training rows of the
    Nie & Wager trial the causal forest fitted in 2.5 s instead of 2.9 s, at the same error
    (docs/learners.md).

    ``folds`` (a fold number per row) defaults to ``CROSS_FIT_FOLDS`` seeded folds; the
    propensities have their own. They are the design's shares when the given propensities are
    constant within each arm; else one cross-fitted LightGBM classifier per arm (that arm
    against the others; with a single offer only the offer's, and control's chance is the
    rest), each clipped to ``PROPENSITY_CLIP`` and the row normalised. The control model is
    what effect-only learners add their effects to, so that every arm has a level
    (``pred_<arm>``); with ``control=False`` it is left out (``control_model`` is empty) for
    the caller to fit with :func:`fit_control_model` beside other work.
    """
    n, arms = len(data.y), data.n_arms
    if folds is None:
        folds = np.random.default_rng([seed, 1]).permutation(n) % CROSS_FIT_FOLDS
    categorical = [int(c) for c in data.categorical]
    weights = data.sample_weight
    jobs: list[FitJob] = []
    outcome_cells = []
    for fold in range(int(folds.max()) + 1):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        for arm in range(1 if marginal else arms):
            fit_rows = train if marginal else train[data.treatment[train] == arm]
            jobs.append(
                FitJob(
                    data.X[fit_rows],
                    data.y[fit_rows],
                    data.objective,
                    seed + 10 * fold + arm,
                    categorical,
                    None if weights is None else weights[fit_rows],
                    score=data.X[test],
                )
            )
            outcome_cells.append((test, arm))
    shares = _design_shares(data)
    propensity_cells = []
    if propensities and shares is None:
        e_folds = np.random.default_rng([seed, 3]).permutation(n) % CROSS_FIT_FOLDS
        for fold in range(CROSS_FIT_FOLDS):
            train, test = e_folds != fold, np.flatnonzero(e_folds == fold)
            for a in range(1 if arms == 2 else 0, arms):
                jobs.append(
                    FitJob(
                        data.X[train],
                        (data.treatment[train] == a).astype(np.float64),
                        "binary",
                        seed + 700 + 10 * fold + a,
                        categorical,
                        score=data.X[test],
                    )
                )
                propensity_cells.append((test, a))
    if control:
        jobs.append(_control_job(data, seed))
    fitted = fit_and_score(jobs, params)  # outcome jobs, propensity jobs, the control model
    outcomes = fitted[: len(outcome_cells)]
    classifiers = fitted[len(outcome_cells) : len(outcome_cells) + len(propensity_cells)]
    mu = np.empty((n, 1 if marginal else arms))
    for (test, arm), (_, scores) in zip(outcome_cells, outcomes, strict=True):
        mu[test, arm] = scores
    e: np.ndarray | None = None
    if propensities and shares is not None:
        e = np.broadcast_to(shares, (n, arms)).copy()
    elif propensities:
        e = np.empty((n, arms))
        for (test, a), (_, scores) in zip(propensity_cells, classifiers, strict=True):
            e[test, a] = scores
        if arms == 2:
            e[:, 0] = 1.0 - e[:, 1]
        e = np.clip(e, *PROPENSITY_CLIP)
        e /= e.sum(axis=1, keepdims=True)
    return Nuisances(mu, e, model_text(fitted[-1][0]) if control else "")


def fit_control_model(data: TrainingData, params: BoosterParams, seed: int) -> str:
    """The control outcome model of :func:`fit_nuisances`, on one thread (beside a forest)."""
    job = _control_job(data, seed)
    booster = fit_booster(
        job.X,
        job.y,
        objective=job.objective,
        params=replace(params, threads=1),
        seed=job.seed,
        categorical=job.categorical,
        sample_weight=job.sample_weight,
    )
    return model_text(booster)


def _control_job(data: TrainingData, seed: int) -> FitJob:
    """The outcome model under control, fitted on all control rows."""
    control = np.flatnonzero(data.treatment == 0)
    weights = data.sample_weight
    return FitJob(
        data.X[control],
        data.y[control],
        data.objective,
        seed,
        [int(c) for c in data.categorical],
        None if weights is None else weights[control],
    )


def _design_shares(data: TrainingData) -> np.ndarray | None:
    """Every arm's share when the given propensities are constant within each arm, else None."""
    given = [data.propensity[data.treatment == a] for a in range(data.n_arms)]
    if not all(np.ptp(p) == 0 for p in given):
        return None
    shares = np.array([p[0] for p in given])
    return shares / shares.sum()


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
            score=data.X[rows[folds == fold]],
        )
        for fold in range(CROSS_FIT_FOLDS)
    ]
    e = np.empty(rows.size)
    for fold, (_, scores) in enumerate(fit_and_score(jobs, params)):
        e[folds == fold] = scores
    return np.clip(e, *PROPENSITY_CLIP)


def offer_residuals(
    data: TrainingData, mu: np.ndarray, k: int, params: BoosterParams, seed: int
) -> OfferResiduals:
    """Ỹ and W̃ of offer ``k`` on its rows and control's, from :func:`fit_nuisances`' ``mu``."""
    rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
    treated = (data.treatment[rows] == k).astype(np.float64)
    e = offer_propensity(data, k, rows, treated, params, seed)
    y_res = data.y[rows] - (e * mu[rows, k] + (1.0 - e) * mu[rows, 0])
    return OfferResiduals(rows, treated, e, y_res, treated - e)


@dataclass(frozen=True)
class JointResiduals:
    """Residuals of every offer at once, on every row."""

    propensity: np.ndarray  # e_a(x), rows × arms (control first), each row summing to 1
    y_res: np.ndarray  # Ỹ = y − m(x)
    w_res: np.ndarray  # W̃_k = 1[arm = k] − e_k(x), rows × offers


def joint_residuals(data: TrainingData, nuisances: Nuisances) -> JointResiduals:
    """Ỹ and W̃ of all offers on every row, from ``fit_nuisances(..., propensities=True)``.

    Ỹ = y − m(x) with the marginal outcome model, else y − Σ_a e_a(x)·μ_a(x).
    """
    e, mu = nuisances.propensity, nuisances.mu
    if e is None:
        raise ValueError("joint residuals need fit_nuisances(..., propensities=True)")
    arms = np.arange(1, data.n_arms)
    w_res = (data.treatment[:, None] == arms).astype(np.float64) - e[:, 1:]
    y_res = data.y - (mu[:, 0] if mu.shape[1] == 1 else (e * mu).sum(axis=1))
    return JointResiduals(e, y_res, w_res)
