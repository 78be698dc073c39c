"""Causal forest: orthogonalised, honest, with per-customer confidence intervals (grf's recipe).

Invariant: by default one forest estimates every offer's effect at once (grf's multi-arm causal
forest), grown on every row on residuals — Ỹ = y − m(x) and W̃_k = 1[arm = k] − e_k(x), where
``m`` is a cross-fitted LightGBM model of the outcome whatever the arm (grf's Ŷ) and ``e_a`` the
chance of each arm (the design's when the propensities are constant within each arm, else
cross-fitted LightGBM classifiers). With ``joint_arms=False`` one forest per offer ``k`` is grown
on the rows of control and ``k`` instead, on Ỹ = y − m_k(x), m_k = e_k·μ_k + (1 − e_k)·μ_0
from cross-fitted per-arm outcome models μ_a, and W̃ = 1[arm = k] − e_k(x) against control
alone. Trees come in little bags of ``group_size`` trees sharing a half-sample; each tree splits
its half-sample in two, grows its splits on one half and estimates its leaves on the other
(honesty), so a leaf's means of the residual products never saw the rows that chose the split.
A split maximises grf's gradient criterion, Σ_children ‖Σw·ρ‖²/Σw of the node's pseudo-outcomes
ρ (the first-order expansion of the effects' heterogeneity Σ_children Σw·‖θ_c − θ‖²). The
forest's effects solve the residual-on-residual regression over the tree-averaged leaf means
(θ = (M_wy − M_w·M_y)/(M_ww − M_w²) for one offer), and their variances are the bootstrap of
little bags (Athey, Tibshirani & Wager 2019, with grf's Bayes debiasing, plus the Monte Carlo
variance of a forest of few bags) — see :class:`~uplift_engine.learn.tree_ensemble.TreeEnsemble`.
A second, correcting forest on what the first one missed is added when it lowers the
out-of-bag R-loss (:mod:`~uplift_engine.learn.training.forest.correction`): its effects add to the
first's, and so do its variances, and its effect bounds the bias left in the intervals. The
nuisances learn at ``NUISANCE_LEARNING_RATE`` unless the booster parameters set a rate, and the
control model is fitted while the forests grow.
``pred_<control>`` comes from a LightGBM control outcome model fitted on all control rows, and
``pred_<offer>`` = that plus θ_k (clipped to [0, 1] for binary outcomes). The nuisances are
:mod:`uplift_engine.learn.training.nuisance`'s and the forests
:mod:`~uplift_engine.learn.training.forest.honest`'s;
:func:`orthogonal_forest_graph` is also the R-learner's forest final stage.

One forest scores a third of the trees of three (1M customers × 3 offers with bounds: about
10 s on 2 cores instead of 23 s) at the price of splits shared between offers: on the simulated
bank its conditional error was 5–12% above that of per-offer forests, on a campaign whose two
offers follow unrelated features 20–30% (docs/learners.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from uplift_engine.learn.graph import IntervalSpec, ScoringGraph, Term
from uplift_engine.learn.training.base import TrainingData, UpliftLearner
from uplift_engine.learn.training.boosting import BoosterParams
from uplift_engine.learn.training.forest.binning import MAX_BINS, fit_bins
from uplift_engine.learn.training.forest.correction import grow_corrected_causal_forest
from uplift_engine.learn.training.forest.honest import (
    HonestSettings,
    causal_values,
    honest_shortfall,
)
from uplift_engine.learn.training.nuisance import (
    Nuisances,
    fit_control_model,
    fit_nuisances,
    joint_residuals,
    offer_residuals,
)
from uplift_engine.learn.tree_ensemble import TreeEnsemble

NUISANCE_LEARNING_RATE = 0.1
"""The nuisances' learning rate unless the booster parameters set one: they enter the forest's
estimating equation only at second order (Neyman orthogonality), so the coarser rate costs
little error and about a third of the nuisances' fitting time (docs/learners.md)."""


