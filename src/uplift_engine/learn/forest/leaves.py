"""Leaf values of grown trees, compiled: per-arm means, honest causal and regression means.

Invariant: node ids follow creation order (a child's id is larger than its parent's), so one
forward pass can let a node without enough rows inherit its parent's values. Honest estimation
routes held-out rows down a grown tree with the same rule as growth ("bin ≤ t" or "bin in
mask" goes left) and sums their values into every node on their path.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def route_stats(
    bins, rows, offset, vals, feature, threshold, left, right, cat_row, cat_masks, slots
):
    """Sum each row's values into every node on its path (honest estimation on held-out rows)."""
    n_nodes = feature.size
    stats = np.zeros((n_nodes, slots))
    width = vals.shape[1]
    for i in range(rows.size):
        r = rows[i]
        o = offset[r]
        node = 0
        while True:
            for j in range(width):
                stats[node, o + j] += vals[r, j]
            f = feature[node]
            if f < 0:
                break
            b = bins[r, f]
            c = cat_row[node]
            go_left = cat_masks[c, b] if c >= 0 else b <= threshold[node]
            node = left[node] if go_left else right[node]
    return stats


@numba.njit(nogil=True, cache=True)
def uplift_leaf_values(stats, left, right, n_arms):
    """Per-arm outcome means of every node; an arm absent from a node takes its parent's mean."""
    n_nodes = stats.shape[0]
    values = np.zeros((n_nodes, n_arms))
    for a in range(n_arms):
        w = stats[0, 3 * a + 1]
        values[0, a] = stats[0, 3 * a + 2] / w if w > 0.0 else 0.0
    for node in range(n_nodes):
        for child in (left[node], right[node]):
            if child < 0:
                continue
            for a in range(n_arms):
                w = stats[child, 3 * a + 1]
                values[child, a] = stats[child, 3 * a + 2] / w if w > 0.0 else values[node, a]
    return values


@numba.njit(nogil=True, cache=True)
def causal_leaf_values(stats, left, right, min_arm):
    """Honest means of (W̃, Ỹ, W̃Ỹ, W̃²) per node.

    A node with fewer than ``min_arm`` treated or control estimation rows takes its parent's.
    """
    n_nodes = stats.shape[0]
    values = np.zeros((n_nodes, 4))
    _causal_means(stats[0], values[0])
    for node in range(n_nodes):
        for child in (left[node], right[node]):
            if child < 0:
                continue
            s = stats[child]
            if s[1] > min_arm - 0.5 and s[0] - s[1] > min_arm - 0.5 and s[2] > 0.0:
                _causal_means(s, values[child])
            else:
                values[child, :] = values[node, :]
    return values


@numba.njit(nogil=True, cache=True)
def _causal_means(s, out):
    w = s[2]
    if w <= 0.0:
        return
    out[0] = s[3] / w
    out[1] = s[4] / w
    out[2] = s[5] / w
    out[3] = s[6] / w


@numba.njit(nogil=True, cache=True)
def regression_leaf_values(stats, left, right, min_arm):
    """Honest (Σw·y/n, Σw/n) per node, n its estimation rows (grf's regression leaves).

    A node with fewer than ``min_arm`` estimation rows of the offer or of control, or no
    weight, takes its parent's; the forest's output is the ratio of the tree-averaged values.
    """
    n_nodes = stats.shape[0]
    values = np.zeros((n_nodes, 2))
    _regression_means(stats[0], values[0])
    for node in range(n_nodes):
        for child in (left[node], right[node]):
            if child < 0:
                continue
            s = stats[child]
            if s[1] > min_arm - 0.5 and s[2] > min_arm - 0.5 and s[3] > 0.0:
                _regression_means(s, values[child])
            else:
                values[child, :] = values[node, :]
    return values


@numba.njit(nogil=True, cache=True)
def _regression_means(s, out):
    if s[0] <= 0.0 or s[3] <= 0.0:
        out[1] = 1.0
        return
    out[0] = s[4] / s[0]
    out[1] = s[3] / s[0]
