"""Quantile binning: the float feature matrix to one byte per value, for histogram splits.

Invariant: bin 0 is "missing" (NaN) for every feature, so missing values sit at the low end of
every numeric split and go left, as :mod:`uplift_engine.learn.tree_ensemble` scores them. A
numeric value ``x`` has bin ``1 + #{edges < x}``, so "bin ≤ t" is exactly "x ≤ edges[t − 1]"
and a split found on bins is a plain threshold at scoring time. A categorical level code ``c``
has bin ``c + 1`` (codes beyond the byte range count as missing).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

MAX_BINS = 255  # non-missing bins per feature; with the missing bin, codes fit in a byte
BIN_WIDTH = MAX_BINS + 1
QUANTILE_SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class Binning:
    """Bin edges per feature, and the binned matrix of the rows they were fitted on."""

    bins: np.ndarray  # (n_rows, n_features) uint8, C-contiguous
    edges: tuple[np.ndarray, ...]  # per feature; empty for categorical features
    categorical: np.ndarray  # (n_features,) bool
    n_bins: np.ndarray  # (n_features,) int32: bins in use, missing bin included

    def thresholds(self, feature: np.ndarray, bin_threshold: np.ndarray) -> np.ndarray:
        """The float threshold of numeric splits "bin ≤ t" (−inf for t = 0: missing only)."""
        out = np.full(feature.shape, np.nan)
        for f in np.unique(feature[feature >= 0]):
            if self.categorical[f]:
                continue
            at = np.flatnonzero(feature == f)
            t = bin_threshold[at]
            edges = np.append(self.edges[f], np.inf)  # t ≤ n_edges always (a right side exists)
            out[at] = np.where(t == 0, -np.inf, edges[np.maximum(t - 1, 0)])
        return out


def fit_bins(
    X: np.ndarray,
    categorical: list[int],
    *,
    max_bins: int = MAX_BINS,
    seed: int = 0,
    threads: int = 2,
) -> Binning:
    """Quantile edges per numeric feature (from at most 200,000 rows) and the binned matrix."""
    n, p = X.shape
    max_bins = int(min(max(max_bins, 2), MAX_BINS))
    is_cat = np.zeros(p, dtype=np.bool_)
    is_cat[list(categorical)] = True
    sample_rows = None
    if n > QUANTILE_SAMPLE_ROWS:
        rng = np.random.default_rng(seed)
        sample_rows = np.sort(rng.choice(n, QUANTILE_SAMPLE_ROWS, replace=False))
    bins = np.empty((n, p), dtype=np.uint8)
    edges: list[np.ndarray] = [np.empty(0)] * p

    def one(f: int) -> None:
        column = np.ascontiguousarray(X[:, f])
        if is_cat[f]:
            codes = np.where(np.isfinite(column), column, -1.0)
            known = (codes >= 0) & (codes < BIN_WIDTH - 1)
            bins[:, f] = np.where(known, codes + 1, 0).astype(np.uint8)
            return
        sample = column if sample_rows is None else column[sample_rows]
        edges[f] = _edges(sample, max_bins)
        bins[:, f] = bin_numeric(column, edges[f])

    if threads > 1 and p > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(p)))
    else:
        for f in range(p):
            one(f)
    n_bins = (bins.max(axis=0).astype(np.int32) + 1) if n else np.ones(p, dtype=np.int32)
    return Binning(bins=bins, edges=tuple(edges), categorical=is_cat, n_bins=n_bins)


def bin_numeric(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bins of one numeric column: 0 for NaN, else ``1 + #{edges < x}``."""
    out = np.searchsorted(edges, column, side="left").astype(np.uint8)
    out += 1
    out[np.isnan(column)] = 0
    return out


def _edges(values: np.ndarray, max_bins: int) -> np.ndarray:
    values = np.sort(values[~np.isnan(values)])
    if values.size == 0:
        return np.empty(0)
    first = np.concatenate([[True], values[1:] != values[:-1]])
    unique = values[first]
    if unique.size <= max_bins:
        return unique[:-1].astype(np.float64)
    positions = np.linspace(0.0, values.size - 1, max_bins + 1)[1:-1]
    below = np.floor(positions).astype(np.int64)
    share = positions - below
    above = np.minimum(below + 1, values.size - 1)
    quantiles = values[below] * (1.0 - share) + values[above] * share
    return np.unique(quantiles).astype(np.float64)
