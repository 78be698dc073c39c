"""Meta-learners on LightGBM: T (one model per arm), X (imputed effects) and DR (doubly robust).

All three export to the same :class:`ScoringGraph`. Effect models (X, DR) pair with a control
outcome model so that ``pred_<arm>`` exists for every arm; for binary outcomes arm levels are
clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

from uplift_engine.learn.graph import ScoringGraph, Term
from uplift_engine.learn.training.base import TrainingData, UpliftLearner
from uplift_engine.learn.training.boosting import (
    BoosterParams,
    FitJob,
    fit_booster,
    fit_boosters,
    model_text,
    predict,
)
from uplift_engine.learn.training.forest.binning import MAX_BINS
from uplift_engine.learn.training.forest.dr_forest import pseudo_outcome_forests
from uplift_engine.learn.training.forest.honest import HonestSettings, honest_shortfall
from uplift_engine.learn.training.nuisance import fit_nuisances
from uplift_engine.learn.training.r_learner import (
    check_final_stage,
)

CROSS_FIT_FOLDS = 3


def _clip(data: TrainingData) -> tuple[float, float] | None:
    return (0.0, 1.0) if data.objective == "binary" else None


def _weights(data: TrainingData, rows: np.ndarray) -> np.ndarray | None:
    return None if data.sample_weight is None else data.sample_weight[rows]


class _ArmModels:
    """One outcome model per arm, each fitted on that arm's rows."""

    def __init__(self, learner: UpliftLearner, data: TrainingData) -> None:
        params = learner._booster_params
        jobs = []
        for arm in range(data.n_arms):
            rows = np.flatnonzero(data.treatment == arm)
            jobs.append(
                FitJob(
                    data.X[rows],
                    data.y[rows],
                    data.objective,
                    learner.seed + arm,
                    data.categorical,
                    _weights(data, rows),
                )
            )
        self.boosters = fit_boosters(jobs, params)
        self.threads = params.threads

    def predict(self, arm: int, X: np.ndarray) -> np.ndarray:
        return predict(self.boosters[arm], X, self.threads)


class TLearner(UpliftLearner):
    """Two-model (here K + 1 model) learner: an outcome model per arm."""

    name = "t_learner"

    def _fit(self, data: TrainingData) -> ScoringGraph:
        arms = _ArmModels(self, data)
        models = {f"mu_{a}": model_text(b) for a, b in enumerate(arms.boosters)}
        levels = [[Term(f"mu_{a}")] for a in range(data.n_arms)]
        return ScoringGraph(models, levels, clip=_clip(data), threads=self._booster_params.threads)


class XLearner(UpliftLearner):
    """X-learner (Künzel et al. 2019): imputed effects in each arm, blended by propensity."""

    name = "x_learner"

    def _fit(self, data: TrainingData) -> ScoringGraph:
        params = self._booster_params
        arms = _ArmModels(self, data)
        control = np.flatnonzero(data.treatment == 0)
        models = {"mu_0": model_text(arms.boosters[0])}
        levels: list[list[Term]] = [[Term("mu_0")]]
        shares = data.arm_shares
        jobs = []
        for k in range(1, data.n_arms):
            treated = np.flatnonzero(data.treatment == k)
            d_treated = data.y[treated] - arms.predict(0, data.X[treated])
            d_control = arms.predict(k, data.X[control]) - data.y[control]
            jobs.append(
                FitJob(
                    data.X[treated],
                    d_treated,
                    "regression",
                    self.seed + 100 + k,
                    data.categorical,
                    _weights(data, treated),
                )
            )
            jobs.append(
                FitJob(
                    data.X[control],
                    d_control,
                    "regression",
                    self.seed + 200 + k,
                    data.categorical,
                    _weights(data, control),
                )
            )
        boosters = fit_boosters(jobs, params)
        for k in range(1, data.n_arms):
            tau_treated, tau_control = boosters[2 * k - 2], boosters[2 * k - 1]
            g = shares[k] / (shares[k] + shares[0])  # weight of the control-side estimate
            models[f"tau_{k}_t"] = model_text(tau_treated)
            models[f"tau_{k}_c"] = model_text(tau_control)
            levels.append([Term("mu_0"), Term(f"tau_{k}_c", g), Term(f"tau_{k}_t", 1.0 - g)])
        return ScoringGraph(models, levels, clip=_clip(data), threads=params.threads)


