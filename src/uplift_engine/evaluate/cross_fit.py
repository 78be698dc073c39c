"""Out-of-fold effects: every row's estimate from a model that never saw it.

Invariant: for each fold, a fresh learner from ``make`` is fitted on the rows of the other
folds and predicts that fold; no row's estimate comes from a model fitted on it. Cross-fitted
effects are what ``--learner auto`` compares candidates on and what a cross-fitted evaluation
measures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from uplift_engine.learn.data import CampaignData
from uplift_engine.learn.training import UpliftLearner

LearnerFactory = Callable[[], UpliftLearner]
"""Makes a fresh, unfitted learner of one configuration."""


def cross_fitted_effects(data: CampaignData, make: LearnerFactory, fold: np.ndarray) -> np.ndarray:
    """Every row's effect estimates (n, K) from a learner fitted on the other folds."""
    effects = np.empty((len(data.y), len(data.arms.offers)))
    for model, test in _fold_models(data, make, fold):
        effects[test] = model.predict(data.X[test])
    return effects


def cross_fitted_predictions(
    data: CampaignData, make: LearnerFactory, fold: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's effects (n, K) and outcome levels (n, K + 1), each fold from the others."""
    effects = np.empty((len(data.y), len(data.arms.offers)))
    levels = np.empty((len(data.y), len(data.arms.names)))
    for model, test in _fold_models(data, make, fold):
        effects[test] = model.predict(data.X[test])
        levels[test] = model.predict_outcomes(data.X[test])
    return effects, levels


def _fold_models(
    data: CampaignData, make: LearnerFactory, fold: np.ndarray
) -> Iterator[tuple[UpliftLearner, np.ndarray]]:
    """Per fold: a fresh learner fitted on the other folds, and the fold's rows."""
    for f in np.unique(fold):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        model = make().fit(
            data.X[train],
            data.treatment[train],
            data.y[train],
            propensity=None if data.propensity is None else data.propensity[train],
            categorical=data.encoder.categorical_indices,
        )
        yield model, test


def fold_arm_rows(treatment: np.ndarray, fold: np.ndarray, n_arms: int) -> np.ndarray:
    """The fewest rows of each arm that any fold's fit (every fold but one) is given."""
    fits = [np.bincount(treatment[fold != f], minlength=n_arms) for f in np.unique(fold)]
    return np.min(np.vstack(fits), axis=0)
