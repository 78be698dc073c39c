"""Any policy valued offline on randomised data, doubly robust, and two policies compared paired.

On a randomised campaign (arm ``T_i`` drawn with known probability ``e_a(x_i)``, outcome
``y_i``) and outcome models ``μ̂_a(x)`` fitted on *other* rows (cross-fitted), each customer has
a doubly robust score for every arm:

    Γ_i(a) = μ̂_a(x_i) + 1[T_i = a] · (y_i − μ̂_a(x_i)) / e_a(x_i)

``E[Γ_i(a)] = E[y_i(a)]`` whenever the propensities are right (they are: the campaign drew them)
whatever the models — the models only reduce the variance. A policy ``π`` (an arm per customer)
is worth ``V(π) = mean_i Γ_i(π_i)`` per customer, with standard error ``sd_i Γ_i(π_i) / √n``; the
inverse-propensity estimate is the same with ``μ̂ = 0``. Two policies on the same customers are
compared **paired**: ``D_i = Γ_i(π^A_i) − Γ_i(π^B_i)`` is zero wherever they agree, so
``V(A) − V(B) = mean D`` with ``se = sd D / √n`` rests on the customers where they differ — far
narrower than the unpaired ``√(se_A² + se_B²)``, which is reported beside it.

Money: for a binary outcome worth ``v`` and offers costing ``c_a + r_a · y``, the profit under
arm ``a`` is linear in the outcome, so its score is ``v · Γ(a) − c_a − r_a · Γ(a)``
(:func:`profit_scores`). One implementation for ``uplift measure``, the Pipeline's gate
(challenger against champion) and the dashboard. NumPy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import DataError
from uplift_engine.evaluate.estimate import Estimate, json_number


def doubly_robust_scores(
    y: np.ndarray,
    treatment: np.ndarray,
    levels: np.ndarray,
    propensity: np.ndarray | None = None,
) -> np.ndarray:
    """``Γ`` (n, K+1): every customer's doubly robust score under every arm.

    ``levels`` (n, K+1): cross-fitted ``μ̂_a(x_i)`` (zeros give inverse-propensity weighting);
    ``propensity`` (n, K+1), or None for the arms' observed shares (a completely randomised
    design).
    """
    y = np.asarray(y, np.float64)
    t = np.asarray(treatment, np.int64)
    mu = np.asarray(levels, np.float64)
    n, arms = mu.shape
    if y.shape != (n,) or t.shape != (n,):
        raise DataError("y, treatment and levels must have one row per customer", field="y")
    if t.min(initial=0) < 0 or t.max(initial=0) >= arms:
        raise DataError(f"treatment codes must be 0..{arms - 1}", field="treatment")
    if propensity is None:
        shares = np.bincount(t, minlength=arms) / n
        e = np.broadcast_to(shares, (n, arms))
    else:
        e = np.asarray(propensity, np.float64)
    if (e[np.arange(n), t] <= 0).any():
        raise DataError("an assigned arm has propensity 0", field="propensity")
    gamma = mu.copy()
    rows = np.arange(n)
    gamma[rows, t] += (y - mu[rows, t]) / e[rows, t]
    return gamma


def profit_scores(
    gamma: np.ndarray, value: float | np.ndarray, contact: np.ndarray, redemption: np.ndarray
) -> np.ndarray:
    """Scores of the profit under every arm: ``v · Γ − c_a − r_a · Γ`` (arm 0 costs nothing).

    ``contact`` and ``redemption`` are per arm (K+1,), 0 for control.
    """
    v = np.asarray(value, np.float64)
    if v.ndim == 1:
        v = v[:, None]
    return v * gamma - np.asarray(contact)[None, :] - np.asarray(redemption)[None, :] * gamma


@dataclass(frozen=True)
class PolicyComparison:
    """Two policies valued on the same customers, and their paired difference."""

    value_a: Estimate
    value_b: Estimate
    difference: Estimate
    """``V(A) − V(B)`` per customer, paired."""
    se_paired: float
    se_unpaired: float
    disagree: int
    """Customers the two policies give different arms."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: both values, the paired difference and both standard errors."""
        return {
            "value_a": self.value_a.to_dict(),
            "value_b": self.value_b.to_dict(),
            "difference": self.difference.to_dict(),
            "se_paired": json_number(self.se_paired),
            "se_unpaired": json_number(self.se_unpaired),
            "customers_where_they_differ": self.disagree,
        }


def _arms(policy: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    arms = np.asarray(policy, np.int64)
    if arms.shape != (gamma.shape[0],):
        raise DataError("a policy gives one arm per customer", field="policy")
    if arms.min(initial=0) < 0 or arms.max(initial=0) >= gamma.shape[1]:
        raise DataError(f"a policy's arms are codes 0..{gamma.shape[1] - 1}", field="policy")
    return arms


def value(gamma: np.ndarray, policy: np.ndarray, level: float = 0.9) -> tuple[Estimate, float]:
    """``V(π)`` per customer with its interval, and its standard error."""
    picked = gamma[np.arange(gamma.shape[0]), _arms(policy, gamma)]
    se = float(picked.std(ddof=1)) / math.sqrt(picked.size)
    return Estimate.normal(float(picked.mean()), se, level), se


def compare(
    gamma: np.ndarray, policy_a: np.ndarray, policy_b: np.ndarray, level: float = 0.9
) -> PolicyComparison:
    """Policies A and B valued on the same customers; ``V(A) − V(B)`` paired."""
    a, b = _arms(policy_a, gamma), _arms(policy_b, gamma)
    value_a, se_a = value(gamma, a, level)
    value_b, se_b = value(gamma, b, level)
    rows = np.arange(gamma.shape[0])
    d = gamma[rows, a] - gamma[rows, b]
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    return PolicyComparison(
        value_a,
        value_b,
        Estimate.normal(float(d.mean()), se, level),
        se,
        math.hypot(se_a, se_b),
        int((a != b).sum()),
    )
