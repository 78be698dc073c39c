"""pipeline layer: training as one call today; retraining with a gate, a registry, drift next.

:func:`train_bundle` — column roles, checks, held-out split, selection, fit, evaluation, bundle —
is the use case behind ``uplift train`` and the demo; :func:`parse_pairs` reads ``--set`` pairs.
"""

from uplift_engine.pipeline.learner_settings import parse_pairs, split_settings
from uplift_engine.pipeline.train import TrainOptions, TrainResult, train_bundle

__all__ = ["TrainOptions", "TrainResult", "parse_pairs", "split_settings", "train_bundle"]
