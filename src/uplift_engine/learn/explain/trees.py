"""Per-feature contributions to a :class:`TreeEnsemble`'s outputs, in NumPy (path attributions).

Invariant: for every row, ``base + contributions.sum(features)`` equals the ensemble's output.

- ``"mean"`` ensembles (uplift forests): Saabas path attributions. Every node of a tree holds
  the means of the rows that reached it, so a row's leaf value is its root's value plus the
  changes ``values[child] − values[node]`` along its path; each change is credited to the
  feature the node splits on, and the forest's share is the average over trees. The base is the
  tree-averaged root value (the same for every row). Exact, up to float rounding.
- ``"causal"`` / ``"regression"`` ensembles: the outputs are smooth functions of tree-averaged
  leaf statistics M (θ = J⁻¹·(M_wy − M_w·M_y) with J = M_ww − M_w·M_wᵀ — one offer:
  (M_wy − M_w·M_y)/(M_ww − M_w²) — or M_y/M_w). M is split per feature as
  above (its statistics are tree means), then θ(M) − θ(M₀) is shared by Aumann–Shapley
  (integrated gradients) along the straight line from the base statistics M₀ to the row's M:
  feature f gets ``c_f · ∫₀¹ ∇θ(M₀ + t·ΔM) dt``, where ``c_f`` is its share of ΔM. The shares
  add up to θ(M) − θ(M₀) (Gauss–Legendre quadrature of a smooth integrand; the error is below
  1e-9 in practice — the denominators stay positive along the line, as J is concave in t,
  so J(t) ⪰ (1 − t)·J(M₀) + t·J(M), and M_w is linear). The ensemble's floor on a vanishing
  denominator bends the path only where a denominator is below 1e-12.

Rows are routed exactly as :class:`TreeEnsemble` routes them (``x > threshold`` goes right, so
a missing value goes left; a categorical node sends a level right when its bin is not in the
node's mask). Only the ensemble's public arrays are read. NumPy only (on the scoring path).
"""

from __future__ import annotations

import numpy as np

from uplift_engine.learn.tree_ensemble import TreeEnsemble

QUADRATURE_NODES = 24
BATCH_ROWS = 16_384
PAIRS_PER_STEP = 1 << 20
"""(row, tree) pairs walked together: bounds the memory of one step."""


def ensemble_contributions(
    ensemble: TreeEnsemble, X: np.ndarray, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contributions (n_rows, n_features, n_outputs), base values and outputs (n_rows, n_outputs).

    The outputs are the ensemble's, computed from the same walk down the trees.

    ``n_features`` is the width of the explanation: split features beyond it (none for a forest
    of this package) would be credited to the base.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < ensemble.n_features:
        raise ValueError(
            f"X must be a matrix with at least {ensemble.n_features} columns, got shape {X.shape}"
        )
    n = X.shape[0]
    contrib = np.zeros((n, n_features, ensemble.n_outputs))
    base = np.zeros((n, ensemble.n_outputs))
    output = np.zeros((n, ensemble.n_outputs))
    for start in range(0, n, BATCH_ROWS):
        rows = slice(start, start + BATCH_ROWS)
        stats, stats_base = path_attributions(ensemble, X[rows])
        total = stats_base + stats.sum(axis=1)
        if stats.shape[1] > n_features:  # columns the explanation does not cover
            stats_base = stats_base + stats[:, n_features:].sum(axis=1)
            stats = stats[:, :n_features]
        if ensemble.combine == "mean":
            contrib[rows, : stats.shape[1]] = stats
            base[rows] = stats_base
            output[rows] = total
        else:
            shares, theta0 = _ratio_shares(ensemble, stats, stats_base)
            contrib[rows, : stats.shape[1]] = shares
            base[rows] = theta0
            output[rows] = ensemble.outputs_of(total)
    return contrib, base, output


def path_attributions(ensemble: TreeEnsemble, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saabas attributions of the tree-averaged node values: (n, n_cols, stats) and (n, stats).

    ``n_cols`` is ``X``'s width; the base (one row per input row) is the mean root value. Every
    (row, tree) pair walks down at once, one tree level per step, in chunks of trees.
    """
    n, width = X.shape
    values = ensemble.values
    out = np.zeros((n * width, values.shape[1]))
    per_chunk = max(1, PAIRS_PER_STEP // max(n, 1))
    n_bins = ensemble.cat_masks.shape[1]
    for first in range(0, ensemble.n_trees, per_chunk):
        roots = ensemble.roots[first : first + per_chunk].astype(np.int64)
        node = np.tile(roots, n)
        row = np.repeat(np.arange(n, dtype=np.int64), roots.size)
        while node.size:
            feature = ensemble.feature[node]
            internal = feature >= 0
            node, row, feature = node[internal], row[internal], feature[internal]
            if not node.size:
                break
            x = X[row, feature]
            go_right = x > ensemble.threshold[node]
            cat = ensemble.cat_index[node]
            is_cat = cat >= 0
            if is_cat.any():
                codes = x[is_cat]
                known = np.isfinite(codes) & (codes >= 0) & (codes < n_bins - 1)
                bins = np.where(known, np.where(known, codes, 0) + 1, 0).astype(np.int64)
                go_right[is_cat] = ~ensemble.cat_masks[cat[is_cat], bins]
            child = np.where(go_right, ensemble.right[node], ensemble.left[node]).astype(np.int64)
            index = row * width + feature
            delta = values[child] - values[node]
            for j in range(delta.shape[1]):
                out[:, j] += np.bincount(index, weights=delta[:, j], minlength=out.shape[0])
            node = child
    out /= ensemble.n_trees
    base = np.broadcast_to(values[ensemble.roots].mean(axis=0), (n, values.shape[1])).copy()
    return out.reshape(n, width, values.shape[1]), base


def _ratio_shares(
    ensemble: TreeEnsemble, stats: np.ndarray, stats_base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Aumann–Shapley shares (n, p, K) of θ(M) − θ(M₀), and θ(M₀) (n, K)."""
    delta = stats.sum(axis=1)
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    k = ensemble.n_outputs
    mean_gradient = np.zeros((delta.shape[0], k, delta.shape[1]))
    for t, w in zip((nodes + 1.0) / 2.0, weights / 2.0, strict=True):
        mean_gradient += w * ensemble.outputs_and_gradient(stats_base + t * delta)[1]
    shares = np.einsum("nps,nks->npk", stats, mean_gradient)
    return shares, ensemble.outputs_of(stats_base)
