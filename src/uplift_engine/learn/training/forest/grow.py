"""Growing one tree on binned data, compiled (numba, no GIL), with histogram subtraction.

Invariant: ``bins`` (rows × features, one byte each) is read-only and shared by every tree
being grown at the same time; a tree owns only its row list (a bootstrap or half-sample, with
repeats), a scratch copy of it, and a small pool of histograms — so memory does not grow with
the number of threads beyond O(rows + depth · features · 256 · slots) each.

A row adds ``vals[row, j]`` to slot ``offset[row] + j`` of its bin's histogram (uplift forests:
offset = 3·arm and values (1, w, w·y); causal forests: offset 0 and
:func:`~uplift_engine.learn.training.forest.criteria.causal_slots` values, seven for one offer;
regression forests: offset 0 and five values). ``n_arms`` counts control: a causal forest of K
offers has K + 1. Nodes are
grown depth-first; a node's histogram is built only for its smaller child, the larger child's is
the parent's minus it. Node ids are given in creation order, so a child's id is always larger
than its parent's. A split "bin ≤ t" (numeric) or "bin in mask" (categorical) sends rows left.
"""

from __future__ import annotations

import numba
import numpy as np

from uplift_engine.learn.training.forest.binning import BIN_WIDTH
from uplift_engine.learn.training.forest.criteria import (
    CAUSAL,
    REGRESSION,
    causal_gain,
    causal_map_size,
    causal_split_map,
    causal_theta,
    regression_gain,
    summarise,
)
from uplift_engine.learn.training.forest.criteria import uplift_gain as _uplift_gain

_MULT = np.uint64(2685821657736338717)


