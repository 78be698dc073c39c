"""Uplift random forest: one forest for every arm, causalml's split criteria, histogram splits.

Invariant: every tree is grown on a bootstrap sample (``sample_fraction`` × n rows, drawn with
replacement) of the binned training rows; every leaf holds the outcome mean of every arm among
the rows it was grown on (an arm absent from a leaf takes its parent's mean), and the forest's
level for arm ``a`` is the average of those means over trees — so ``pred_<arm>`` exists for every
arm, control included, and effects are level differences. Splits maximise causalml's gain
(KL, ED, Chi or DDP for binary outcomes; ``SD``, the squared difference of arm means, for
continuous ones) with its ``n_reg`` shrinkage toward the parent, its normalisation, and its
``min_samples_leaf`` / ``min_samples_treatment`` rules; see :mod:`.criteria`. One difference of
definition: ``max_depth`` counts split levels (a stump has depth 1), where causalml's counts
node levels (its ``max_depth = d`` grows trees of our depth ``d − 1``).
"""

from __future__ import annotations

import math

import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.graph import ScoringGraph, Term
from uplift_engine.learn.training.base import TrainingData, UpliftLearner
from uplift_engine.learn.training.boosting import BoosterParams
from uplift_engine.learn.training.forest.binning import MAX_BINS, fit_bins
from uplift_engine.learn.training.forest.builder import (
    GrownTree,
    GrowSpec,
    assemble,
    grow,
    in_parallel,
    sorted_sample,
)
from uplift_engine.learn.training.forest.criteria import BINARY_ONLY, CRITERIA, UPLIFT_SLOTS
from uplift_engine.learn.training.forest.leaves import uplift_leaf_values

FOREST_MODEL = "uplift_forest"


class UpliftForest(UpliftLearner):
    """Uplift random forest for binary (KL, ED, Chi, DDP) and continuous (SD) outcomes."""

    name = "uplift_forest"

    def __init__(
        self,
        *,
        params: BoosterParams | None = None,
        seed: int = 0,
        n_trees: int = 100,
        criterion: str = "auto",
        max_depth: int = 8,
        min_samples_leaf: int = 100,
        min_samples_treatment: int = 10,
        n_reg: float = 10.0,
        max_features: int | None = 10,
        normalization: bool = True,
        sample_fraction: float = 1.0,
        max_bins: int = MAX_BINS,
    ) -> None:
        super().__init__(params=params, seed=seed)
        self.n_trees = n_trees
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.max_features = max_features
        self.normalization = normalization
        self.sample_fraction = sample_fraction
        self.max_bins = max_bins

    def shortfall(self, arm_rows: np.ndarray) -> str | None:
        """Too few rows for a tree to split into two leaves of ``min_samples_leaf`` rows."""
        self._check_sizes()
        sample = max(1, round(self.sample_fraction * int(np.sum(arm_rows))))
        smallest = int(np.min(arm_rows)) * sample / max(int(np.sum(arm_rows)), 1)
        if sample >= 2 * self.min_samples_leaf and smallest >= 2 * self.min_samples_treatment:
            return super().shortfall(arm_rows)
        return (
            f"uplift_forest's trees grow on {sample} rows and its leaves hold at least "
            f"{self.min_samples_leaf} (min_samples_leaf), with {self.min_samples_treatment} of "
            "every arm (min_samples_treatment): too few rows to split, so it would return the "
            "average effect"
        )

    def _fit(self, data: TrainingData) -> ScoringGraph:
        criterion = self._criterion(data)
        threads = self._booster_params.threads
        n, p = data.X.shape
        binning = fit_bins(
            data.X, data.categorical, max_bins=self.max_bins, seed=self.seed, threads=threads
        )
        weight = data.sample_weight if data.sample_weight is not None else np.ones(n)
        vals = np.column_stack([np.ones(n), weight, weight * data.y])
        offset = (UPLIFT_SLOTS * data.treatment).astype(np.int64)
        spec = GrowSpec(
            kind=CRITERIA[criterion],
            slots=UPLIFT_SLOTS * data.n_arms,
            n_arms=data.n_arms,
            max_depth=self.max_depth,
            min_leaf=self.min_samples_leaf,
            min_arm=self.min_samples_treatment,
            max_features=min(self.max_features or p, p),
            n_reg=self.n_reg,
            normalization=self.normalization and criterion not in ("DDP",),
        )
        size = max(1, round(self.sample_fraction * n))

        def one_tree(t: int) -> GrownTree:
            rng = np.random.default_rng([self.seed, t])
            rows = sorted_sample(rng, n, size, replace=True)
            seed = int(rng.integers(0, 2**62))
            feature, thr, left, right, cat_row, cat_masks, stats = grow(
                spec, binning, rows, offset, vals, seed
            )
            values = uplift_leaf_values(stats, left, right, data.n_arms)
            return GrownTree(feature, thr, left, right, cat_row, cat_masks, values)

        trees = in_parallel(one_tree, self.n_trees, threads)
        ensemble = assemble(trees, binning, combine="mean", threads=threads)
        levels = [[Term(FOREST_MODEL, output=a)] for a in range(data.n_arms)]
        clip = (0.0, 1.0) if data.objective == "binary" else None
        return ScoringGraph(
            {}, levels, clip=clip, threads=threads, ensembles={FOREST_MODEL: ensemble}
        )

    def _criterion(self, data: TrainingData) -> str:
        self._check_sizes()
        binary = data.objective == "binary"
        criterion = self.criterion
        if criterion == "auto":
            return "KL" if binary else "SD"
        if criterion not in CRITERIA:
            raise ConfigError(
                f"uplift_forest criterion must be auto or one of {', '.join(CRITERIA)}, "
                f"got {criterion!r}",
                field="criterion",
            )
        if criterion in BINARY_ONLY and not binary:
            raise ConfigError(
                f"uplift_forest criterion {criterion!r} needs a binary (0/1) outcome; "
                "the outcome is continuous: use 'SD' or 'auto'",
                field="criterion",
            )
        return criterion

    def _check_sizes(self) -> None:
        checks = {
            "n_trees": self.n_trees >= 1,
            "max_depth": 1 <= self.max_depth <= 30,
            "min_samples_leaf": self.min_samples_leaf >= 1,
            "min_samples_treatment": self.min_samples_treatment >= 0,
            "n_reg": self.n_reg >= 0 and math.isfinite(self.n_reg),
            "max_features": self.max_features is None or self.max_features >= 1,
            "sample_fraction": 0 < self.sample_fraction <= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ConfigError(
                f"uplift_forest {name} is out of range: got {getattr(self, name)!r}", field=name
            )
