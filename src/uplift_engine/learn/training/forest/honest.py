"""Honest forests in little bags: the final stage of the causal forest, R- and DR-learners.

Invariant: trees come in little bags of ``group_size`` trees sharing a half-sample of the
forest's rows; each tree draws ``sample_fraction`` × n rows from its bag's half-sample, grows
its splits on one half and estimates its leaves on the other (honesty), so a leaf's values never
saw the rows that chose its split. Tree ``t`` of the forest with ``stream`` ``k`` is a function
of (seed, k, t) only, whatever the number of threads. Two kinds share this recipe:

- ``causal``: rows carry their arm, w and the weighted residual products (w·W̃_k, w·Ỹ, w·W̃_k·Ỹ,
  w·W̃_j·W̃_k) of K offers' residualised indicators W̃ and outcome Ỹ; leaves hold their means and
  the ensemble's outputs are the K effects of the residual-on-residual regression (one offer:
  the slope θ, from the means of W̃, Ỹ, W̃Ỹ, W̃²);
- ``regression``: rows carry (1, offer row, control row, w, w·y) of a pseudo-outcome y; leaves
  hold (Σw·y/n, Σw/n) and the output is their ratio, a weighted mean of y.

Either way the ensemble knows the variance of its output from the little bags
(:meth:`~uplift_engine.learn.tree_ensemble.TreeEnsemble.predict_variance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from uplift_engine.errors import ConfigError
from uplift_engine.learn.training.forest.binning import Binning
from uplift_engine.learn.training.forest.builder import (
    GrownTree,
    GrowSpec,
    assemble,
    grow,
    in_parallel,
    sorted_sample,
)
from uplift_engine.learn.training.forest.criteria import (
    CAUSAL,
    REGRESSION,
    REGRESSION_SLOTS,
    causal_slots,
)
from uplift_engine.learn.training.forest.leaves import (
    add_leaf_values,
    causal_leaf_values,
    regression_leaf_values,
    route_leaves,
    route_stats,
)
from uplift_engine.learn.tree_ensemble import TreeEnsemble

MIN_CHILD_SHARE = 0.05
"""A split must leave each child at least 5% of the node's rows (grf's ``alpha``)."""
LEAVES_PER_TREE = 8_000
"""With ``min_samples_leaf=None`` leaves hold at least 1/8000 of a tree's splitting rows (and at
least 10), which bounds a forest's size and scoring time on millions of rows."""
DEPTH = 14
DEEP_DEPTH = 18
DEEP_SPLIT_ROWS = 80_000
"""With ``max_depth=None`` trees grow to ``DEPTH`` levels, and to ``DEEP_DEPTH`` from
``DEEP_SPLIT_ROWS`` splitting rows a tree (about 320,000 training rows at the default
``sample_fraction``, where the leaf size starts to grow above 10): the depth must leave room for
the leaves the leaf size allows, or leaves grow with the rows and the smoothing bias that the
intervals do not account for grows with them. On the simulated bank at 1M customers (700,000
training rows, 175,000 splitting rows a tree) the 90% intervals held 58% of the conditional
effects at depth 10 with leaves of 1/2000, 72% at depth 14, 73–84% with leaves of 1/8000 at
depth 14, and 85–92% at depth 18 (PEHE 9–21% higher, scoring 40% slower); below that size the
depth of 14 and leaves of 10 rows reach the band (docs/learners.md)."""
SETTINGS = (
    "n_trees",
    "group_size",
    "min_samples_leaf",
    "min_samples_treatment",
    "max_depth",
    "max_features",
    "sample_fraction",
    "interval_level",
    "max_bins",
)
"""The learner attributes an honest forest reads (each learner's ``__init__`` keywords)."""
OPTIONAL_SETTINGS = {"boost_trees": 0}
"""Attributes only some learners have (the causal forest's), with their value for the others."""


