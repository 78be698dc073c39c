"""What a campaign really added: incremental totals against a random holdout, with intervals.

A targeted campaign keeps a random holdout among the customers it could have treated: those
customers got nothing, by a coin flip. For any group ``G`` of treated customers (the whole
policy, one offer, one segment) and its counterpart ``H`` in the holdout (the held-out
customers who would have been in ``G``), the campaign's incremental outcome on ``G`` is

    Δ = n_G · (ȳ_G − ȳ_H)

— the difference in means scaled to the treated count, unbiased because the holdout is a random
draw from the same customers. Its standard error is Welch's,
``n_G · √(s²_G / n_G + s²_H / n_H)``, and the interval ``Δ ± z · se`` (normal approximation;
both groups large enough for the central limit theorem — at least 30 customers each, or no
interval is given).

**Regression adjustment (CUPED, cross-fitted).** What a customer would have done anyway is
partly predictable from what is known before the campaign (their features as of assignment; the
model's prediction of their outcome without an offer). With ``ŷ_i`` a linear prediction of
``y_i`` from those covariates, fitted on *other* folds of the customers (both groups pooled,
never the customer's own outcome, never the group), the same difference in means of the
residuals ``y_i − ŷ_i`` estimates the same Δ — the prediction has the same mean in both groups
by randomisation — with the variance the covariates explain removed. Both are reported, with
how much narrower the adjusted interval is.

Standard library and NumPy; the arrays are the caller's (the campaign measurement in the report
layer reads plans, outcomes and decision logs into them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uplift_engine.evaluate.estimate import NAN, Estimate, json_number

MIN_GROUP = 30
"""Fewer customers than this in either group: the total is given without an interval."""


@dataclass(frozen=True)
class Increment:
    """An incremental total of one outcome over a group, plain and adjusted."""

    treated: int
    held_out: int
    plain: Estimate
    adjusted: Estimate | None
    """With regression adjustment (None without covariates)."""
    se_plain: float
    se_adjusted: float

    @property
    def best(self) -> Estimate:
        """The adjusted estimate when there is one, else the plain one."""
        return self.adjusted if self.adjusted is not None else self.plain

    @property
    def narrower(self) -> float:
        """How much narrower the adjusted interval is than the plain one (0.25 = 25%)."""
        if self.adjusted is None or not self.se_plain > 0:
            return NAN
        return 1.0 - self.se_adjusted / self.se_plain

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: counts, both estimates, the narrowing."""
        return {
            "treated": self.treated,
            "held_out": self.held_out,
            "estimate": self.best.to_dict(),
            "plain": self.plain.to_dict(),
            "adjusted": None if self.adjusted is None else self.adjusted.to_dict(),
            "interval_narrower_by": json_number(self.narrower),
        }


def difference_total(
    y: np.ndarray, treated: np.ndarray, held: np.ndarray, level: float
) -> tuple[Estimate, float]:
    """``n_G · (ȳ_G − ȳ_H)`` with Welch's standard error; the estimate and its se."""
    y_t, y_h = y[treated], y[held]
    n_t, n_h = y_t.size, y_h.size
    if n_t == 0 or n_h == 0:
        return Estimate(NAN), NAN
    value = n_t * (float(y_t.mean()) - float(y_h.mean()))
    if n_t < MIN_GROUP or n_h < MIN_GROUP:
        return Estimate(value), NAN
    se = n_t * math.sqrt(float(y_t.var(ddof=1)) / n_t + float(y_h.var(ddof=1)) / n_h)
    return Estimate.normal(value, se, level), se


def cross_fitted_prediction(
    y: np.ndarray, covariates: np.ndarray, rows: np.ndarray, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """``ŷ`` for ``rows``: least squares on the covariates, each fold fitted on the others.

    Columns with no variance are dropped; missing covariate values are replaced by the column
    mean and flagged by an indicator column, so no customer is left out.
    """
    X = _design(covariates[rows])
    target = y[rows]
    n = target.size
    out = np.empty(n)
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    fold[order] = np.arange(n) % max(2, min(folds, n))
    for f in np.unique(fold):
        test = fold == f
        beta, *_ = np.linalg.lstsq(X[~test], target[~test], rcond=None)
        out[test] = X[test] @ beta
    full = np.full(y.size, np.nan)
    full[rows] = out
    return full


def _design(covariates: np.ndarray) -> np.ndarray:
    cols = [np.ones(covariates.shape[0])]
    for j in range(covariates.shape[1]):
        col = covariates[:, j].astype(float)
        missing = np.isnan(col)
        if missing.all():
            continue
        col = np.where(missing, np.nanmean(col), col)
        if col.std() > 0:
            cols.append(col - col.mean())
        if missing.any():
            cols.append(missing.astype(float))
    return np.column_stack(cols)


def increment(
    y: np.ndarray,
    treated: np.ndarray,
    held: np.ndarray,
    *,
    level: float = 0.9,
    predicted: np.ndarray | None = None,
) -> Increment:
    """The incremental total of ``y`` over the ``treated`` rows against the ``held`` rows.

    ``predicted``: the cross-fitted ``ŷ`` of :func:`cross_fitted_prediction` (NaN where not
    fitted), for the regression-adjusted estimate.
    """
    plain, se_plain = difference_total(y, treated, held, level)
    adjusted, se_adjusted = None, NAN
    if predicted is not None:
        adjusted, se_adjusted = difference_total(y - predicted, treated, held, level)
        adjusted = Estimate(adjusted.value, adjusted.low, adjusted.high)
    return Increment(
        int(treated.sum()), int(held.sum()), plain, adjusted, se_plain, se_adjusted
    )


def ratio_interval(numerator: Estimate, denominator: float) -> Estimate:
    """``numerator / denominator`` for a denominator known exactly (the realised cost)."""
    if not denominator > 0:
        return Estimate(NAN)
    return Estimate(
        numerator.value / denominator, numerator.low / denominator, numerator.high / denominator
    )
