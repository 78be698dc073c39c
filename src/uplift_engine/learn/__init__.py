"""Uplift learners behind one estimator interface, and bundles that score on their own.

Names are loaded on first use (PEP 562), so that ``from uplift_engine.learn.bundle import
load_bundle`` on the scoring path does not import the training modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ArmSet": "arms",
    "discover_arms": "arms",
    "UpliftLearner": "base",
    "TrainingData": "base",
    "BoosterParams": "boosting",
    "BootstrapIntervals": "bootstrap",
    "Bundle": "bundle",
    "build_manifest": "bundle",
    "load_bundle": "bundle",
    "write_bundle": "bundle",
    "CampaignData": "dataset",
    "holdout_split": "dataset",
    "prepare_campaign": "dataset",
    "Contributions": "explain",
    "explain_bundle": "explain",
    "explain_graph": "explain",
    "global_importance": "explain",
    "top_drivers": "explain",
    "FeatureEncoder": "encoding",
    "fit_encoder": "encoding",
    "ScoringGraph": "graph",
    "LEARNERS": "meta_learners",
    "DRLearner": "meta_learners",
    "SLearner": "meta_learners",
    "TransformedOutcomeLearner": "meta_learners",
    "TLearner": "meta_learners",
    "RLearner": "r_learner",
    "XLearner": "meta_learners",
    "ColumnRoles": "roles",
    "assign_roles": "roles",
    "check_balance": "balance",
    "ScoresMeta": "scores",
    "read_scores": "scores",
    "write_scores": "scores",
    "score_table": "scoring",
    "CausalForest": "forest",
    "UpliftForest": "forest",
    "TreeEnsemble": "tree_ensemble",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'uplift_engine.learn' has no attribute {name!r}")
    return getattr(import_module(f"uplift_engine.learn.{module}"), name)
