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
def route_leaves(bins, rows, feature, threshold, left, right, cat_row, cat_masks):
    """The leaf each of ``rows`` reaches in a grown tree (out-of-bag estimates)."""
    out = np.empty(rows.size, dtype=np.int32)
    for i in range(rows.size):
        r = rows[i]
        node = 0
        while feature[node] >= 0:
            b = bins[r, feature[node]]
            c = cat_row[node]
            go_left = cat_masks[c, b] if c >= 0 else b <= threshold[node]
            node = left[node] if go_left else right[node]
        out[i] = node
    return out


@numba.njit(nogil=True, cache=True)
def add_leaf_values(sums, count, positions, leaves, values):
    """Add ``values[leaves[i]]`` into ``sums[positions[i]]`` and count it (out-of-bag means)."""
    for i in range(positions.size):
        p = positions[i]
        count[p] += 1.0
        for j in range(values.shape[1]):
            sums[p, j] += values[leaves[i], j]


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
def causal_leaf_values(stats, left, right, min_arm, n_offers):
    """Honest means of (W̃_k, Ỹ, W̃_k·Ỹ, W̃_j·W̃_k for j ≤ k) per node, 4 columns for one offer.

    A node with fewer than ``min_arm`` estimation rows in some arm takes its parent's.
    """
    n_nodes = stats.shape[0]
    values = np.zeros((n_nodes, 2 * n_offers + 1 + n_offers * (n_offers + 1) // 2))
    _causal_means(stats[0], n_offers, values[0])
    for node in range(n_nodes):
        for child in (left[node], right[node]):
            if child < 0:
                continue
            s = stats[child]
            enough = s[n_offers + 1] > 0.0
            for a in range(n_offers + 1):
                enough = enough and s[a] > min_arm - 0.5
            if enough:
                _causal_means(s, n_offers, values[child])
            else:
                values[child, :] = values[node, :]
    return values


@numba.njit(nogil=True, cache=True)
def _causal_means(s, n_offers, out):
    """The means of the statistics after the arm counts and Σw (see ``criteria``)."""
    w = s[n_offers + 1]
    if w <= 0.0:
        return
    for j in range(out.size):
        out[j] = s[n_offers + 2 + j] / w


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
