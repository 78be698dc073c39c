"""R-learner (Nie & Wager 2021): effects that minimise the R-loss on cross-fitted residuals.

Invariant: per offer ``k``, on the rows of control and ``k``, the residuals Ỹ = y − m_k(x) and
W̃ = 1[arm = k] − e_k(x) come from :mod:`uplift_engine.learn.training.nuisance` exactly as the causal
forest's do (cross-fitted per-arm LightGBM outcome models; the design's propensities when
assignment is randomised, a cross-fitted classifier clipped to [0.01, 0.99] otherwise), and
the effect τ_k minimises Σ w·(Ỹ − τ_k(x)·W̃)². The final stage is chosen by ``final_stage``:

- ``"lightgbm"``: a LightGBM regression of Ỹ/W̃ with weights w·W̃² (the R-loss rewritten as a
  weighted squared error) — point estimates, no intervals;
- ``"forest"``: an honest causal forest on the same kind of residuals (the causal forest's
  final stage, :func:`~uplift_engine.learn.training.forest.causal_forest.orthogonal_forest_graph`,
  by default one forest for all offers on every row, ``joint_arms``) — with per-customer
  confidence intervals from its little bags.

``pred_<control>`` comes from a LightGBM model fitted on all control rows, ``pred_<offer>`` is
that plus τ_k (levels clipped to [0, 1] for binary outcomes).
"""

from __future__ import annotations

import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.graph import ScoringGraph, Term
from uplift_engine.learn.training.base import TrainingData, UpliftLearner
from uplift_engine.learn.training.boosting import BoosterParams, fit_booster, model_text
from uplift_engine.learn.training.forest.binning import MAX_BINS
from uplift_engine.learn.training.forest.causal_forest import orthogonal_forest_graph
from uplift_engine.learn.training.forest.honest import HonestSettings, honest_shortfall
from uplift_engine.learn.training.nuisance import fit_nuisances, offer_residuals

FINAL_STAGES = ("lightgbm", "forest")


def check_final_stage(learner: str, final_stage: str) -> str:
    """``final_stage`` if it is one of :data:`FINAL_STAGES`, else a ``ConfigError``."""
    if final_stage not in FINAL_STAGES:
        raise ConfigError(
            f"{learner} final_stage must be one of {', '.join(FINAL_STAGES)}, got {final_stage!r}",
            field="final_stage",
        )
    return final_stage


class RLearner(UpliftLearner):
    """R-learner on cross-fitted residuals; LightGBM or honest-forest final stage."""

    name = "r_learner"

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
        joint_arms: bool = True,
        boost_trees: int = 60,
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
        self.joint_arms = joint_arms
        self.boost_trees = boost_trees

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """With ``final_stage="forest"``: too few rows for its honest trees to split."""
        short = super().shortfall(arm_rows)
        if short is None and self.final_stage == "forest":
            return honest_shortfall(self, HonestSettings.of(self), arm_rows)
        return short

    def _fit(self, data: TrainingData) -> ScoringGraph:
        params = self._booster_params
        if check_final_stage(self.name, self.final_stage) == "forest":
            settings = HonestSettings.of(self)
            return orthogonal_forest_graph(
                data, settings, params, self.seed, prefix="tau", joint_arms=self.joint_arms
            )
        nuisances = fit_nuisances(data, params, self.seed)
        mu = nuisances.mu
        weight = data.sample_weight if data.sample_weight is not None else np.ones(len(data.y))
        models = {"mu_0": nuisances.control_model}
        levels: list[list[Term]] = [[Term("mu_0")]]
        for k in range(1, data.n_arms):
            res = offer_residuals(data, mu, k, params, self.seed)
            tau = fit_booster(
                data.X[res.rows],
                res.y_res / res.w_res,
                objective="regression",
                params=params,
                seed=self.seed + 300 + k,
                categorical=[int(c) for c in data.categorical],
                sample_weight=weight[res.rows] * res.w_res * res.w_res,
            )
            models[f"tau_{k}"] = model_text(tau)
            levels.append([Term("mu_0"), Term(f"tau_{k}")])
        clip = (0.0, 1.0) if data.objective == "binary" else None
        return ScoringGraph(models, levels, clip=clip, threads=params.threads)
