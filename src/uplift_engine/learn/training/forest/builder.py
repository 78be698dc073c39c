"""From grown trees to a :class:`TreeEnsemble`, and growing many trees on shared memory.

Invariant: trees are grown by a pool of threads over one read-only binned matrix (numba
releases the GIL), each tree from its own seed, and collected in tree order — so a forest is
the same whatever the number of threads, and memory holds one binned matrix, not one per
worker. Bin thresholds become float thresholds here, through the :class:`Binning` that made the
bins, so the ensemble scores raw feature values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from uplift_engine.learn.training.forest.binning import Binning
from uplift_engine.learn.training.forest.grow import grow_tree
from uplift_engine.learn.tree_ensemble import TreeEnsemble

T = TypeVar("T")


@dataclass(frozen=True)
class GrowSpec:
    """The settings of one tree's growth that do not change from tree to tree."""

    kind: int
    slots: int
    n_arms: int
    max_depth: int
    min_leaf: int
    min_arm: int
    max_features: int
    n_reg: float = 0.0
    normalization: bool = False
    min_share: float = 0.0


@dataclass(frozen=True)
class GrownTree:
    """One tree: structure from :func:`grow_tree`, leaf values from its learner."""

    feature: np.ndarray
    threshold_bin: np.ndarray
    left: np.ndarray
    right: np.ndarray
    cat_row: np.ndarray
    cat_masks: np.ndarray
    values: np.ndarray


def grow(
    spec: GrowSpec,
    binning: Binning,
    rows: np.ndarray,
    offset: np.ndarray,
    vals: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, ...]:
    """Grow one tree on ``rows`` (sorted, with repeats); the raw arrays of :func:`grow_tree`."""
    return tuple(
        grow_tree(
            spec.kind,
            binning.bins,
            binning.categorical,
            binning.n_bins,
            rows.astype(np.int64),
            offset,
            vals,
            spec.slots,
            spec.n_arms,
            float(spec.n_reg),
            bool(spec.normalization),
            int(spec.max_depth),
            int(spec.min_leaf),
            int(spec.min_arm),
            int(spec.max_features),
            float(spec.min_share),
            int(seed) & 0x7FFF_FFFF_FFFF_FFFF,
        )
    )


def in_parallel(task: Callable[[int], T], count: int, threads: int) -> list[T]:
    """``[task(0), …, task(count − 1)]`` computed by ``threads`` threads, in order."""
    if threads <= 1 or count <= 1:
        return [task(i) for i in range(count)]
    with ThreadPoolExecutor(min(threads, count)) as pool:
        return list(pool.map(task, range(count)))


def assemble(
    trees: Sequence[GrownTree],
    binning: Binning,
    *,
    combine: str,
    group_size: int = 1,
    threads: int = 2,
) -> TreeEnsemble:
    """Concatenate trees into one ensemble, with float thresholds for numeric splits."""
    sizes = np.array([t.feature.size for t in trees])
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
    cat_sizes = np.array([t.cat_masks.shape[0] for t in trees])
    cat_offsets = np.concatenate([[0], np.cumsum(cat_sizes)[:-1]])
    feature = np.concatenate([t.feature for t in trees]).astype(np.int32)
    threshold_bin = np.concatenate([t.threshold_bin for t in trees])
    shift = np.repeat(roots, sizes)
    left = np.concatenate([t.left for t in trees])
    right = np.concatenate([t.right for t in trees])
    left = np.where(left >= 0, left + shift, -1).astype(np.int32)
    right = np.where(right >= 0, right + shift, -1).astype(np.int32)
    cat_row = np.concatenate([t.cat_row for t in trees])
    cat_index = np.where(cat_row >= 0, cat_row + np.repeat(cat_offsets, sizes), -1)
    arrays = {
        "feature": feature,
        "threshold": binning.thresholds(feature, threshold_bin),
        "left": left,
        "right": right,
        "cat_index": cat_index.astype(np.int32),
        "cat_masks": np.concatenate([t.cat_masks for t in trees]),
        "values": np.concatenate([t.values for t in trees]),
        "roots": roots,
    }
    return TreeEnsemble(arrays, combine=combine, group_size=group_size, threads=threads)


def sorted_sample(rng: np.random.Generator, n: int, size: int, *, replace: bool) -> np.ndarray:
    """``size`` row numbers out of ``n``, sorted (with repeats when ``replace``)."""
    if replace:
        counts = np.bincount(rng.integers(0, n, size=size), minlength=n)
        return np.repeat(np.arange(n, dtype=np.int64), counts)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)
