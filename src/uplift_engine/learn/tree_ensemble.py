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
  of K offers' residualised arm indicators W̃ and outcome Ỹ (:func:`causal_means_width` columns:
  4 for one offer, in the order W̃, Ỹ, W̃Ỹ, W̃²); the K outputs are the forest's effects
  θ = J⁻¹·(M_wy − M_w·M_y) with J = M_ww − M_w·M_wᵀ over the tree-averaged means M (grf's forest
  weights; one offer: θ = (M_wy − M_w·M_y) / (M_ww − M_w²)), and their variances come from the
  bootstrap of little bags: consecutive groups of ``group_size`` trees share a half-sample
  (Athey, Tibshirani & Wager 2019);
- ``"regression"``: leaf values are the honest (Σw·y/n, Σw/n) of a pseudo-outcome y over the
  leaf's n estimation rows (grf's regression forest); the single output is their ratio over the
  tree-averaged values, a weighted mean of y, with a variance from the little bags as above.

Both little-bag combines are the forest's estimating equation averaged over trees; tree ``b``'s
contribution ψ_b (causal: the moments of the regression, a K-vector; regression:
Σw·y/n − θ·Σw/n) gives output k's variance from the G bag means of (J⁻¹ψ)_k: their spread
(× G/(G − 1), as they vary around their own mean) less the within-bag noise, Bayes-debiased
(grf), plus the Monte Carlo variance of the mean of G bags, spread/G — the forest scored has
G bags, not the infinitely many grf's estimate is for. J is the derivative of the equation (J
above, or M_w). As the
equation is linear in a tree's leaf means s_b and zero at their average M, J⁻¹ψ_b is
∇θ(M)·(s_b − M): one small matrix product per tree and row.

This module is on the scoring path: NumPy only. Arrays are validated on construction, so a
corrupt ensemble fails to load instead of looping or reading out of bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

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

        return np.hstack([theta, self._little_bag_variance(leaves, influence, theta.shape)])

    def _little_bag_variance(
        self,
        leaves: np.ndarray,
        influence: Callable[[np.ndarray], np.ndarray],
        shape: tuple[int, ...],
    ) -> np.ndarray:
        """Bayes-debiased between-bag variance of the trees' mean influence J⁻¹ψ, per output."""
        ell = self.group_size
        n_groups = self.n_trees // ell
        total_sq = np.zeros(shape)
        between_sq = np.zeros(shape)
        for g in range(n_groups):
            group = np.zeros(shape)
            for t in range(g * ell, (g + 1) * ell):
                p = influence(self.values.take(leaves[t], axis=0))
                total_sq += p * p
                group += p
            group /= ell
            between_sq += group * group
        var_between = between_sq / n_groups
        var_total = total_sq / (n_groups * ell)
        noise = (var_total - var_between) / (ell - 1)
        if n_groups < 2:
            return _bayes_debias(var_between, noise, n_groups)
        # bag means vary around their own mean: (G − 1)/G of their variance shows; and the
        # forest is the mean of G bags, whose Monte Carlo variance var_between/(G − 1) adds
        spread = var_between * n_groups / (n_groups - 1)
        return _bayes_debias(spread, noise, n_groups) + spread / n_groups

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


def causal_means_width(n_offers: int) -> int:
    """Leaf means of a causal ensemble of ``n_offers`` offers: 2K + 1 + K(K + 1)/2."""
    return 2 * n_offers + 1 + n_offers * (n_offers + 1) // 2


def causal_offers(width: int) -> int | None:
    """The number of offers whose causal leaves hold ``width`` means (``None``: no such K)."""
    k = 1
    while causal_means_width(k) < width:
        k += 1
    return k if causal_means_width(k) == width else None


