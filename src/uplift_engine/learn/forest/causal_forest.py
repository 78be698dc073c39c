"""Causal forest: orthogonalised, honest, with per-customer confidence intervals (grf's recipe).

Invariant: for each offer ``k`` one forest is grown on the rows of control and offer ``k``,
on residuals — Ỹ = y − m_k(x) and W̃ = 1[arm = k] − e_k(x), where ``m_k`` is a cross-fitted
outcome model (LightGBM per arm, blended by ``e_k``) and ``e_k`` the chance of offer ``k``
against control (the design's when the propensities are constant within each arm, else a
cross-fitted LightGBM classifier). Trees come in little bags of ``group_size`` trees sharing a
half-sample; each tree splits its half-sample in two, grows its splits on one half and
estimates its leaves on the other (honesty), so a leaf's means of (W̃, Ỹ, W̃·Ỹ, W̃²) never saw
the rows that chose the split. The forest effect is θ = (M_wy − M_w·M_y)/(M_ww − M_w²) over the
tree-averaged leaf means, and its variance is the bootstrap of little bags (Athey, Tibshirani &
Wager 2019, with grf's Bayes debiasing) — see :class:`~uplift_engine.learn.tree_ensemble.
TreeEnsemble`. ``pred_<control>`` comes from a LightGBM control outcome model fitted on all
control rows, and ``pred_<offer>`` = that plus θ_k (clipped to [0, 1] for binary outcomes).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.base import PROPENSITY_CLIP, TrainingData, UpliftLearner
from uplift_engine.learn.boosting import BoosterParams, fit_booster, model_text, predict
from uplift_engine.learn.forest.binning import MAX_BINS, Binning, fit_bins
from uplift_engine.learn.forest.builder import (
    GrownTree,
    GrowSpec,
    assemble,
    grow,
    in_parallel,
    sorted_sample,
)
from uplift_engine.learn.forest.criteria import CAUSAL, CAUSAL_SLOTS
from uplift_engine.learn.forest.leaves import causal_leaf_values, route_stats
from uplift_engine.learn.graph import IntervalSpec, ScoringGraph, Term
from uplift_engine.learn.tree_ensemble import TreeEnsemble

CROSS_FIT_FOLDS = 2
MIN_CHILD_SHARE = 0.05
"""A split must leave each child at least 5% of the node's rows (grf's ``alpha``)."""
LEAVES_PER_TREE = 2_000
"""With ``min_samples_leaf=None`` leaves hold at least 1/2000 of a tree's splitting rows (and
at least 10), which bounds a forest's size and scoring time on millions of rows."""