@dataclass(frozen=True)
class HonestSettings:
    """The size of an honest forest, as a learner's keywords give it."""

    n_trees: int
    group_size: int
    min_samples_leaf: int | None
    min_samples_treatment: int
    max_depth: int | None
    max_features: int | None
    sample_fraction: float
    interval_level: float
    max_bins: int
    boost_trees: int = 0
    """Trees of the causal forest's correcting second stage (:mod:`.correction`); 0: none."""

    @classmethod
    def of(cls, learner: Any) -> HonestSettings:
        """Read the settings from a learner's attributes and check them (``ConfigError``)."""
        given = {name: getattr(learner, name) for name in SETTINGS}
        given |= {name: getattr(learner, name, d) for name, d in OPTIONAL_SETTINGS.items()}
        settings = cls(**given)
        settings.check(str(learner.name))
        return settings

    def check(self, learner: str) -> None:
        """Refuse out-of-range settings with a message naming the field."""
        checks = {
            "group_size": self.group_size >= 2,
            "n_trees": self.n_trees >= self.group_size and self.n_trees % self.group_size == 0,
            "min_samples_leaf": self.min_samples_leaf is None or self.min_samples_leaf >= 1,
            "min_samples_treatment": self.min_samples_treatment >= 1,
            "max_depth": self.max_depth is None or 1 <= self.max_depth <= 30,
            "max_features": self.max_features is None or self.max_features >= 1,
            "sample_fraction": 0 < self.sample_fraction <= 0.5,
            "interval_level": 0 < self.interval_level < 1,
            "max_bins": 2 <= self.max_bins <= 255,
            "boost_trees": self.boost_trees >= 0 and self.boost_trees % self.group_size == 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            raise ConfigError(
                f"{learner} {name} is out of range: got {getattr(self, name)!r} "
                "(n_trees and boost_trees must be multiples of group_size ≥ 2; sample_fraction "
                "at most 0.5; "
                "interval_level in (0, 1))",
                field=name,
            )


def tree_shape(settings: HonestSettings, n_rows: int) -> tuple[int, int]:
    """The least leaf size and the depth of the trees of a forest grown on ``n_rows`` rows."""
    half = max(4, n_rows // 2)
    size = max(4, min(half, int(settings.sample_fraction * n_rows)))
    split_rows = size - size // 2
    min_leaf = settings.min_samples_leaf or max(10, math.ceil(split_rows / LEAVES_PER_TREE))
    depth = settings.max_depth or (DEEP_DEPTH if split_rows >= DEEP_SPLIT_ROWS else DEPTH)
    return min_leaf, depth


def honest_shortfall(learner: Any, settings: HonestSettings, arm_rows: np.ndarray) -> str | None:
    """Why an honest forest of these settings cannot split on arms of ``arm_rows`` rows.

    A tree splits half of its sample and needs both children of at least the least leaf size,
    each with ``min_samples_treatment`` rows of an arm; below that every tree is one leaf and
    the forest returns the average effect.
    """
    n_rows = int(np.sum(arm_rows))
    min_leaf, _ = tree_shape(settings, n_rows)
    size = max(4, min(max(4, n_rows // 2), int(settings.sample_fraction * n_rows)))
    split_rows = size - size // 2
    smallest = int(np.min(arm_rows)) * split_rows / max(n_rows, 1)
    if split_rows >= 2 * min_leaf and smallest >= 2 * settings.min_samples_treatment:
        return None
    return (
        f"{learner.name}'s trees split {split_rows} rows each and its leaves hold at least "
        f"{min_leaf} (min_samples_leaf), with {settings.min_samples_treatment} of every arm "
        "(min_samples_treatment): too few rows to split, so it would return the average effect"
    )


def bag_positions(n_rows: int, seed: int, stream: int, group: int) -> np.ndarray:
    """Positions (into the forest's ``rows``) of little bag ``group``'s half-sample, sorted."""
    rng = np.random.default_rng([seed, stream, group])
    return sorted_sample(rng, n_rows, max(4, n_rows // 2), replace=False)


def causal_values(
    n_all: int,
    rows: np.ndarray,
    arm: np.ndarray,
    w_res: np.ndarray,
    y_res: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """Per-row values of a causal forest of K offers (zero outside ``rows``).

    ``arm`` is each row's arm code (0 = control, 1..K), ``w_res`` its residualised arm
    indicators (rows × K, or a vector for one offer); the columns are the statistics of
    :mod:`~uplift_engine.learn.training.forest.criteria`, ``causal_slots(K)`` of them.
    """
    w_res = w_res.reshape(rows.size, -1)
    k_ = w_res.shape[1]
    vals = np.zeros((n_all, causal_slots(k_)))
    counts = np.zeros((rows.size, k_ + 1))
    counts[np.arange(rows.size), arm.astype(np.int64)] = 1.0
    pairs = [weight * w_res[:, j] * w_res[:, k] for j in range(k_) for k in range(j, k_)]
    vals[rows] = np.column_stack(
        [
            counts,
            weight,
            weight[:, None] * w_res,
            weight * y_res,
            (weight * y_res)[:, None] * w_res,
            *pairs,
        ]
    )
    return vals


def regression_values(
    offer: np.ndarray, control: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Per-row values of a regression forest on ``y`` over all rows, shape (n, 5)."""
    return np.column_stack([np.ones(y.size), offer, control, weight, weight * y]).astype(np.float64)


@dataclass(frozen=True)
class OutOfBag:
    """Each row's outputs from the little bags whose half-sample left it out."""

    outputs: np.ndarray  # (len(rows), K), in the order of the forest's rows
    covered: np.ndarray  # True where some bag left the row out; else the whole forest's outputs


def grow_honest_forest(
    kind: int,
    settings: HonestSettings,
    binning: Binning,
    rows: np.ndarray,
    vals: np.ndarray,
    *,
    seed: int,
    stream: int,
    threads: int,
    n_offers: int = 1,
) -> TreeEnsemble:
    """Grow an honest forest (``CAUSAL`` or ``REGRESSION``) on ``rows`` of the binned matrix.

    A causal forest estimates the effects of ``n_offers`` offers at once (its rows hold every
    arm); a regression forest estimates one pseudo-outcome.
    """
    forest, _ = _grow(
        kind,
        settings,
        binning,
        rows,
        vals,
        seed=seed,
        stream=stream,
        threads=threads,
        n_offers=n_offers,
        out_of_bag=False,
    )
    return forest


def grow_honest_forest_out_of_bag(
    kind: int,
    settings: HonestSettings,
    binning: Binning,
    rows: np.ndarray,
    vals: np.ndarray,
    *,
    seed: int,
    stream: int,
    threads: int,
    n_offers: int = 1,
) -> tuple[TreeEnsemble, OutOfBag]:
    """:func:`grow_honest_forest`, and each of ``rows``' out-of-bag outputs.

    Each tree routes the rows its bag left out (in the binned matrix, compiled); their leaf
    means are summed in tree order, so the result does not depend on the number of threads.
    """
    forest, routed = _grow(
        kind,
        settings,
        binning,
        rows,
        vals,
        seed=seed,
        stream=stream,
        threads=threads,
        n_offers=n_offers,
        out_of_bag=True,
    )
    return forest, _out_of_bag_means(forest, routed, rows.size)


def _grow(
    kind: int,
    settings: HonestSettings,
    binning: Binning,
    rows: np.ndarray,
    vals: np.ndarray,
    *,
    seed: int,
    stream: int,
    threads: int,
    n_offers: int,
    out_of_bag: bool,
) -> tuple[TreeEnsemble, _Routed]:
    if kind not in (CAUSAL, REGRESSION):
        raise ValueError(f"an honest forest is causal ({CAUSAL}) or regression ({REGRESSION})")
    if kind == REGRESSION and n_offers != 1:
        raise ValueError("a regression forest estimates one output")
    slots = causal_slots(n_offers) if kind == CAUSAL else REGRESSION_SLOTS
    if vals.shape != (binning.bins.shape[0], slots):
        raise ValueError(f"an honest forest of kind {kind} needs {slots} values a row")
    offset = np.zeros(binning.bins.shape[0], dtype=np.int64)
    half = max(4, rows.size // 2)
    size = max(4, min(half, int(settings.sample_fraction * rows.size)))
    split_rows = size - size // 2
    min_leaf, depth = tree_shape(settings, rows.size)
    n_features = binning.bins.shape[1]
    spec = GrowSpec(
        kind=kind,
        slots=slots,
        n_arms=n_offers + 1,
        max_depth=depth,
        min_leaf=min_leaf,
        min_arm=settings.min_samples_treatment,
        max_features=min(settings.max_features or n_features, n_features),
        min_share=MIN_CHILD_SHARE,
    )
    ell = settings.group_size
    groups = settings.n_trees // ell
    bags = [bag_positions(rows.size, seed, stream, g) for g in range(groups)]
    left_out: list[np.ndarray] = []
    uncovered = np.zeros(0, dtype=np.int64)
    if out_of_bag:
        bagged = np.zeros(rows.size, dtype=np.int64)
        for bag in bags:
            in_bag = np.zeros(rows.size, dtype=bool)
            in_bag[bag] = True
            bagged += in_bag
            left_out.append(np.flatnonzero(~in_bag))
        uncovered = np.flatnonzero(bagged == groups)

    def one_tree(t: int) -> tuple[GrownTree, np.ndarray]:
        sample = rows[bags[t // ell]]
        rng = np.random.default_rng([seed, stream, t // ell, t % ell])
        shuffled = rng.choice(sample, size=size, replace=False)
        grow_rows = np.sort(shuffled[:split_rows])
        estimate_rows = np.sort(shuffled[split_rows:])
        tree_seed = int(rng.integers(0, 2**62))
        feature, thr, left, right, cat_row, cat_masks, _ = grow(
            spec, binning, grow_rows, offset, vals, tree_seed
        )
        stats = route_stats(
            binning.bins,
            estimate_rows,
            offset,
            vals,
            feature,
            thr,
            left,
            right,
            cat_row,
            cat_masks,
            slots,
        )
        if kind == CAUSAL:
            values = causal_leaf_values(stats, left, right, 1, n_offers)
        else:
            values = regression_leaf_values(stats, left, right, 1)
        tree = GrownTree(feature, thr, left, right, cat_row, cat_masks, values)
        if not out_of_bag:
            return tree, np.zeros(0, dtype=np.int32)
        routed = np.concatenate([left_out[t // ell], uncovered])
        leaves = route_leaves(
            binning.bins, rows[routed], feature, thr, left, right, cat_row, cat_masks
        )
        return tree, leaves

    grown = in_parallel(one_tree, settings.n_trees, threads)
    combine = "causal" if kind == CAUSAL else "regression"
    forest = assemble(
        [tree for tree, _ in grown], binning, combine=combine, group_size=ell, threads=threads
    )
    leaves = [tree_leaves for _, tree_leaves in grown]
    return forest, _Routed(leaves, left_out, uncovered)


@dataclass(frozen=True)
class _Routed:
    """The leaves each tree's out-of-bag rows (then the rows in every bag) reached."""

    leaves: list[np.ndarray]  # per tree: the leaf of left_out[bag] rows, then of uncovered rows
    left_out: list[np.ndarray]  # per bag: positions of the rows its half-sample left out
    uncovered: np.ndarray  # positions of the rows in every bag


def _out_of_bag_means(forest: TreeEnsemble, routed: _Routed, n_rows: int) -> OutOfBag:
    """Each row's outputs from the trees of the bags that left it out, summed in tree order."""
    width = forest.values.shape[1]
    sums = np.zeros((n_rows, width))
    count = np.zeros(n_rows)
    uncovered = routed.uncovered
    whole = np.zeros((uncovered.size, width))  # rows in every bag: all trees' means
    whole_count = np.zeros(uncovered.size)
    whole_at = np.arange(uncovered.size)
    roots = np.append(forest.roots, forest.feature.size)
    for t, leaves in enumerate(routed.leaves):
        values = forest.values[roots[t] : roots[t + 1]]
        positions = routed.left_out[t // forest.group_size]
        add_leaf_values(sums, count, positions, leaves[: positions.size], values)
        add_leaf_values(whole, whole_count, whole_at, leaves[positions.size :], values)
    covered = count > 0
    sums[covered] /= count[covered, None]
    sums[uncovered] = whole / forest.n_trees
    return OutOfBag(forest.outputs_of(sums), covered)
