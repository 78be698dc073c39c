"""Every learner by name, in one place: ``uplift train --learner``, its help and ``auto``.

Invariant: :data:`LEARNERS` maps each learner's ``name`` to its class, simplest first, the
ensemble of several last; the CLI help and the error for an unknown name are generated from it,
and :data:`AUTO_CANDIDATES` — what ``--learner auto`` compares, in order of preference (of the
candidates statistically tied with the best score, the first wins) — is a subset of it, checked
at import. The ensemble comes first: when the data cannot tell the candidates apart, the
average of several is the choice that held up across the benchmark's real trials; a single
learner is chosen only when it is significantly better than the average
(docs/learners.md).
"""

from __future__ import annotations

from uplift_engine.learn.training.base import UpliftLearner
from uplift_engine.learn.training.ensemble import ENSEMBLE, AverageLearner
from uplift_engine.learn.training.forest import CausalForest, UpliftForest
from uplift_engine.learn.training.meta_learners import (
    DRLearner,
    SLearner,
    TLearner,
    TransformedOutcomeLearner,
    XLearner,
)
from uplift_engine.learn.training.r_learner import RLearner

AUTO = "auto"
LEARNERS: dict[str, type[UpliftLearner]] = {
    cls.name: cls
    for cls in (
        SLearner,
        TLearner,
        XLearner,
        DRLearner,
        RLearner,
        TransformedOutcomeLearner,
        UpliftForest,
        CausalForest,
        AverageLearner,
    )
}
"""Every learner by name, simplest first."""
AUTO_CANDIDATES: tuple[str, ...] = (
    ENSEMBLE,
    "s_learner",
    "t_learner",
    "uplift_forest",
    "causal_forest",
)
"""What ``--learner auto`` compares, in order of preference: the ensemble of its default
members, then single learners simplest first."""
if not set(AUTO_CANDIDATES) <= set(LEARNERS):  # pragma: no cover - a defect of this module
    raise ImportError(f"auto's candidates {AUTO_CANDIDATES} are not all learners")


def learner_help() -> str:
    """The ``--learner`` option's help, from the registry."""
    candidates = ", ".join(c.removesuffix("_learner") for c in AUTO_CANDIDATES)
    return f"{AUTO} (cross-fitted choice among {candidates}), or {', '.join(LEARNERS)}."
