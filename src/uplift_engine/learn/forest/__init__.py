"""Forests for uplift: an uplift random forest and an honest causal forest with intervals.

Training needs numba (compiled histogram splits); the fitted forests export to NumPy arrays
(:class:`~uplift_engine.learn.tree_ensemble.TreeEnsemble`) that score without it.
"""

from uplift_engine.learn.forest.causal_forest import CausalForest
from uplift_engine.learn.forest.uplift_forest import UpliftForest

__all__ = ["CausalForest", "UpliftForest"]
