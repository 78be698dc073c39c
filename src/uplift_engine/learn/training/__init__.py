"""Training: the estimator interface, the learners, their registry, and bundles written.

Every learner follows :class:`UpliftLearner` (``fit(X, treatment, y)``, ``predict`` →
effects, ``predict_interval`` → bounds when it has them) and exports a
:class:`~uplift_engine.learn.ScoringGraph`, which :func:`write_bundle` stores with
:func:`build_manifest`'s manifest.
"""

from uplift_engine.learn.training.base import (
    MIN_ARM_ROWS,
    TrainingData,
    UpliftLearner,
    validate_training_data,
)
from uplift_engine.learn.training.boosting import BoosterParams
from uplift_engine.learn.training.bootstrap import BootstrapIntervals
from uplift_engine.learn.training.ensemble import AverageLearner
from uplift_engine.learn.training.forest import CausalForest, UpliftForest
from uplift_engine.learn.training.meta_learners import (
    DRLearner,
    SLearner,
    TLearner,
    TransformedOutcomeLearner,
    XLearner,
)
from uplift_engine.learn.training.packaging import build_manifest, write_bundle
from uplift_engine.learn.training.r_learner import RLearner
from uplift_engine.learn.training.registry import AUTO, AUTO_CANDIDATES, LEARNERS, learner_help

__all__ = [
    "AUTO",
    "AUTO_CANDIDATES",
    "LEARNERS",
    "MIN_ARM_ROWS",
    "AverageLearner",
    "BoosterParams",
    "BootstrapIntervals",
    "CausalForest",
    "DRLearner",
    "RLearner",
    "SLearner",
    "TLearner",
    "TrainingData",
    "TransformedOutcomeLearner",
    "UpliftForest",
    "UpliftLearner",
    "XLearner",
    "build_manifest",
    "learner_help",
    "validate_training_data",
    "write_bundle",
]