class CausalForest(UpliftLearner):
    """Honest causal forest on orthogonalised residuals, one per offer, with intervals."""

    name = "causal_forest"
    has_intervals: ClassVar[bool] = True

    def __init__(
        self,
        *,
        params: BoosterParams | None = None,
        seed: int = 0,
        n_trees: int = 100,
        group_size: int = 10,
        min_samples_leaf: int | None = None,
        min_samples_treatment: int = 2,
        max_depth: int = 10,
        max_features: int | None = 10,
        sample_fraction: float = 0.5,
        interval_level: float = 0.9,
        max_bins: int = MAX_BINS,
    ) -> None:
        super().__init__(params=params, seed=seed)
        self.n_trees = n_trees
        self.group_size = group_size
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.max_depth = max_depth
        self.max_features = max_features
        self.sample_fraction = sample_fraction
        self.interval_level = interval_level
        self.max_bins = max_bins

    def predict_interval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper confidence bounds of every offer's effect, each (n, K)."""
        return self._graph().predict_interval(X)

    def _fit(self, data: TrainingData) -> ScoringGraph:
        self._check_sizes()
        params = self._booster_params
        threads = params.threads
        mu = self._outcome_models(data)
        binning = fit_bins(
            data.X, data.categorical, max_bins=self.max_bins, seed=self.seed, threads=threads
        )
        weight = data.sample_weight if data.sample_weight is not None else np.ones(len(data.y))
        ensembles: dict[str, TreeEnsemble] = {}
        levels: list[list[Term]] = [[Term("mu_0")]]
        variance: list[list[Term]] = []
        for k in range(1, data.n_arms):
            rows = np.flatnonzero((data.treatment == 0) | (data.treatment == k))
            treated = (data.treatment[rows] == k).astype(np.float64)
            e = self._propensity(data, k, rows, treated)
            y_res = data.y[rows] - (e * mu[rows, k] + (1.0 - e) * mu[rows, 0])
            w_res = treated - e
            ensembles[f"cf_{k}"] = self._forest(
                k, binning, rows, treated, w_res, y_res, weight[rows], threads
            )
            levels.append([Term("mu_0"), Term(f"cf_{k}")])
            variance.append([Term(f"cf_{k}")])
        control = np.flatnonzero(data.treatment == 0)
        control_model = fit_booster(
            data.X[control],
            data.y[control],
            objective=data.objective,
            params=params,
            seed=self.seed,
            categorical=[int(c) for c in data.categorical],
            sample_weight=None if data.sample_weight is None else data.sample_weight[control],
        )
        return ScoringGraph(
            {"mu_0": model_text(control_model)},
            levels,
            clip=(0.0, 1.0) if data.objective == "binary" else None,
            threads=threads,
            ensembles=ensembles,
            intervals=IntervalSpec(variance, level=self.interval_level, kind="confidence"),
        )

    def _outcome_models(self, data: TrainingData) -> np.ndarray:
        """Cross-fitted outcome of every row under every arm, shape (n, K + 1)."""
        params = self._booster_params
        n = len(data.y)
        folds = np.random.default_rng([self.seed, 1]).permutation(n) % CROSS_FIT_FOLDS
        mu = np.empty((n, data.n_arms))
        for fold in range(CROSS_FIT_FOLDS):
            train = np.flatnonzero(folds != fold)
            test = np.flatnonzero(folds == fold)
            for arm in range(data.n_arms):
                fit_rows = train[data.treatment[train] == arm]
                weights = data.sample_weight
                booster = fit_booster(
                    data.X[fit_rows],
                    data.y[fit_rows],
                    objective=data.objective,
                    params=params,
                    seed=self.seed + 10 * fold + arm,
                    categorical=[int(c) for c in data.categorical],
                    sample_weight=None if weights is None else weights[fit_rows],
                )
                mu[test, arm] = predict(booster, data.X[test], params.threads)
        return mu

    def _propensity(
        self, data: TrainingData, k: int, rows: np.ndarray, treated: np.ndarray
    ) -> np.ndarray:
        """Chance of offer ``k`` against control for each of ``rows``."""
        given = data.propensity[rows]
        arm = data.treatment[rows]
        p_offer, p_control = given[arm == k], given[arm == 0]
        if np.ptp(p_offer) == 0 and np.ptp(p_control) == 0:
            share = p_offer[0] / (p_offer[0] + p_control[0])
            return np.full(rows.size, share)
        params = self._booster_params
        folds = np.random.default_rng([self.seed, 2, k]).permutation(rows.size) % CROSS_FIT_FOLDS
        e = np.empty(rows.size)
        for fold in range(CROSS_FIT_FOLDS):
            train = np.flatnonzero(folds != fold)
            test = np.flatnonzero(folds == fold)
            booster = fit_booster(
                data.X[rows[train]],
                treated[train],
                objective="binary",
                params=params,
                seed=self.seed + 500 + 10 * fold + k,
                categorical=[int(c) for c in data.categorical],
            )
            e[test] = predict(booster, data.X[rows[test]], params.threads)
        return np.clip(e, *PROPENSITY_CLIP)

    def _forest(
        self,
        k: int,
        binning: Binning,
        rows: np.ndarray,
        treated: np.ndarray,
        w_res: np.ndarray,
        y_res: np.ndarray,
        weight: np.ndarray,
        threads: int,
    ) -> TreeEnsemble:
        """Grow offer ``k``'s honest forest on its rows (indices into the binned matrix)."""
        n_all = binning.bins.shape[0]
        vals = np.zeros((n_all, CAUSAL_SLOTS))
        vals[rows] = np.column_stack(
            [
                np.ones(rows.size),
                treated,
                weight,
                weight * w_res,
                weight * y_res,
                weight * w_res * y_res,
                weight * w_res * w_res,
            ]
        )
        offset = np.zeros(n_all, dtype=np.int64)
        half = max(4, rows.size // 2)
        size = max(4, min(half, int(self.sample_fraction * rows.size)))
        split_rows = size - size // 2
        min_leaf = self.min_samples_leaf or max(10, math.ceil(split_rows / LEAVES_PER_TREE))
        spec = GrowSpec(
            kind=CAUSAL,
            slots=CAUSAL_SLOTS,
            n_arms=2,
            max_depth=self.max_depth,
            min_leaf=min_leaf,
            min_arm=self.min_samples_treatment,
            max_features=min(self.max_features or binning.bins.shape[1], binning.bins.shape[1]),
            min_share=MIN_CHILD_SHARE,
        )
        ell = self.group_size

        def one_tree(t: int) -> GrownTree:
            group_rng = np.random.default_rng([self.seed, k, t // ell])
            sample = rows[sorted_sample(group_rng, rows.size, half, replace=False)]
            rng = np.random.default_rng([self.seed, k, t // ell, t % ell])
            shuffled = rng.choice(sample, size=size, replace=False)
            grow_rows = np.sort(shuffled[:split_rows])
            estimate_rows = np.sort(shuffled[split_rows:])
            seed = int(rng.integers(0, 2**62))
            feature, thr, left, right, cat_row, cat_masks, _ = grow(
                spec, binning, grow_rows, offset, vals, seed
            )
            stats = route_stats(
                binning.bins, estimate_rows, offset, vals, feature, thr, left, right,
                cat_row, cat_masks, CAUSAL_SLOTS,
            )
            values = causal_leaf_values(stats, left, right, 1)
            return GrownTree(feature, thr, left, right, cat_row, cat_masks, values)

        trees = in_parallel(one_tree, self.n_trees, threads)
        return assemble(trees, binning, combine="causal", group_size=ell, threads=threads)

    def _check_sizes(self) -> None:
        checks = {
            "group_size": self.group_size >= 2,
            "n_trees": self.n_trees >= self.group_size and self.n_trees % self.group_size == 0,
            "min_samples_leaf": self.min_samples_leaf is None or self.min_samples_leaf >= 1,
            "min_samples_treatment": self.min_samples_treatment >= 1,
            "max_depth": 1 <= self.max_depth <= 30,
            "max_features": self.max_features is None or self.max_features >= 1,
            "sample_fraction": 0 < self.sample_fraction <= 0.5,
            "interval_level": 0 < self.interval_level < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ConfigError(
                f"causal_forest {name} is out of range: got {getattr(self, name)!r} "
                "(n_trees must be a multiple of group_size ≥ 2; sample_fraction at most 0.5)",
                field=name,
            )
