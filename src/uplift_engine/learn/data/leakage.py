"""Outcome leakage: feature columns that (nearly) determine the outcome they are to predict.

A column measured after the offer — revenue beside a conversion flag, a "redeemed" flag, the
outcome copied under another name — makes an uplift model look excellent on the campaign it
learns from and fail on the next one, when that column is not known yet. No pre-treatment
behaviour separates converters from the others perfectly, so a column that does is refused
(the user may keep it by name).

Invariant: ``X`` is the encoder's matrix (NaN = missing; categorical columns hold level codes),
``y`` the outcome. The target ``z`` is ``y`` itself for a binary outcome, and whether ``y`` is
non-zero for a continuous one (revenue is non-zero exactly for converters). A column *leaks*
when, on its own, it ranks ``z`` with an AUC of at least :data:`AUC_LIMIT` (or at most
``1 - AUC_LIMIT``): numeric columns by their value (missing lowest), categorical ones by each
level's share of ``z`` — or, for a continuous outcome, when its Spearman correlation with ``y``
is at least :data:`RANK_CORRELATION_LIMIT` in absolute value. Each class of ``z`` needs
:data:`MIN_CLASS_ROWS` rows, so that chance cannot reach the limits (with ten rows a class, a
column unrelated to the outcome reaches AUC 0.99 with probability about 1e-20).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUC_LIMIT = 0.99
RANK_CORRELATION_LIMIT = 0.99
MIN_CLASS_ROWS = 10
MAX_LEVELS = 200
"""Categorical columns with more levels are judged by value order only (in-sample level
shares would separate almost any target through many tiny levels)."""
SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class Leak:
    """A feature column that nearly determines the outcome, and by what measure."""

    feature: str
    measure: str
    value: float

    def describe(self, outcome: str, binary: bool) -> str:
        """A sentence for the user."""
        if self.measure == "auc":
            what = "separates converters from the others" if binary else (
                f"tells which rows have a non-zero {outcome!r}"
            )
            return f"column {self.feature!r} {what} almost perfectly (AUC {self.value:.3f})"
        return (
            f"column {self.feature!r} follows {outcome!r} almost exactly "
            f"(rank correlation {self.value:+.3f})"
        )


def find_leaks(
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    categorical: list[int],
    *,
    binary: bool,
    seed: int = 0,
) -> list[Leak]:
    """The feature columns of ``X`` that (nearly) determine ``y``, most telling first."""
    if len(y) > SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), SAMPLE_ROWS, replace=False))
        X, y = X[rows], y[rows]
    z = y if binary else (y != 0).astype(np.float64)
    positives = int(z.sum())
    separable = min(positives, len(z) - positives) >= MIN_CLASS_ROWS
    ranked_y = _ranks(y) if not binary and len(y) >= 2 * MIN_CLASS_ROWS else None
    found = []
    for j, name in enumerate(names):
        column = X[:, j]
        if separable:
            scores = _level_shares(column, z) if j in categorical else column
            auc = _auc(scores, z)
            if abs(auc - 0.5) >= AUC_LIMIT - 0.5:
                found.append(Leak(name, "auc", auc))
                continue
        if ranked_y is not None and j not in categorical:
            rho = _spearman(column, ranked_y)
            if abs(rho) >= RANK_CORRELATION_LIMIT:
                found.append(Leak(name, "rank_correlation", rho))
    return sorted(found, key=lambda leak: -abs(leak.value - (0.5 if leak.measure == "auc" else 0)))


def _auc(scores: np.ndarray, z: np.ndarray) -> float:
    """Mann-Whitney AUC of ``scores`` for the 0/1 target ``z`` (missing scores rank lowest)."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    ranks = _ranks(filled)
    positives = z == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _level_shares(codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Each row's level replaced by that level's share of ``z`` (missing is a level too)."""
    filled = np.where(np.isnan(codes), -1.0, codes)
    levels, inverse = np.unique(filled, return_inverse=True)
    if len(levels) > MAX_LEVELS:
        return codes
    share = np.bincount(inverse, weights=z) / np.bincount(inverse)
    return share[inverse]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks, 1-based, ties sharing the mean of their positions."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def _spearman(column: np.ndarray, ranked_y: np.ndarray) -> float:
    present = ~np.isnan(column)
    if present.sum() < 2 * MIN_CLASS_ROWS:
        return 0.0
    a = _ranks(column[present])
    b = ranked_y[present]
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])