@numba.njit(nogil=True, cache=True)
def _random(state: np.ndarray) -> np.uint64:
    """xorshift64*: the next pseudo-random 64-bit number of ``state`` (one uint64)."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * _MULT


@numba.njit(nogil=True, cache=True)
def _sample_features(state: np.ndarray, perm: np.ndarray, m: int) -> None:
    """Put ``m`` distinct random features first in ``perm`` (a partial Fisher–Yates shuffle)."""
    p = perm.size
    for i in range(m):
        j = i + np.int64((_random(state) >> np.uint64(11)) % np.uint64(p - i))
        perm[i], perm[j] = perm[j], perm[i]


@numba.njit(nogil=True, cache=True)
def build_histogram(bins, rows, start, end, offset, vals, hist):
    """Add the rows ``rows[start:end]`` into ``hist`` (features × bins × slots)."""
    width = vals.shape[1]
    if width == 3:
        _histogram_3(bins, rows, start, end, offset, vals, hist)
    elif width == 5:
        _histogram_5(bins, rows, start, end, offset, vals, hist)
    elif width == 7:
        _histogram_7(bins, rows, start, end, offset, vals, hist)
    else:
        p = bins.shape[1]
        for i in range(start, end):
            r = rows[i]
            o = offset[r]
            for f in range(p):
                b = bins[r, f]
                for j in range(width):
                    hist[f, b, o + j] += vals[r, j]


@numba.njit(nogil=True, cache=True)
def _histogram_3(bins, rows, start, end, offset, vals, hist):
    """:func:`build_histogram` for three values a row (uplift forests), unrolled."""
    p = bins.shape[1]
    for i in range(start, end):
        r = rows[i]
        o = offset[r]
        v0, v1, v2 = vals[r, 0], vals[r, 1], vals[r, 2]
        for f in range(p):
            b = bins[r, f]
            hist[f, b, o] += v0
            hist[f, b, o + 1] += v1
            hist[f, b, o + 2] += v2


@numba.njit(nogil=True, cache=True)
def _histogram_5(bins, rows, start, end, offset, vals, hist):
    """:func:`build_histogram` for five values a row (regression forests), unrolled."""
    p = bins.shape[1]
    for i in range(start, end):
        r = rows[i]
        o = offset[r]
        v0, v1, v2, v3, v4 = vals[r, 0], vals[r, 1], vals[r, 2], vals[r, 3], vals[r, 4]
        for f in range(p):
            b = bins[r, f]
            hist[f, b, o] += v0
            hist[f, b, o + 1] += v1
            hist[f, b, o + 2] += v2
            hist[f, b, o + 3] += v3
            hist[f, b, o + 4] += v4


@numba.njit(nogil=True, cache=True)
def _histogram_7(bins, rows, start, end, offset, vals, hist):
    """:func:`build_histogram` for seven values a row (causal forests), unrolled."""
    p = bins.shape[1]
    for i in range(start, end):
        r = rows[i]
        o = offset[r]
        v0, v1, v2, v3 = vals[r, 0], vals[r, 1], vals[r, 2], vals[r, 3]
        v4, v5, v6 = vals[r, 4], vals[r, 5], vals[r, 6]
        for f in range(p):
            b = bins[r, f]
            hist[f, b, o] += v0
            hist[f, b, o + 1] += v1
            hist[f, b, o + 2] += v2
            hist[f, b, o + 3] += v3
            hist[f, b, o + 4] += v4
            hist[f, b, o + 5] += v5
            hist[f, b, o + 6] += v6


@numba.njit(nogil=True, cache=True)
def _is_uplift(kind):
    """Whether ``kind`` is one of the uplift criteria (per-arm slots and node summaries)."""
    return kind != CAUSAL and kind != REGRESSION


@numba.njit(nogil=True, cache=True)
def _row_count(kind, stats, n_arms):
    if kind == REGRESSION:
        return stats[0]
    total = 0.0
    if kind == CAUSAL:  # one count per arm, first
        for a in range(n_arms):
            total += stats[a]
        return total
    for a in range(n_arms):
        total += stats[3 * a]
    return total


@numba.njit(nogil=True, cache=True)
def _arms_ok(kind, stats, n_arms, min_arm):
    if kind == REGRESSION:
        return stats[1] > min_arm - 0.5 and stats[2] > min_arm - 0.5
    for a in range(n_arms):  # noqa: SIM110 (numba compiles loops, not generators)
        if stats[3 * a] < min_arm - 0.5:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _category_key(kind, stats, p_node, n_reg, min_arm, scratch, mat, theta):
    """Sort key of a category inside a node: its (shrunk) uplift, summed slopes, or mean."""
    if kind == CAUSAL:
        key = 0.0
        if causal_theta(stats, scratch.size - 1, mat, theta):
            for k in range(scratch.size - 1):
                key += theta[k]
        return key
    if kind == REGRESSION:
        return stats[4] / stats[3] if stats[3] > 0.0 else 0.0
    summarise(stats, p_node, True, n_reg, min_arm, scratch)
    key = 0.0
    for k in range(1, scratch.size):
        key += scratch[k] - scratch[0]
    return key


@numba.njit(nogil=True, cache=True)
def _candidate_bins(kind, hist, f, nb, bins, rows, start, end, n_arms, order, seen):
    """The bins of feature ``f`` that hold rows of the node, ascending, into ``order``.

    A small node's bins are found from its rows, a large node's by scanning the histogram.
    """
    n_order = 0
    if end - start < nb:
        for i in range(start, end):
            b = bins[rows[i], f]
            if not seen[b]:
                seen[b] = True
                order[n_order] = b
                n_order += 1
        for j in range(n_order):
            seen[order[j]] = False
        order[:n_order].sort()
    else:
        for b in range(nb):
            if _row_count(kind, hist[f, b], n_arms) > 0.5:
                order[n_order] = b
                n_order += 1
    return n_order


@numba.njit(nogil=True, cache=True)
def _find_split(
    kind, hist, total, p_node, perm, m, is_cat, n_bins, n_arms, n_reg, normalization,
    min_leaf, min_arm, best_order, bins, rows, start, end, work, p_left, p_right, order, keys,
    seen, mat, theta, node_map,
):
    """Best split among the first ``m`` features of ``perm``: (gain, feature, position, n_order).

    For a numeric feature ``position`` is the bin threshold; for a categorical one it is the
    length of the prefix of ``best_order`` (bins sorted by their key) that goes left.
    ``work`` (2 × slots), ``p_left``, ``p_right`` (one per arm), ``order``, ``keys``, ``seen``
    (all false), ``mat`` (offers × offers), ``theta`` (offers) and ``node_map``
    (:func:`~uplift_engine.learn.training.forest.criteria.causal_map_size`) are scratch space.
    """
    left = work[0]
    right = work[1]
    best_gain = 0.0
    best_feature = -1
    best_position = -1
    best_n_order = 0
    if kind == CAUSAL and not causal_split_map(total, n_arms - 1, mat, theta, node_map):
        return best_gain, best_feature, best_position, best_n_order
    for i in range(m):
        f = perm[i]
        nb = n_bins[f]
        if nb < 2:
            continue
        n_order = _candidate_bins(kind, hist, f, nb, bins, rows, start, end, n_arms, order, seen)
        if n_order < 2:
            continue
        if is_cat[f]:
            for j in range(n_order):
                keys[j] = _category_key(
                    kind, hist[f, order[j]], p_node, n_reg, min_arm, p_left, mat, theta
                )
            sorted_idx = np.argsort(keys[:n_order], kind="mergesort")
            tmp = order[:n_order].copy()
            for j in range(n_order):
                order[j] = tmp[sorted_idx[j]]
        if kind == CAUSAL:
            gain, j = _scan_causal(
                hist, f, order, n_order, total, n_arms, min_leaf, min_arm, node_map, theta, left
            )
        else:
            gain, j = _scan(
                kind, hist, f, order, n_order, total, n_arms, n_reg, normalization, p_node,
                min_leaf, min_arm, left, right, p_left, p_right,
            )
        if gain > best_gain:
            best_gain = gain
            best_feature = f
            if is_cat[f]:
                best_position = j + 1
                best_n_order = n_order
                best_order[:n_order] = order[:n_order]
            else:
                best_position = order[j]
    return best_gain, best_feature, best_position, best_n_order


@numba.njit(nogil=True, cache=True)
def _scan(
    kind, hist, f, order, n_order, total, n_arms, n_reg, normalization, p_node, min_leaf,
    min_arm, left, right, p_left, p_right,
):
    """The best cut of feature ``f`` of an uplift or regression node: (gain, index in ``order``).

    The index is −1 when no cut qualifies; ``left``, ``right`` (slots) and ``p_left``,
    ``p_right`` (arms) are scratch space.
    """
    slots = total.size
    best_gain = 0.0
    best_j = -1
    left[:] = 0.0
    for j in range(n_order - 1):
        bin_stats = hist[f, order[j]]
        for s in range(slots):
            left[s] += bin_stats[s]
            right[s] = total[s] - left[s]
        if _row_count(kind, left, n_arms) < min_leaf - 0.5:
            continue
        if _row_count(kind, right, n_arms) < min_leaf - 0.5:
            break
        if not _arms_ok(kind, left, n_arms, min_arm):
            continue
        if not _arms_ok(kind, right, n_arms, min_arm):
            continue
        if kind == REGRESSION:
            gain = regression_gain(total, left, right)
        else:
            summarise(left, p_node, True, n_reg, min_arm, p_left)
            summarise(right, p_node, True, n_reg, min_arm, p_right)
            gain = _uplift_gain(kind, total, left, right, p_node, p_left, p_right, normalization)
        if gain > best_gain:
            best_gain = gain
            best_j = j
    return best_gain, best_j


@numba.njit(nogil=True, cache=True)
def _scan_causal(hist, f, order, n_order, total, n_arms, min_leaf, min_arm, node_map, z, left):
    """The best cut of feature ``f`` of a causal node: (gain, its index into ``order``).

    :func:`_scan` for the causal statistics: a cut needs ``min_leaf`` rows and
    ``min_arm`` rows of every arm on each side; only the left child's sums are kept, as
    :func:`~uplift_engine.learn.training.forest.criteria.causal_gain` needs no more.
    """
    slots = total.size
    left[:] = 0.0
    best_gain = 0.0
    best_j = -1
    total_rows = 0.0
    for a in range(n_arms):
        total_rows += total[a]
    lo = min_leaf - 0.5
    arm_lo = min_arm - 0.5
    for j in range(n_order - 1):
        b = order[j]
        rows = 0.0
        ok = True
        for a in range(n_arms):
            c = left[a] + hist[f, b, a]
            left[a] = c
            rows += c
            if c < arm_lo or total[a] - c < arm_lo:
                ok = False
        for s in range(n_arms, slots):
            left[s] += hist[f, b, s]
        if rows < lo:
            continue
        if total_rows - rows < lo:
            break
        if not ok:
            continue
        gain = causal_gain(total, left, n_arms - 1, node_map, z)
        if gain > best_gain:
            best_gain = gain
            best_j = j
    return best_gain, best_j


@numba.njit(nogil=True, cache=True)
def _clear(hist, bins, rows, start, end):
    """Zero a histogram that holds exactly the rows ``rows[start:end]``."""
    if end - start >= hist.shape[1]:
        hist[:] = 0.0
        return
    for i in range(start, end):
        r = rows[i]
        for f in range(hist.shape[0]):
            hist[f, bins[r, f], :] = 0.0


@numba.njit(nogil=True, cache=True)
def _subtract(parent, small, bins, rows, start, end, offset, vals):
    """Turn the parent's histogram into its larger child's: remove the smaller child's rows."""
    if end - start >= parent.shape[1]:
        parent -= small
        return
    width = vals.shape[1]
    for i in range(start, end):
        r = rows[i]
        o = offset[r]
        for f in range(parent.shape[0]):
            b = bins[r, f]
            for j in range(width):
                parent[f, b, o + j] -= vals[r, j]