class DRLearner(UpliftLearner):
    """Cross-fitted doubly robust learner: regress the AIPW pseudo-outcome on features.

    ``final_stage="lightgbm"`` (default) regresses it with LightGBM (point estimates);
    ``"forest"`` with an honest regression forest per offer whose little bags give 90%
    confidence intervals (EconML's ``ForestDRLearner``; :mod:`.forest.dr_forest`). The
    forest keywords (``n_trees`` …) are the causal forest's and apply to ``"forest"`` only.
    """

    name = "dr_learner"

    @property
    def has_intervals(self) -> bool:
        """True with ``final_stage="forest"`` (its honest forest bounds the effects)."""
        return self.final_stage == "forest"

    def __init__(
        self,
        *,
        params: BoosterParams | None = None,
        seed: int = 0,
        final_stage: str = "lightgbm",
        n_trees: int = 100,
        group_size: int = 20,
        min_samples_leaf: int | None = None,
        min_samples_treatment: int = 2,
        max_depth: int | None = None,
        max_features: int | None = 10,
        sample_fraction: float = 0.5,
        interval_level: float = 0.9,
        max_bins: int = MAX_BINS,
    ) -> None:
        super().__init__(params=params, seed=seed)
        self.final_stage = final_stage
        self.n_trees = n_trees
        self.group_size = group_size
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.max_depth = max_depth
        self.max_features = max_features
        self.sample_fraction = sample_fraction
        self.interval_level = interval_level
        self.max_bins = max_bins

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """With ``final_stage="forest"``: too few rows for its honest trees to split."""
        short = super().shortfall(arm_rows)
        if short is None and self.final_stage == "forest":
            return honest_shortfall(self, HonestSettings.of(self), arm_rows)
        return short

    def _fit(self, data: TrainingData) -> ScoringGraph:
        params = self._booster_params
        forest = check_final_stage(self.name, self.final_stage) == "forest"
        settings = HonestSettings.of(self) if forest else None
        n = len(data.y)
        rng = np.random.default_rng(self.seed)
        folds = rng.permutation(n) % CROSS_FIT_FOLDS
        nuisances = fit_nuisances(data, params, self.seed, folds=folds)
        mu = nuisances.mu
        residual = (data.y - mu[np.arange(n), data.treatment]) / data.propensity
        models = {"mu_0": nuisances.control_model}
        levels: list[list[Term]] = [[Term("mu_0")]]
        pseudo_all = np.empty((n, data.n_arms - 1))
        for k in range(1, data.n_arms):
            pseudo = mu[:, k] - mu[:, 0]
            pseudo = pseudo + np.where(data.treatment == k, residual, 0.0)
            pseudo = pseudo - np.where(data.treatment == 0, residual, 0.0)
            pseudo_all[:, k - 1] = pseudo
            levels.append([Term("mu_0"), Term(f"tau_{k}")])
            if settings is not None:
                continue
            tau = fit_booster(
                data.X,
                pseudo,
                objective="regression",
                params=params,
                seed=self.seed + 300 + k,
                categorical=data.categorical,
                sample_weight=data.sample_weight,
            )
            models[f"tau_{k}"] = model_text(tau)
        if settings is not None:
            ensembles, intervals = pseudo_outcome_forests(
                data, pseudo_all, settings, seed=self.seed, threads=params.threads
            )
            return ScoringGraph(
                models,
                levels,
                clip=_clip(data),
                threads=params.threads,
                ensembles=ensembles,
                intervals=intervals,
            )
        return ScoringGraph(models, levels, clip=_clip(data), threads=params.threads)


class SLearner(UpliftLearner):
    """Single-model learner: one outcome model with the arm as a categorical feature."""

    name = "s_learner"

    def _fit(self, data: TrainingData) -> ScoringGraph:
        params = self._booster_params
        arm_index = data.X.shape[1]
        inputs = np.column_stack([data.X, data.treatment.astype(np.float64)])
        booster = fit_booster(
            inputs,
            data.y,
            objective=data.objective,
            params=params,
            seed=self.seed,
            categorical=[*data.categorical, arm_index],
            sample_weight=data.sample_weight,
        )
        levels = [[Term("mu", arm_column=float(a))] for a in range(data.n_arms)]
        return ScoringGraph(
            {"mu": model_text(booster)}, levels, clip=_clip(data), threads=params.threads
        )


class TransformedOutcomeLearner(UpliftLearner):
    """Transformed outcome (class transformation for binary outcomes, with propensities).

    Per offer k, on the rows of k and control, ``z = y · (1[T=k]/e_k − 1[T=0]/e_0)`` has the
    effect as its expectation given the features; one regression per offer estimates it.
    """

    name = "transformed_outcome"

    def _fit(self, data: TrainingData) -> ScoringGraph:
        params = self._booster_params
        control = np.flatnonzero(data.treatment == 0)
        mu_0 = fit_booster(
            data.X[control],
            data.y[control],
            objective=data.objective,
            params=params,
            seed=self.seed,
            categorical=data.categorical,
            sample_weight=_weights(data, control),
        )
        models = {"mu_0": model_text(mu_0)}
        levels: list[list[Term]] = [[Term("mu_0")]]
        for k in range(1, data.n_arms):
            rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
            sign = np.where(data.treatment[rows] == k, 1.0, -1.0)
            z = sign * data.y[rows] / data.propensity[rows]
            tau = fit_booster(
                data.X[rows],
                z,
                objective="regression",
                params=params,
                seed=self.seed + k,
                categorical=data.categorical,
                sample_weight=_weights(data, rows),
            )
            models[f"tau_{k}"] = model_text(tau)
            levels.append([Term("mu_0"), Term(f"tau_{k}")])
        return ScoringGraph(models, levels, clip=_clip(data), threads=params.threads)
