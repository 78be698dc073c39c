"""Balance check: whether features differ between arms more than randomisation allows.

For each feature and each offer against control we compute the standardised mean difference
(SMD, NaN-aware; categorical codes compared level by level as shares) and a two-sample z
statistic. A feature is flagged when |z| exceeds the Bonferroni-corrected 99.9% threshold
*and* |SMD| ≥ 0.05 — chance alone flags one feature in a thousand campaigns, and tiny but
"significant" differences on a million rows do not cry wolf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

SMD_MIN = 0.05
ALPHA = 0.001


@dataclass(frozen=True)
class Imbalance:
    """One feature that differs between an offer's arm and control."""

    feature: str
    offer: str
    smd: float
    z: float

    def describe(self) -> str:
        """A sentence for the user."""
        return (
            f"feature {self.feature!r} differs between {self.offer!r} and control "
            f"(standardised difference {self.smd:+.2f}, z = {self.z:+.1f}): check that "
            "assignment was random, or give --propensity"
        )


def check_balance(
    X: np.ndarray,
    treatment: np.ndarray,
    names: list[str],
    arms: tuple[str, ...],
    categorical: list[int],
) -> list[Imbalance]:
    """Features whose distribution differs between each offer and control beyond chance."""
    columns, labels = _columns(X, names, categorical)
    if not columns:
        return []
    tests = len(columns) * (len(arms) - 1)
    threshold = NormalDist().inv_cdf(1 - ALPHA / 2 / tests)
    found = []
    control = treatment == 0
    for k in range(1, len(arms)):
        treated = treatment == k
        for values, label in zip(columns, labels, strict=True):
            smd, z = _smd_z(values[treated], values[control])
            if abs(z) > threshold and abs(smd) >= SMD_MIN:
                found.append(Imbalance(label, arms[k], smd, z))
    return sorted(found, key=lambda i: -abs(i.z))


def _columns(
    X: np.ndarray, names: list[str], categorical: list[int]
) -> tuple[list[np.ndarray], list[str]]:
    columns, labels = [], []
    for j, name in enumerate(names):
        col = X[:, j]
        if j in categorical:
            codes, counts = np.unique(col[~np.isnan(col)], return_counts=True)
            for code in codes[np.argsort(-counts)][:10]:
                columns.append((col == code).astype(np.float64))
                labels.append(f"{name}={int(code)}")
        else:
            columns.append(col)
            labels.append(name)
    return columns, labels


def _smd_z(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return 0.0, 0.0
    va, vb = a.var(ddof=1), b.var(ddof=1)
    diff = a.mean() - b.mean()
    pooled = math.sqrt((va + vb) / 2)
    se = math.sqrt(va / len(a) + vb / len(b))
    if pooled == 0 or se == 0:
        return 0.0, 0.0
    return float(diff / pooled), float(diff / se)