@numba.njit(nogil=True, cache=True)
def _partition(bins, rows, scratch, start, end, f, threshold, mask, categorical):
    """Stable in-place partition of ``rows[start:end]``; returns the first right position."""
    w = start
    k = 0
    for i in range(start, end):
        r = rows[i]
        b = bins[r, f]
        go_left = mask[b] if categorical else b <= threshold
        if go_left:
            rows[w] = r
            w += 1
        else:
            scratch[k] = r
            k += 1
    for i in range(k):
        rows[w + i] = scratch[i]
    return w


@numba.njit(nogil=True, cache=True)
def grow_tree(
    kind, bins, is_cat, n_bins, rows_in, offset, vals, slots, n_arms, n_reg, normalization,
    max_depth, min_leaf, min_arm, max_features, min_share, seed,
):
    """Grow one tree; returns (feature, threshold_bin, left, right, cat_row, cat_masks, stats).

    A child must hold at least ``min_leaf`` rows and at least ``min_share`` of its parent's.

    ``feature`` is −1 at leaves; ``cat_row`` indexes ``cat_masks`` for categorical splits;
    ``stats`` holds every node's summed slots over the rows it was grown on.
    """
    n_rows = rows_in.size
    p = bins.shape[1]
    rows = rows_in.copy()
    scratch = np.empty_like(rows)
    cap_depth = np.int64(1) << np.int64(min(max_depth + 1, 40))
    max_nodes = min(cap_depth - 1, 2 * (n_rows // max(min_leaf, 1)) + 1)
    feature = np.full(max_nodes, -1, dtype=np.int32)
    threshold = np.zeros(max_nodes, dtype=np.int32)
    left_child = np.full(max_nodes, -1, dtype=np.int32)
    right_child = np.full(max_nodes, -1, dtype=np.int32)
    cat_row = np.full(max_nodes, -1, dtype=np.int32)
    any_cat = False
    for f in range(p):
        any_cat = any_cat or is_cat[f]
    cat_masks = np.zeros((max_nodes // 2 + 1 if any_cat else 1, BIN_WIDTH), dtype=np.bool_)
    stats = np.zeros((max_nodes, slots))
    node_p = np.zeros((max_nodes, n_arms))
    width = 1
    for f in range(p):
        width = max(width, n_bins[f])
    n_pool = max_depth + 3
    pool = np.zeros((n_pool, p, width, slots))  # a free slot is always all zero
    free = np.arange(n_pool)
    n_free = n_pool
    stack_node = np.empty(n_pool, dtype=np.int64)
    stack_start = np.empty(n_pool, dtype=np.int64)
    stack_end = np.empty(n_pool, dtype=np.int64)
    stack_depth = np.empty(n_pool, dtype=np.int64)
    stack_slot = np.empty(n_pool, dtype=np.int64)
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    perm = np.arange(p)
    m = min(max(max_features, 1), p)
    best_order = np.empty(BIN_WIDTH, dtype=np.int64)
    no_mask = np.zeros(BIN_WIDTH, dtype=np.bool_)
    work = np.zeros((2, slots))
    p_left = np.zeros(n_arms)
    p_right = np.zeros(n_arms)
    order = np.empty(BIN_WIDTH, dtype=np.int64)
    keys = np.empty(BIN_WIDTH)
    seen = np.zeros(BIN_WIDTH, dtype=np.bool_)
    mat = np.zeros((max(n_arms - 1, 1), max(n_arms - 1, 1)))
    theta = np.zeros(max(n_arms - 1, 1))
    node_map = np.zeros(causal_map_size(max(n_arms - 1, 1)))

    n_free -= 1
    slot = free[n_free]
    build_histogram(bins, rows, 0, n_rows, offset, vals, pool[slot])
    for b in range(width):
        for s in range(slots):
            stats[0, s] += pool[slot, 0, b, s]
    if _is_uplift(kind):
        summarise(stats[0], node_p[0], False, n_reg, min_arm, node_p[0])
    n_nodes = 1
    top = 0
    stack_node[0], stack_start[0], stack_end[0] = 0, 0, n_rows
    stack_depth[0], stack_slot[0] = 0, slot
    top = 1
    n_cat = 0
    while top > 0:
        top -= 1
        node = stack_node[top]
        start = stack_start[top]
        end = stack_end[top]
        depth = stack_depth[top]
        slot = stack_slot[top]
        split = False
        if depth < max_depth and end - start >= 2 * min_leaf and n_nodes + 2 <= max_nodes:
            _sample_features(state, perm, m)
            min_child = max(min_leaf, int(np.ceil(min_share * (end - start))))
            _, f, position, _ = _find_split(
                kind, pool[slot], stats[node], node_p[node], perm, m, is_cat, n_bins, n_arms,
                n_reg, normalization, min_child, min_arm, best_order, bins, rows, start, end,
                work, p_left, p_right, order, keys, seen, mat, theta, node_map,
            )
            split = f >= 0
        if not split:
            _clear(pool[slot], bins, rows, start, end)
            free[n_free] = slot
            n_free += 1
            continue
        categorical = is_cat[f]
        mask = no_mask
        if categorical:
            mask = cat_masks[n_cat]
            for j in range(position):
                mask[best_order[j]] = True
            cat_row[node] = n_cat
            n_cat += 1
        feature[node] = f
        threshold[node] = position if not categorical else 0
        mid = _partition(bins, rows, scratch, start, end, f, position, mask, categorical)
        left_id = n_nodes
        right_id = n_nodes + 1
        n_nodes += 2
        left_child[node] = left_id
        right_child[node] = right_id
        n_free -= 1
        small_slot = free[n_free]  # free slots are all zero
        small_is_left = mid - start <= end - mid
        small_start, small_end = (start, mid) if small_is_left else (mid, end)
        build_histogram(bins, rows, small_start, small_end, offset, vals, pool[small_slot])
        _subtract(pool[slot], pool[small_slot], bins, rows, small_start, small_end, offset, vals)
        small_id = left_id if small_is_left else right_id
        large_id = right_id if small_is_left else left_id
        for b in range(width):
            for s in range(slots):
                stats[small_id, s] += pool[small_slot, 0, b, s]
        for s in range(slots):
            stats[large_id, s] = stats[node, s] - stats[small_id, s]
        if _is_uplift(kind):
            summarise(stats[left_id], node_p[node], True, n_reg, min_arm, node_p[left_id])
            summarise(stats[right_id], node_p[node], True, n_reg, min_arm, node_p[right_id])
        large_start, large_end = (mid, end) if small_is_left else (start, mid)
        stack_node[top], stack_start[top], stack_end[top] = large_id, large_start, large_end
        stack_depth[top], stack_slot[top] = depth + 1, slot
        top += 1
        stack_node[top], stack_start[top], stack_end[top] = small_id, small_start, small_end
        stack_depth[top], stack_slot[top] = depth + 1, small_slot
        top += 1
    return (
        feature[:n_nodes].copy(),
        threshold[:n_nodes].copy(),
        left_child[:n_nodes].copy(),
        right_child[:n_nodes].copy(),
        cat_row[:n_nodes].copy(),
        cat_masks[: max(n_cat, 1)].copy(),
        stats[:n_nodes].copy(),
    )
