"""Has the population moved since training? Per feature and per uplift score, two samples.

For each column, the reference sample (the training data) against the current one (recent
traffic):

* **population stability index** — ``PSI = Σ_b (c_b − r_b) · ln(c_b / r_b)`` over bins ``b``:
  for a number, the reference's deciles (plus a bin for missing values); for a category, its
  values (plus "unseen" and missing). Shares are floored at 10⁻⁴ so an empty bin stays finite.
  The usual reading: < 0.1 stable, 0.1–0.25 moderate, > 0.25 a shift;
* **a test fitted to the sample size**, as the drift tools do (Evidently's defaults): with at
  most ``SMALL`` rows in either sample (for a number: values, missing ones aside — a column
  missing in 99% of 30,000 rows is a sample of 300, whose distance is noise), a two-sample
  Kolmogorov–Smirnov test for a number and a chi-squared test of the contingency table for a
  category, drifted when ``p < 0.05``; larger samples make every test significant, so a
  distance instead — the Wasserstein distance divided by the reference's standard deviation
  for a number, the Jensen–Shannon distance of the two distributions for a category —
  drifted above 0.1;
* the share of **missing** values in each sample and the **unseen categories** (values the
  reference never had), with their share of the current sample.

NumPy and SciPy's tests; a column is given as a NumPy array of floats (NaN = missing) or of
objects (None = missing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SMALL = 1_000
"""At most this many rows (numbers: values) in either sample: a statistical test; more: a
distance."""
P_VALUE, DISTANCE = 0.05, 0.1
_FLOOR = 1e-4


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift between the reference and the current sample."""

    name: str
    kind: str
    """``numeric`` or ``categorical``."""
    psi: float
    method: str
    """``ks``, ``chi2``, ``wasserstein`` or ``jensen_shannon``."""
    statistic: float
    """The test's p-value, or the distance."""
    drifted: bool
    missing_reference: float
    missing_current: float
    unseen: dict[str, float] = field(default_factory=dict)
    """Categories the reference never had, with their share of the current sample."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "name": self.name,
            "kind": self.kind,
            "psi": _finite(self.psi),
            "method": self.method,
            "p_value" if self.method in ("ks", "chi2") else "distance": _finite(self.statistic),
            "drifted": self.drifted,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "unseen": self.unseen,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    r = np.maximum(reference / max(reference.sum(), 1), _FLOOR)
    c = np.maximum(current / max(current.sum(), 1), _FLOOR)
    return float(((c - r) * np.log(c / r)).sum())


def numeric_drift(name: str, reference: np.ndarray, current: np.ndarray) -> ColumnDrift:
    """A numeric column's drift (see the module docstring)."""
    from scipy import stats

    ref = np.asarray(reference, np.float64)
    cur = np.asarray(current, np.float64)
    ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    miss_r = float(np.isnan(ref).mean()) if ref.size else 0.0
    miss_c = float(np.isnan(cur).mean()) if cur.size else 0.0
    if ref_ok.size == 0 or cur_ok.size == 0:
        return ColumnDrift(name, "numeric", math.nan, "none", math.nan, miss_r != miss_c,
                           miss_r, miss_c)  # fmt: skip
    edges = np.unique(np.quantile(ref_ok, np.linspace(0, 1, 11))[1:-1])
    counts_r = np.append(np.bincount(np.searchsorted(edges, ref_ok, side="right"),
                                     minlength=edges.size + 1), np.isnan(ref).sum())  # fmt: skip
    counts_c = np.append(np.bincount(np.searchsorted(edges, cur_ok, side="right"),
                                     minlength=edges.size + 1), np.isnan(cur).sum())  # fmt: skip
    psi = _psi(counts_r, counts_c)
    if max(ref_ok.size, cur_ok.size) <= SMALL:  # the values seen: a sparse column is small
        p = float(stats.ks_2samp(ref_ok, cur_ok).pvalue)
        return ColumnDrift(name, "numeric", psi, "ks", p, p < P_VALUE, miss_r, miss_c)
    spread = float(ref_ok.std())
    distance = float(stats.wasserstein_distance(ref_ok, cur_ok)) / spread if spread > 0 else (
        0.0 if np.array_equal(np.unique(cur_ok), np.unique(ref_ok)) else math.inf
    )
    return ColumnDrift(name, "numeric", psi, "wasserstein", distance, distance > DISTANCE,
                       miss_r, miss_c)  # fmt: skip


def categorical_drift(name: str, reference: np.ndarray, current: np.ndarray) -> ColumnDrift:
    """A categorical column's drift (see the module docstring)."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref = [None if v is None else str(v) for v in reference]
    cur = [None if v is None else str(v) for v in current]
    levels = sorted({v for v in ref if v is not None})
    index = {v: i for i, v in enumerate(levels)}
    unseen_at, missing_at = len(levels), len(levels) + 1

    def counts(values: list[str | None]) -> np.ndarray:
        out = np.zeros(len(levels) + 2)
        for v in values:
            out[missing_at if v is None else index.get(v, unseen_at)] += 1
        return out

    counts_r, counts_c = counts(ref), counts(cur)
    unseen: dict[str, float] = {}
    for v in cur:
        if v is not None and v not in index:
            unseen[v] = unseen.get(v, 0) + 1
    unseen = {k: n / max(len(cur), 1) for k, n in sorted(unseen.items())}
    miss_r = counts_r[missing_at] / max(len(ref), 1)
    miss_c = counts_c[missing_at] / max(len(cur), 1)
    psi = _psi(counts_r, counts_c)
    if max(len(ref), len(cur)) <= SMALL:
        keep = (counts_r + counts_c) > 0
        if keep.sum() < 2:
            return ColumnDrift(name, "categorical", psi, "chi2", 1.0, False, miss_r, miss_c,
                               unseen)  # fmt: skip
        p = float(stats.chi2_contingency(np.vstack([counts_r[keep], counts_c[keep]]))[1])
        return ColumnDrift(name, "categorical", psi, "chi2", p, p < P_VALUE, miss_r, miss_c,
                           unseen)  # fmt: skip
    distance = float(jensenshannon(counts_r / counts_r.sum(), counts_c / counts_c.sum(), base=2))
    return ColumnDrift(name, "categorical", psi, "jensen_shannon", distance, distance > DISTANCE,
                       miss_r, miss_c, unseen)  # fmt: skip