def causal_parts(
    stats: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split causal means (n, width) into W̃ (n, K), Ỹ (n,), W̃Ỹ (n, K) and W̃W̃ᵀ (n, K, K)."""
    w, y, wy = stats[:, :k], stats[:, k], stats[:, k + 1 : 2 * k + 1]
    ww = np.empty((stats.shape[0], k, k))
    column = 2 * k + 1
    for j in range(k):
        for m in range(j, k):
            ww[:, j, m] = stats[:, column]
            ww[:, m, j] = stats[:, column]
            column += 1
    return w, y, wy, ww


def causal_effects(means: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Effects θ (n, K) from tree-averaged causal means (n, width), and J⁻¹ (n, K, K).

    J = M_ww − M_w·M_wᵀ is floored at 1e-12 (one offer) or given 1e-12 on its diagonal (several),
    so a degenerate neighbourhood gives a large, finite effect instead of an error.
    """
    m_w, m_y, m_wy, m_ww = causal_parts(means, k)
    rhs = m_wy - m_w * m_y[:, None]
    if k == 1:
        den = np.maximum(m_ww[:, 0, 0] - m_w[:, 0] ** 2, _DENOMINATOR_FLOOR)
        inverse = (1.0 / den)[:, None, None]
    else:
        jac = m_ww - m_w[:, :, None] * m_w[:, None, :]
        jac += _DENOMINATOR_FLOOR * np.eye(k)
        inverse = np.linalg.inv(jac)
    return np.einsum("nij,nj->ni", inverse, rhs), inverse


def causal_gradient(means: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Effects θ (n, K) from tree-averaged causal means (n, width), and ∇θ (n, K, width).

    dθ = J⁻¹·(dM_wy − dM_w·M_y − M_w·dM_y − dM_ww·θ + dM_w·(M_w·θ) + M_w·(dM_w·θ)), taken along
    each statistic in turn. A tree's influence on the estimating equation, J⁻¹ψ_b, is
    ∇θ·(s_b − M) for its leaf means s_b (the equation is linear in them and zero at M).
    """
    n = means.shape[0]
    m_w, m_y, _, _ = causal_parts(means, k)
    theta, inverse = causal_effects(means, k)
    along = np.einsum("nk,nk->n", m_w, theta)
    moves = np.zeros((n, k, means.shape[1]))  # the bracket, one column per statistic
    moves[:, :, k] = -m_w
    for j in range(k):
        moves[:, j, j] += along - m_y
        moves[:, :, j] += m_w * theta[:, j : j + 1]
        moves[:, j, k + 1 + j] = 1.0
    column = 2 * k + 1
    for j in range(k):
        for m in range(j, k):
            moves[:, j, column] -= theta[:, m]
            if m != j:
                moves[:, m, column] -= theta[:, j]
            column += 1
    return theta, np.einsum("nij,njs->nis", inverse, moves)


def regression_gradient(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θ = M_y / M_w (n, 1) of a regression ensemble, and ∇θ (n, 1, 2)."""
    m_y, m_w = means.T
    m_w = np.maximum(m_w, _DENOMINATOR_FLOOR)
    theta = m_y / m_w
    return theta[:, None], np.column_stack([1.0 / m_w, -theta / m_w])[:, None, :]


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


def _bayes_debias(var_between: np.ndarray, noise: np.ndarray, n_groups: int) -> np.ndarray:
    """Posterior-mean correction of grf: a positive variance from a noisy difference."""
    initial = var_between - noise
    se = np.maximum(np.maximum(var_between, noise), 1e-300) * math.sqrt(2.0 / n_groups)
    ratio = initial / se
    density = np.exp(-0.5 * ratio * ratio) / math.sqrt(2.0 * math.pi)
    tail = 0.5 * _erfc(-ratio / math.sqrt(2.0))
    return initial + se * density / np.maximum(tail, 1e-300)


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[-1])
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly = poly * t + c
    r = t * np.exp(poly - z * z)
    return np.where(x >= 0, r, 2.0 - r)


_ERFC_COEFFS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)