class CausalForest(UpliftLearner):
    """Honest causal forest on orthogonalised residuals, one per offer, with intervals."""

    name = "causal_forest"
    intervals = True

    def __init__(
        self,
        *,
        params: BoosterParams | None = None,
        seed: int = 0,
        n_trees: int = 100,
        group_size: int = 20,
        min_samples_leaf: int | None = None,
        min_samples_treatment: int = 2,
        max_depth: int | None = None,
        max_features: int | None = 10,
        sample_fraction: float = 0.5,
        interval_level: float = 0.9,
        max_bins: int = MAX_BINS,
        joint_arms: bool = True,
        boost_trees: int = 60,
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
        self.joint_arms = joint_arms
        self.boost_trees = boost_trees

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """Too few rows for its honest trees to split (see :func:`.honest.honest_shortfall`)."""
        return super().shortfall(arm_rows) or honest_shortfall(
            self, HonestSettings.of(self), arm_rows
        )

    def _fit(self, data: TrainingData) -> ScoringGraph:
        settings = HonestSettings.of(self)
        return orthogonal_forest_graph(
            data,
            settings,
            self._booster_params,
            self.seed,
            prefix="cf",
            joint_arms=self.joint_arms,
        )


def orthogonal_forest_graph(
    data: TrainingData,
    settings: HonestSettings,
    params: BoosterParams,
    seed: int,
    *,
    prefix: str,
    joint_arms: bool = True,
) -> ScoringGraph:
    """Nuisances, the honest causal forest(s), the control model.

    ``joint_arms``: one forest ``<prefix>`` for all offers, output k − 1 being offer k's effect;
    else one forest per offer, ``<prefix>_<k>``, on the rows of control and offer k.
    """
    nuisance_params = params
    if params.learning_rate is None:
        nuisance_params = replace(params, learning_rate=NUISANCE_LEARNING_RATE)
    nuisances = fit_nuisances(
        data, nuisance_params, seed, propensities=joint_arms, marginal=joint_arms, control=False
    )
    with ThreadPoolExecutor(1) as beside:  # the control model, while the forests grow
        control_model = beside.submit(fit_control_model, data, nuisance_params, seed)
        ensembles, levels, variance, bias = _forests(
            data, nuisances, settings, nuisance_params, seed, prefix=prefix, joint_arms=joint_arms
        )
        model = control_model.result()
    return ScoringGraph(
        {"mu_0": model},
        levels,
        clip=(0.0, 1.0) if data.objective == "binary" else None,
        threads=params.threads,
        ensembles=ensembles,
        intervals=IntervalSpec(
            variance, level=settings.interval_level, kind="confidence", bias=bias
        ),
    )


def _forests(
    data: TrainingData,
    nuisances: Nuisances,
    settings: HonestSettings,
    params: BoosterParams,
    seed: int,
    *,
    prefix: str,
    joint_arms: bool,
) -> tuple[dict[str, TreeEnsemble], list[list[Term]], list[list[Term]], list[list[Term]]]:
    """The forest(s) of :func:`orthogonal_forest_graph`: levels, variance and bias terms.

    Where an offer's correcting forest is kept, its effect is the offer's bias term: the bias
    the correction removed bounds the one it left (:mod:`.correction`); where no offer has one
    the bias terms are empty.
    """
    threads = params.threads
    mu = nuisances.mu
    binning = fit_bins(
        data.X, data.categorical, max_bins=settings.max_bins, seed=seed, threads=threads
    )
    weight = data.sample_weight if data.sample_weight is not None else np.ones(len(data.y))
    ensembles: dict[str, TreeEnsemble] = {}
    levels: list[list[Term]] = [[Term("mu_0")]]
    variance: list[list[Term]] = [[] for _ in range(1, data.n_arms)]
    bias: list[list[Term]] = [[] for _ in range(1, data.n_arms)]
    if joint_arms:
        joint = joint_residuals(data, nuisances)
        rows = np.arange(len(data.y))
        vals = causal_values(rows.size, rows, data.treatment, joint.w_res, joint.y_res, weight)
        forests = grow_corrected_causal_forest(
            settings,
            binning,
            rows,
            vals,
            seed=seed,
            stream=0,
            threads=threads,
            n_offers=data.n_arms - 1,
        )
        names = _stage_names(prefix, len(forests))
        ensembles.update(zip(names, forests, strict=True))
        for k in range(1, data.n_arms):
            terms = [Term(name, output=k - 1) for name in names]
            levels.append([Term("mu_0"), *terms])
            variance[k - 1] = terms
            bias[k - 1] = terms[1:]
    else:
        for k in range(1, data.n_arms):
            res = offer_residuals(data, mu, k, params, seed)
            vals = causal_values(
                len(data.y), res.rows, res.treated, res.w_res, res.y_res, weight[res.rows]
            )
            forests = grow_corrected_causal_forest(
                settings,
                binning,
                res.rows,
                vals,
                seed=seed,
                stream=k,
                threads=threads,
                n_offers=1,
            )
            names = _stage_names(f"{prefix}_{k}", len(forests))
            ensembles.update(zip(names, forests, strict=True))
            terms = [Term(name) for name in names]
            levels.append([Term("mu_0"), *terms])
            variance[k - 1] = terms
            bias[k - 1] = terms[1:]
    return ensembles, levels, variance, bias if any(bias) else []


def _stage_names(name: str, stages: int) -> list[str]:
    """The forests' names: ``name`` and, with the correcting stage, ``name_boost``."""
    return [name, f"{name}_boost"][:stages]
