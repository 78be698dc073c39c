"""Base models for the learners: one place that sets the parameters and the stopping rule.

Every booster is fitted with its library's native API (no scikit-learn), a fixed seed, a set
thread count, and stops early on a seeded validation split, so the same data and seed give the
same model. LightGBM is the default; CatBoost (``BoosterParams(library="catboost")``, an
optional extra imported only when asked for) reads the shared parameters with the same meaning:

==================  ==========================  =============================================
shared parameter    LightGBM                    CatBoost
==================  ==========================  =============================================
n_estimators        num_boost_round             iterations
learning_rate       learning_rate               learning_rate (default: 0.05, or 0.1 from
                                                100,000 rows — see ``rate_for``)
num_leaves          num_leaves                  depth = ceil(log2(num_leaves)), 31 → 5
                                                (a symmetric tree with at least that many
                                                leaves), between 1 and 16
min_child_samples   min_data_in_leaf            — (symmetric trees have no such limit)
subsample           bagging_fraction            subsample (Bernoulli bootstrap)
colsample           feature_fraction            rsm
reg_lambda          lambda_l2                   l2_leaf_reg
threads, seed       num_threads, seed           thread_count, random_seed
categorical         categorical_feature         cat_features (level codes, −1 = missing;
                    (max_cat_to_onehot 8)       one_hot_max_size 8, target statistics above)
==================  ==========================  =============================================

Binary outcomes fit ``Logloss`` and predict probabilities; continuous ones fit ``RMSE``.
Early stopping uses the same seeded validation split for both libraries.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.catboost_model import (
    CatBoostBooster,
    catboost_features,
    catboost_text,
)

Objective = Literal["binary", "regression"]
Library = Literal["lightgbm", "catboost"]
LIBRARIES: tuple[str, ...] = ("lightgbm", "catboost")
"""The base-model libraries, the default first."""
VOLATILE_CATBOOST_METADATA = ("model_guid", "train_finish_time")
"""What CatBoost stamps on a model that differs from fit to fit; removed after fitting."""
LEARNING_RATE = 0.05
LARGE_LEARNING_RATE = 0.1
LARGE_ROWS = 100_000
"""Default learning rates: ``LEARNING_RATE`` for boosters fitted on fewer rows than
``LARGE_ROWS``, ``LARGE_LEARNING_RATE`` from there."""
SMALL_FIT_ROWS = 100_000
"""Below this many rows :func:`fit_boosters` fits independent LightGBM boosters side by side,
one thread each, instead of one after the other on every thread. On 2 cores with
``OMP_WAIT_POLICY=PASSIVE`` (the CLI's default) a 17,500-row booster took 0.42 s on 2 threads
and 0.17 s on one; the two threads only pay from about 150,000 rows."""


MIN_LEAF_ROWS = 20
"""A LightGBM leaf holds at least ``min_child_samples`` rows, or a twentieth of the booster's rows
when that is fewer, but never fewer than ``MIN_LEAF_ROWS`` (LightGBM's own default). With the
earlier floor of 5, boosters of a few hundred rows (a pilot's arm) grew leaves of 5–15 rows that
fitted noise: on the benchmark's small real trials (445 to 2,834 rows, docs/learners.md) a floor
of 20 raised the T-learner's cross-fitted Qini on NSW from −0.023 to +0.010 and on the
simulator's 600-row sample from −0.045 to −0.014, and left the other trials within ±0.003; a
floor of 50 did worse (NSW −0.043)."""


@dataclass(frozen=True, kw_only=True)
class BoosterParams:
    """Hyper-parameters shared by every base model of a learner."""

    n_estimators: int = 400
    learning_rate: float | None = None
    """``None``: :data:`LEARNING_RATE` below :data:`LARGE_ROWS` rows, :data:`LARGE_LEARNING_RATE`
    from there (see :meth:`rate_for`)."""
    num_leaves: int = 31
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 30
    validation_share: float = 0.15
    threads: int = 2
    library: Library = "lightgbm"
    """Which library fits the base models: ``lightgbm`` (default) or ``catboost``."""

    def __post_init__(self) -> None:
        if self.library not in LIBRARIES:
            raise ConfigError(
                f"booster library must be one of {', '.join(map(repr, LIBRARIES))}; "
                f"got {self.library!r}",
                field="library",
            )

    def rate_for(self, n_rows: int) -> float:
        """The learning rate of a booster fitted on ``n_rows`` rows.

        Early stopping picks the number of rounds; the rate sets how many that takes. Below
        ``LARGE_ROWS`` the finer 0.05 pays (on the simulator's 21,000 training rows the
        X-learner's effect correlation with the truth was 0.26 at 0.05 and 0.15 at 0.1 for one
        offer); from there 0.1 (LightGBM's own default) halves the trees every customer is
        scored with, at a held-out Qini within 1% (T-learner, 700,000 rows).
        """
        if self.learning_rate is not None:
            return self.learning_rate
        return LARGE_LEARNING_RATE if n_rows >= LARGE_ROWS else LEARNING_RATE

    @property
    def depth(self) -> int:
        """CatBoost's tree depth: the symmetric tree with at least ``num_leaves`` leaves."""
        return min(16, max(1, math.ceil(math.log2(max(2, self.num_leaves)))))

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
) -> Any:
    """Fit one booster, stopping early on a seeded validation split when there are rows enough.

    Returns a ``lightgbm.Booster``, or a :class:`CatBoostBooster` when ``params.library`` is
    ``catboost``; :func:`model_text` and :func:`predict` take either.
    """
    if params.library == "catboost":
        return _fit_catboost(
            X,
            y,
            objective=objective,
            params=params,
            seed=seed,
            categorical=categorical or [],
            sample_weight=sample_weight,
        )
    n = X.shape[0]
    lgb_params: dict[str, Any] = {
        "objective": objective,
        "learning_rate": params.rate_for(n),
        "num_leaves": params.num_leaves,
        "min_data_in_leaf": min(params.min_child_samples, max(MIN_LEAF_ROWS, n // 20)),
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


@dataclass(frozen=True)
class FitJob:
    """One booster of :func:`fit_boosters`: the arguments of :func:`fit_booster` but ``params``."""

    X: np.ndarray
    y: np.ndarray
    objective: Objective
    seed: int
    categorical: list[int] | None = None
    sample_weight: np.ndarray | None = None
    score: np.ndarray | None = None
    """Rows to predict with the fitted booster on the job's own thread (:func:`fit_and_score`):
    a cross-fitted nuisance's held-out fold."""


def fit_boosters(jobs: Sequence[FitJob], params: BoosterParams) -> list[Any]:
    """Fit independent boosters, in order: side by side on one thread each when they are small.

    See :func:`fit_and_score`, of which this keeps the boosters.
    """
    return [booster for booster, _ in fit_and_score(jobs, params)]


def fit_and_score(
    jobs: Sequence[FitJob], params: BoosterParams
) -> list[tuple[Any, np.ndarray | None]]:
    """Fit independent boosters and predict each job's ``score`` rows; in the order of ``jobs``.

    LightGBM boosters of fewer than :data:`SMALL_FIT_ROWS` rows each are fitted by
    ``params.threads`` Python threads (LightGBM releases the GIL while it trains and predicts),
    each booster on one thread, and predicted there — the same models and predictions whatever
    ``params.threads`` is; a single small booster too is fitted on one thread. The larger jobs
    start first (by training rows plus half the rows to predict, about their relative cost), so
    that the threads end together. Larger boosters, and CatBoost's, are fitted one after the
    other with ``params.threads`` threads each.
    """

    def run(job: FitJob, job_params: BoosterParams) -> tuple[Any, np.ndarray | None]:
        booster = fit_booster(
            job.X,
            job.y,
            objective=job.objective,
            params=job_params,
            seed=job.seed,
            categorical=job.categorical,
            sample_weight=job.sample_weight,
        )
        scores = None if job.score is None else predict(booster, job.score, job_params.threads)
        return booster, scores

    small = all(job.X.shape[0] < SMALL_FIT_ROWS for job in jobs)
    if params.library != "lightgbm" or not small:
        return [run(job, params) for job in jobs]
    single = replace(params, threads=1)

    def cost(i: int) -> int:
        score = jobs[i].score
        return jobs[i].X.shape[0] + (0 if score is None else score.shape[0] // 2)

    order = sorted(range(len(jobs)), key=cost, reverse=True)
    results: list[tuple[Any, np.ndarray | None]] = [(None, None)] * len(jobs)
    with ThreadPoolExecutor(max(1, min(params.threads, len(jobs)))) as pool:
        for i, result in zip(order, pool.map(lambda i: run(jobs[i], single), order), strict=True):
            results[i] = result
    return results


def model_text(booster: Any) -> str:
    """The booster's model at its best iteration, as :class:`ScoringGraph` carries it.

    LightGBM: its text model. CatBoost: its ``.cbm`` model behind the CatBoost header.
    """
    if isinstance(booster, CatBoostBooster):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.cbm"
            booster.model.save_model(str(path), format="cbm")
            return catboost_text(path.read_bytes())
    best = booster.best_iteration or None
    return str(booster.model_to_string(num_iteration=best))


def predict(booster: Any, X: np.ndarray, threads: int) -> np.ndarray:
    """Predictions at the best iteration (probabilities for binary outcomes)."""
    if isinstance(booster, CatBoostBooster):
        return booster.predict(X, num_threads=threads)
    best = booster.best_iteration or None
    return np.asarray(booster.predict(X, num_iteration=best, num_threads=threads), dtype=np.float64)


def _fit_catboost(
    X: np.ndarray,
    y: np.ndarray,
    *,
    objective: Objective,
    params: BoosterParams,
    seed: int,
    categorical: list[int],
    sample_weight: np.ndarray | None,
) -> CatBoostBooster:
    try:
        import catboost
    except ImportError as exc:
        raise ConfigError(
            "booster library 'catboost' is not installed: pip install 'uplift-engine[catboost]'",
            field="library",
        ) from exc
    n = X.shape[0]
    cats = sorted({int(c) for c in categorical})
    numeric = [j for j in range(X.shape[1]) if j not in set(cats)]
    cb_params: dict[str, Any] = {
        "loss_function": "Logloss" if objective == "binary" else "RMSE",
        "learning_rate": params.rate_for(n),
        "depth": params.depth,
        "l2_leaf_reg": params.reg_lambda,
        "rsm": params.colsample,
        "bootstrap_type": "Bernoulli",
        "subsample": params.subsample,
        "one_hot_max_size": 8,
        "thread_count": params.threads,
        "random_seed": seed,
        "verbose": False,
        "allow_writing_files": False,
    }

    def pool(rows: np.ndarray) -> Any:
        return catboost.Pool(
            catboost_features(X[rows], numeric, cats),
            label=y[rows],
            weight=None if sample_weight is None else sample_weight[rows],
        )

    rng = np.random.default_rng(seed)
    n_valid = int(n * params.validation_share)
    model = catboost.CatBoost(cb_params)
    if n_valid >= 200 and params.early_stopping_rounds > 0:
        order = rng.permutation(n)
        valid, train = order[:n_valid], order[n_valid:]
        model.set_params(iterations=params.n_estimators, use_best_model=True)
        model.fit(
            pool(train),
            eval_set=pool(valid),
            early_stopping_rounds=params.early_stopping_rounds,
        )
    else:
        model.set_params(iterations=max(20, min(params.n_estimators, n // 10)))
        model.fit(pool(np.arange(n)))
    metadata = model.get_metadata()
    for key in VOLATILE_CATBOOST_METADATA:  # same data and seed → same model bytes
        if key in metadata:
            del metadata[key]
    return CatBoostBooster(model)
