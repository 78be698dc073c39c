"""Forests for uplift: an uplift random forest, and honest forests with intervals.

The honest forests (:mod:`.honest`) are the causal forest's and the R-learner's final stage
(on residuals) and the DR-learner's (regression on AIPW pseudo-outcomes, :mod:`.dr_forest`).

Training needs numba (compiled histogram splits); the fitted forests export to NumPy arrays
(:class:`~uplift_engine.learn.tree_ensemble.TreeEnsemble`) that score without it.

For whoever edits them: numba's on-disk cache (``cache=True``, in ``__pycache__``) is keyed by
the source file of each compiled function alone, and a caller compiles its callees into itself.
After a change to :mod:`.criteria` that :mod:`.grow` does not share, the cached ``grow_tree``
keeps the old criteria until the cache goes: ``find src -name '*.nb[ic]' -delete``.
"""

from uplift_engine.learn.training.forest.causal_forest import CausalForest
from uplift_engine.learn.training.forest.uplift_forest import UpliftForest

__all__ = ["CausalForest", "UpliftForest"]
