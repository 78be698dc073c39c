"""Error of predicted effects against the true effects (simulated data only).

Invariant: the true effect of offer k for row i is ``truth[i, k] − truth[i, 0]`` (expected
outcome under the offer minus under control), compared with the predicted ``uplift[i, k-1]``.
Undefined numbers (a constant array in a correlation) are NaN.
"""

from __future__ import annotations

import numpy as np

from uplift_engine.errors import DataError
from uplift_engine.evaluate.estimate import NAN


def _pair(pred: object, true: object) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, np.float64)
    t = np.asarray(true, np.float64)
    if p.shape != t.shape or p.size == 0:
        raise DataError(
            "predicted and true effects must have one non-empty shape; received "
            f"{p.shape} and {t.shape}",
            field="truth",
        )
    return p, t


def true_effects(truth: np.ndarray) -> np.ndarray:
    """True effect of every offer, ``(n, K)``, from the true outcomes ``(n, K+1)``."""
    return truth[:, 1:] - truth[:, :1]


def pehe(uplift_pred: object, truth_uplift: object) -> float:
    """Precision in estimating heterogeneous effects: root mean squared effect error."""
    p, t = _pair(uplift_pred, truth_uplift)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def effect_correlation(uplift_pred: object, truth_uplift: object) -> float:
    """Pearson correlation of predicted and true effects (NaN if either is constant)."""
    p, t = _pair(uplift_pred, truth_uplift)
    dp, dt = p - p.mean(), t - t.mean()
    den = float(np.sqrt((dp @ dp) * (dt @ dt)))
    return float(dp @ dt) / den if den > 0 else NAN


def sign_agreement(uplift_pred: object, truth_uplift: object) -> float:
    """Share of rows where "predicted effect > 0" agrees with "true effect > 0".

    That is, how often the decision "this offer helps this customer" is right.
    """
    p, t = _pair(uplift_pred, truth_uplift)
    return float(np.mean((p > 0) == (t > 0)))


def coverage(lower: object, upper: object, truth_uplift: object) -> float:
    """Share of rows whose true effect lies within ``[lower, upper]``."""
    lo, t = _pair(lower, truth_uplift)
    hi, _ = _pair(upper, truth_uplift)
    return float(np.mean((lo <= t) & (t <= hi)))
