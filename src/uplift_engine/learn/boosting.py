"""LightGBM models for the learners: one place that sets the parameters and the stopping rule.

Every booster is fitted with the native API (no scikit-learn), a fixed seed, ``deterministic``
and a set thread count, and stops early on a seeded validation split, so the same data and
seed give the same model text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np

Objective = Literal["binary", "regression"]


@dataclass(frozen=True, kw_only=True)
class BoosterParams:
    """Hyper-parameters shared by every base model of a learner."""

    n_estimators: int = 400
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 30
    validation_share: float = 0.15
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        """The parameters for a manifest."""
        return asdict(self)


def fit_booster(
    X: np.ndarray,
    y: np.ndarray,
    *,
    objective: Objective,
    params: BoosterParams,
    seed: int,
    categorical: list[int] | None = None,
    sample_weight: np.ndarray | None = None,
) -> lgb.Booster:
    """Fit one booster, stopping early on a seeded validation split when there are rows enough."""
    n = X.shape[0]
    lgb_params: dict[str, Any] = {
        "objective": objective,
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_data_in_leaf": min(params.min_child_samples, max(5, n // 20)),
        "bagging_fraction": params.subsample,
        "bagging_freq": 1,
        "feature_fraction": params.colsample,
        "lambda_l2": params.reg_lambda,
        "num_threads": params.threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
        "max_cat_to_onehot": 8,
        "cat_smooth": 20.0,
    }
    cats: list[int] | Literal["auto"] = categorical or "auto"
    rng = np.random.default_rng(seed)
    n_valid = int(n * params.validation_share)
    if n_valid >= 200 and params.early_stopping_rounds > 0:
        order = rng.permutation(n)
        valid, train = order[:n_valid], order[n_valid:]
        w_train = None if sample_weight is None else sample_weight[train]
        w_valid = None if sample_weight is None else sample_weight[valid]
        train_set = lgb.Dataset(
            X[train], y[train], weight=w_train, categorical_feature=cats, free_raw_data=True
        )
        valid_set = lgb.Dataset(X[valid], y[valid], weight=w_valid, reference=train_set)
        booster = lgb.train(
            lgb_params,
            train_set,
            num_boost_round=params.n_estimators,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
        )
    else:
        train_set = lgb.Dataset(X, y, weight=sample_weight, categorical_feature=cats)
        rounds = max(20, min(params.n_estimators, n // 10))
        booster = lgb.train(lgb_params, train_set, num_boost_round=rounds)
    return booster


def model_text(booster: lgb.Booster) -> str:
    """The booster's text model at its best iteration."""
    best = booster.best_iteration or None
    return str(booster.model_to_string(num_iteration=best))


def predict(booster: lgb.Booster, X: np.ndarray, threads: int) -> np.ndarray:
    """Predictions at the best iteration."""
    best = booster.best_iteration or None
    return np.asarray(booster.predict(X, num_iteration=best, num_threads=threads), dtype=np.float64)
