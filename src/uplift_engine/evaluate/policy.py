"""Value of a targeting policy: off-policy estimates on randomised data, exact values on truth.

Invariants: a policy is an array of arm codes (0 = control) of length n. Its value is the
expected outcome per customer had everyone received the policy's arm. On observed data it is
estimated by inverse propensity weighting over the rows whose assigned arm equals the policy's
arm, self-normalised (Hájek): ``Σ w·y / Σ w`` with ``w = 1[T = π] / e_T``; the interval is the
normal approximation with the estimator's linearised (influence-function) variance. Two policies
evaluated on the same rows are compared with the paired influence functions, so the interval of
a gain accounts for their correlation. With the truth (n, K+1), values are exact means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import DataError
from uplift_engine.evaluate.estimate import NAN, Estimate, json_number


def greedy_policy(uplift: np.ndarray) -> np.ndarray:
    """The offer with the largest predicted uplift when it is positive, else control (0).

    ``uplift`` is ``(n, K)``; returns arm codes ``(n,)`` in ``0..K`` (ties: the first offer).
    """
    effects = np.asarray(uplift, np.float64)
    if effects.ndim == 1:
        effects = effects[:, None]
    best = np.argmax(effects, axis=1)
    gain = effects[np.arange(effects.shape[0]), best]
    return np.where(gain > 0, best + 1, 0).astype(np.int64)


@dataclass(frozen=True)
class PolicyValue:
    """Estimated value of a policy (outcome per customer) on randomised data."""

    estimate: Estimate  # self-normalised IPW (Hájek) with its interval
    ipw: float  # plain inverse propensity weighting (Horvitz–Thompson), for reference
    n_followed: int  # rows whose assigned arm is the policy's arm (the rows that inform it)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: value, interval, plain IPW and the number of informative rows."""
        return {
            **self.estimate.to_dict(),
            "ipw": json_number(self.ipw),
            "n_followed": self.n_followed,
        }


def _influence(
    chosen: np.ndarray, treatment: np.ndarray, y: np.ndarray, p_assigned: np.ndarray
) -> tuple[float, float, np.ndarray, int]:
    """Hájek estimate, plain IPW, per-row influence values and rows followed."""
    n = y.shape[0]
    w = (treatment == chosen) / p_assigned
    total = float(w.sum())
    if total <= 0:
        return NAN, NAN, np.full(n, np.nan), 0
    value = float(w @ y) / total
    psi = w * (y - value) / (total / n)
    return value, float(w @ y) / n, psi, int((treatment == chosen).sum())


def _assigned_propensity(
    treatment: np.ndarray, propensity: np.ndarray | None, n_arms: int
) -> np.ndarray:
    n = treatment.shape[0]
    if propensity is None:
        shares = np.bincount(treatment, minlength=n_arms) / n
        return shares[treatment]
    return np.asarray(propensity, np.float64)[np.arange(n), treatment]


def _check_policy(chosen: object, treatment: object, y: object) -> tuple[np.ndarray, ...]:
    arms = np.asarray(chosen, np.int64)
    t = np.asarray(treatment, np.int64)
    outcome = np.asarray(y, np.float64)
    if not arms.shape == t.shape == outcome.shape or arms.ndim != 1:
        raise DataError(
            "chosen_arm, treatment and y must be 1-D arrays of one length; received shapes "
            f"{arms.shape}, {t.shape}, {outcome.shape}",
            field="chosen_arm",
        )
    if arms.size and (arms.min() < 0 or t.min() < 0):
        raise DataError("arm codes must be non-negative (0 = control)", field="chosen_arm")
    return arms, t, outcome


def policy_value(
    chosen_arm: object,
    treatment: object,
    y: object,
    propensity: np.ndarray | None = None,
    *,
    level: float = 0.95,
) -> PolicyValue:
    """Value per customer of giving each row ``chosen_arm`` (codes, 0 = control).

    Self-normalised IPW on the rows where the assigned arm equals the chosen one, with a
    normal interval; ``propensity`` is ``(n, K+1)`` or None for the observed arm shares.
    """
    arms, t, outcome = _check_policy(chosen_arm, treatment, y)
    n_arms = int(max(arms.max(initial=0), t.max(initial=0))) + 1
    p = _assigned_propensity(t, propensity, n_arms)
    value, ipw, psi, followed = _influence(arms, t, outcome, p)
    se = math.sqrt(float(psi @ psi)) / outcome.shape[0] if followed else NAN
    return PolicyValue(Estimate.normal(value, se, level), ipw, followed)


def policy_gain(
    chosen_arm: object,
    baseline_arm: object,
    treatment: object,
    y: object,
    propensity: np.ndarray | None = None,
    *,
    level: float = 0.95,
) -> Estimate:
    """``V(chosen) − V(baseline)`` on the same rows, with a paired normal interval."""
    arms, t, outcome = _check_policy(chosen_arm, treatment, y)
    base = np.asarray(baseline_arm, np.int64)
    n_arms = int(max(arms.max(initial=0), base.max(initial=0), t.max(initial=0))) + 1
    p = _assigned_propensity(t, propensity, n_arms)
    v1, _, psi1, f1 = _influence(arms, t, outcome, p)
    v0, _, psi0, f0 = _influence(base, t, outcome, p)
    if not (f1 and f0):
        return Estimate(NAN)
    diff = psi1 - psi0
    return Estimate.normal(v1 - v0, math.sqrt(float(diff @ diff)) / outcome.shape[0], level)


def value_from_truth(chosen_arm: np.ndarray, truth: np.ndarray) -> float:
    """Exact value per customer of a policy: ``mean(truth[i, chosen_arm[i]])``."""
    return float(truth[np.arange(truth.shape[0]), chosen_arm].mean())


def oracle_policy(truth: np.ndarray) -> np.ndarray:
    """The best arm of every row by its true expected outcome (ties: the lowest code)."""
    return np.argmax(truth, axis=1).astype(np.int64)


def fraction_of_oracle_gain(value: float, value_none: float, value_oracle: float) -> float:
    """``(V(policy) − V(none)) / (V(oracle) − V(none))``; NaN when the oracle gains nothing."""
    room = value_oracle - value_none
    return (value - value_none) / room if room > 0 else NAN
