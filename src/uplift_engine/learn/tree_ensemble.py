"""Fitted tree ensembles as plain NumPy arrays, evaluated vectorised (the scoring side of forests).

Invariant: an ensemble is flat node arrays over all its trees (``roots[t]`` is tree ``t``'s
first node; a child's index is always larger than its parent's and stays inside its tree). A
node with ``feature == -1`` is a leaf and its row of ``values`` holds its outputs. A row goes
*right* at a numeric node when ``x > threshold`` — so a missing value (NaN) always goes left,
as the trainer put missing values in the lowest bin — and at a categorical node
(``cat_index >= 0``) when its bin is not set in ``cat_masks[cat_index]`` (bin = level code + 1;
0 = missing or a level the forest never saw).

``combine`` says how trees make the outputs:

- ``"mean"``: the outputs are the average over trees of the leaf values (an uplift forest's
  per-arm outcome means);
- ``"causal"``: leaf values are the honest-half means of (W̃_k, Ỹ, W̃_k·Ỹ, W̃_j·W̃_k for j ≤ k)
  of K offers' residualised arm indicators W̃ and outcome Ỹ (``causal_means_width`` columns:
  4 for one offer, in the order W̃, Ỹ, W̃Ỹ, W̃²); the K outputs are the forest's effects
  θ = J⁻¹·(M_wy − M_w·M_y) with J = M_ww − M_w·M_wᵀ over the tree-averaged means M (grf's forest
  weights; one offer: θ = (M_wy − M_w·M_y) / (M_ww − M_w²)), and their variances come from the
  bootstrap of little bags: consecutive groups of ``group_size`` trees share a half-sample
  (Athey, Tibshirani & Wager 2019);
- ``"regression"``: leaf values are the honest (Σw·y/n, Σw/n) of a pseudo-outcome y over the
  leaf's n estimation rows (grf's regression forest); the single output is their ratio over the
  tree-averaged values, a weighted mean of y, with a variance from the little bags as above.

The statistics of the little-bag combines — outputs from leaf means, their gradients and the
variance over bags — are :mod:`.little_bags`'; this module walks the trees.

This module is on the scoring path: NumPy only. Arrays are validated on construction, so a
corrupt ensemble fails to load instead of looping or reading out of bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from uplift_engine.learn.little_bags import (
    causal_effects,
    causal_gradient,
    causal_offers,
    little_bag_variance,
    regression_gradient,
)

ARRAY_NAMES = ("feature", "threshold", "left", "right", "cat_index", "cat_masks", "values", "roots")
COMBINES = ("mean", "causal", "regression")
LITTLE_BAGS = ("causal", "regression")
"""Combines whose trees come in little bags and whose output has a variance."""
REGRESSION_STATS = 2  # leaf Σw·y/n and Σw/n
BATCH_ROWS = 32_768
_DENOMINATOR_FLOOR = 1e-12


class TreeEnsemble:
    """A forest of binary trees with multi-output leaves, scored without its trainer."""

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        combine: str = "mean",
        group_size: int = 1,
        threads: int = 2,
    ) -> None:
        missing = [name for name in ARRAY_NAMES if name not in arrays]
        if missing:
            raise ValueError(f"tree ensemble lacks array(s) {', '.join(missing)}")
        if combine not in COMBINES:
            raise ValueError(f"tree ensemble combine must be one of {COMBINES}, got {combine!r}")
        self.feature = np.ascontiguousarray(arrays["feature"], dtype=np.int32)
        self.threshold = np.ascontiguousarray(arrays["threshold"], dtype=np.float64)
        self.left = np.ascontiguousarray(arrays["left"], dtype=np.int32)
        self.right = np.ascontiguousarray(arrays["right"], dtype=np.int32)
        self.cat_index = np.ascontiguousarray(arrays["cat_index"], dtype=np.int32)
        self.cat_masks = np.ascontiguousarray(arrays["cat_masks"], dtype=np.bool_)
        self.values = np.ascontiguousarray(arrays["values"], dtype=np.float64)
        self.roots = np.ascontiguousarray(arrays["roots"], dtype=np.int32)
        self.combine = combine
        self.group_size = int(group_size)
        self.threads = max(1, int(threads))
        self._validate()
        self._prepare()

    # ------------------------------------------------------------------ shape
    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.roots.size)

    @property
    def n_nodes(self) -> int:
        """Number of nodes over all trees."""
        return int(self.feature.size)

    @property
    def n_outputs(self) -> int:
        """Columns of :meth:`predict`."""
        if self.combine == "causal":
            return causal_offers(int(self.values.shape[1])) or 1
        return 1 if self.combine == "regression" else int(self.values.shape[1])

    @property
    def n_features(self) -> int:
        """Columns of ``X`` the ensemble reads (one more than the largest split feature)."""
        return int(self.feature.max(initial=-1)) + 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the ensemble, by name (what a bundle stores)."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}

    def to_manifest(self) -> dict[str, Any]:
        """How to rebuild the ensemble from its arrays."""
        return {
            "kind": "tree_ensemble",
            "combine": self.combine,
            "group_size": self.group_size,
            "n_trees": self.n_trees,
            "n_outputs": self.n_outputs,
        }

    @classmethod
    def from_manifest(
        cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray], threads: int = 2
    ) -> TreeEnsemble:
        """Rebuild from :meth:`to_manifest` output and the arrays by name."""
        ensemble = cls(
            arrays,
            combine=str(spec["combine"]),
            group_size=int(spec.get("group_size", 1)),
            threads=threads,
        )
        if ensemble.n_trees != int(spec["n_trees"]):
            raise ValueError(
                f"tree ensemble has {ensemble.n_trees} trees, the manifest says {spec['n_trees']}"
            )
        return ensemble

    # ------------------------------------------------------------- prediction
    def predict(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's outputs, shape (n_rows, n_outputs)."""
        X = self._check_X(X)
        if self.combine == "mean":
            return self._batched(X, self.n_outputs, self._mean_batch)
        return self._batched(
            X, self.n_outputs, lambda Xb: self._bagged_batch(Xb, variance=False)
        )

    def predict_variance(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and the variance of each (little-bag ensembles only), each (n_rows, 1)."""
        if self.combine not in LITTLE_BAGS:
            raise ValueError(
                f"only a {' or '.join(LITTLE_BAGS)} tree ensemble has a variance, "
                f"this one is {self.combine!r}"
            )
        X = self._check_X(X)
        k = self.n_outputs
        both = self._batched(X, 2 * k, lambda Xb: self._bagged_batch(Xb, variance=True))
        return both[:, :k], both[:, k:]

    def outputs_of(self, means: np.ndarray) -> np.ndarray:
        """A little-bag ensemble's outputs (n, K) from tree-averaged leaf statistics (n, s)."""
        if self.combine == "causal":
            return causal_effects(means, self.n_outputs)[0]
        return regression_gradient(means)[0]

    def outputs_and_gradient(self, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`outputs_of` (n, K) and its gradient in the statistics (n, K, s)."""
        if self.combine == "causal":
            return causal_gradient(means, self.n_outputs)
        return regression_gradient(means)

    def leaf_indices(self, X: np.ndarray) -> np.ndarray:
        """The leaf each row reaches in each tree, shape (n_rows, n_trees)."""
        X = self._check_X(X)
        return self._batched(X, self.n_trees, lambda Xb: self._leaves(Xb).T, dtype=np.int32)

    # ---------------------------------------------------------------- private
    def _check_X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] < self.n_features:
            raise ValueError(
                f"X must be a matrix with at least {self.n_features} columns, got shape {X.shape}"
            )
        return X

    def _batched(
        self,
        X: np.ndarray,
        width: int,
        work: Callable[[np.ndarray], np.ndarray],
        dtype: Any = np.float64,
    ) -> np.ndarray:
        n = X.shape[0]
        out = np.empty((n, width), dtype=dtype)
        starts = range(0, n, BATCH_ROWS)

        def run(start: int) -> None:
            out[start : start + BATCH_ROWS] = work(X[start : start + BATCH_ROWS])

        if self.threads > 1 and n > BATCH_ROWS:
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(run, starts))
        else:
            for start in starts:
                run(start)
        return out

    def _leaves(self, Xb: np.ndarray) -> np.ndarray:
        nb = Xb.shape[0]
        flat = np.ascontiguousarray(Xb[:, : max(self.n_features, 1)].T).ravel()
        cat_bins = self._categorical_bins(flat, nb)
        offsets = self._eval_feature.astype(np.int64) * nb
        rows = np.arange(nb, dtype=np.int64)
        width = self.cat_masks.shape[1]
        out = np.empty((self.n_trees, nb), dtype=np.int32)  # tree-major: rows stay contiguous
        for t in range(self.n_trees):
            node = np.full(nb, self.roots[t], dtype=np.int64)
            for level in range(int(self._depth[t])):
                idx = offsets.take(node)
                idx += rows
                go_right = flat.take(idx) > self._eval_threshold.take(node)
                if self._cat_levels[t, level]:
                    cat = self.cat_index.take(node)
                    at = np.flatnonzero(cat >= 0)
                    code = cat[at] * width + cat_bins.take(idx[at])
                    go_right[at] = ~self._masks_flat.take(code)
                node *= 2
                node += go_right
                node = self._children.take(node)
            out[t] = node
        return out

    def _categorical_bins(self, flat: np.ndarray, nb: int) -> np.ndarray:
        """Bin of every categorical value the trees test (code + 1; 0 missing or unseen)."""
        out = np.zeros(flat.size, dtype=np.int64)
        width = self.cat_masks.shape[1]
        for f in self._cat_features:
            codes = flat[f * nb : (f + 1) * nb]
            known = np.isfinite(codes) & (codes >= 0) & (codes < width - 1)
            out[f * nb : (f + 1) * nb] = np.where(known, np.where(known, codes, 0) + 1, 0)
        return out

    def _mean_batch(self, Xb: np.ndarray) -> np.ndarray:
        leaves = self._leaves(Xb)
        total = np.zeros((Xb.shape[0], self.values.shape[1]))
        for t in range(self.n_trees):
            total += self.values.take(leaves[t], axis=0)
        return total / self.n_trees

    def _bagged_batch(self, Xb: np.ndarray, *, variance: bool) -> np.ndarray:
        """Outputs (and variances) of a little-bag ensemble for a batch: (nb, K) or (nb, 2K)."""
        leaves = self._leaves(Xb)
        nb = Xb.shape[0]
        means = np.zeros((nb, self.values.shape[1]))
        for t in range(self.n_trees):
            means += self.values.take(leaves[t], axis=0)
        means /= self.n_trees
        if not variance:
            return self.outputs_of(means)
        theta, gradient = self.outputs_and_gradient(means)
        centre = np.einsum("nkv,nv->nk", gradient, means)

        def influence(s: np.ndarray) -> np.ndarray:
            out = np.einsum("nkv,nv->nk", gradient, s)
            out -= centre
            return out

        variances = little_bag_variance(
            self.values, leaves, influence, theta.shape, group_size=self.group_size
        )
        return np.hstack([theta, variances])

    # ------------------------------------------------------------- validation
    def _validate(self) -> None:
        n = self.feature.size
        if n == 0 or self.roots.size == 0:
            raise ValueError("tree ensemble has no trees")
        for name in ("threshold", "left", "right", "cat_index"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"tree ensemble array {name!r} must have {n} entries")
        if self.values.ndim != 2 or self.values.shape[0] != n or self.values.shape[1] == 0:
            raise ValueError(f"tree ensemble values must have shape ({n}, outputs)")
        if self.cat_masks.ndim != 2 or self.cat_masks.shape[1] < 2:
            raise ValueError("tree ensemble cat_masks must be a matrix of bins")
        if self.combine in LITTLE_BAGS:
            width = int(self.values.shape[1])
            if self.combine == "causal" and causal_offers(width) is None:
                raise ValueError(
                    "a causal ensemble's leaves hold 2K + 1 + K(K + 1)/2 means for K offers "
                    f"(4, 8, 13, …), not {width}"
                )
            if self.combine == "regression" and width != REGRESSION_STATS:
                raise ValueError(f"a regression ensemble's leaves hold {REGRESSION_STATS} means")
            if self.group_size < 2 or self.roots.size % self.group_size:
                raise ValueError(
                    f"a {self.combine} ensemble needs whole groups of at least 2 trees"
                )
        ends = np.append(self.roots[1:], n)
        if self.roots[0] != 0 or (ends <= self.roots).any():
            raise ValueError("tree ensemble roots must start at 0 and increase")
        tree_end = np.repeat(ends, ends - self.roots)
        index = np.arange(n)
        internal = self.feature >= 0
        for side in (self.left, self.right):
            child = side[internal]
            if ((child <= index[internal]) | (child >= tree_end[internal])).any():
                raise ValueError("tree ensemble children must follow their parent in its tree")
        cat = self.cat_index[internal]
        if ((cat < -1) | (cat >= self.cat_masks.shape[0])).any():
            raise ValueError("tree ensemble cat_index points outside cat_masks")

    def _prepare(self) -> None:
        n = self.feature.size
        leaf = self.feature < 0
        categorical = ~leaf & (self.cat_index >= 0)
        index = np.arange(n, dtype=np.int32)
        self._eval_feature = np.where(leaf, 0, self.feature).astype(np.int32)
        self._eval_threshold = np.where(leaf | categorical, np.inf, self.threshold)
        self._children = np.column_stack(
            [np.where(leaf, index, self.left), np.where(leaf, index, self.right)]
        ).ravel()
        tree_of = np.repeat(np.arange(self.n_trees), np.diff(np.append(self.roots, n)))
        node_depth = _node_depths(self.left, self.right, leaf, self.roots)
        self._depth = np.zeros(self.n_trees, dtype=np.int64)
        np.maximum.at(self._depth, tree_of, node_depth)
        levels = int(self._depth.max()) + 1
        self._cat_levels = np.zeros((self.n_trees, levels), dtype=bool)
        self._cat_levels[tree_of[categorical], node_depth[categorical]] = True
        self._cat_features = np.unique(self.feature[categorical])
        self._masks_flat = self.cat_masks.ravel()


def _node_depths(
    left: np.ndarray, right: np.ndarray, leaf: np.ndarray, roots: np.ndarray
) -> np.ndarray:
    """Depth of every node (roots at 0); every node is reached, as children follow parents."""
    depth = np.zeros(leaf.size, dtype=np.int64)
    frontier = roots.astype(np.int64)
    level = 0
    while frontier.size:
        depth[frontier] = level
        frontier = frontier[~leaf[frontier]]
        frontier = np.concatenate([left[frontier], right[frontier]]).astype(np.int64)
        level += 1
    return depth
