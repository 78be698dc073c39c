"""Uplift calibration: predicted against observed uplift in bins of the predicted uplift.

Invariants: bins are quantiles of the ranking (decile 1 = highest predicted uplift); a group
of equal scores is never split — it goes to the bin of its middle rank — so bins may differ a
little in size and a bin can be empty (then it is omitted). The observed uplift of a bin is
``mean(y | T) − mean(y | C)`` with a normal-approximation interval from the two sample
variances (Welch); it is NaN when the bin has no treated or no control row, and its interval is
NaN when either arm has fewer than 2 rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import UserInputError
from uplift_engine.evaluate.curves import Ranking
from uplift_engine.evaluate.estimate import NAN, Estimate, json_number
from uplift_engine.evaluate.inputs import check_pair


@dataclass(frozen=True)
class CalibrationRow:
    """One bin of predicted uplift: its size, mean prediction and observed uplift."""

    decile: int  # 1 = highest predicted uplift
    n: int
    n_treated: int
    n_control: int
    predicted: float  # mean predicted uplift in the bin
    observed: Estimate  # mean(y|T) − mean(y|C) with its interval

    def to_dict(self) -> dict[str, object]:
        """The row as JSON-ready numbers (``None`` where undefined)."""
        return {
            "decile": self.decile,
            "n": self.n,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "predicted": json_number(self.predicted),
            "observed": json_number(self.observed.value),
            "observed_low": json_number(self.observed.low),
            "observed_high": json_number(self.observed.high),
        }


def bin_of_rows(score: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin (0 = highest scores) of every row: quantiles of the rank, ties kept together."""
    n = score.shape[0]
    ranking = Ranking.build(score, np.zeros(n, bool), np.zeros(n))
    ends = np.append(ranking.starts[1:], n) - 1
    middle = (ranking.starts + ends) / 2
    group_bin = np.minimum((n_bins * (middle + 0.5) / n).astype(np.int64), n_bins - 1)
    sizes = ends - ranking.starts + 1
    bins = np.empty(n, np.int64)
    bins[ranking.order] = np.repeat(group_bin, sizes)
    return bins


def difference_in_means(y: np.ndarray, treated: np.ndarray, level: float = 0.95) -> Estimate:
    """``mean(y|T) − mean(y|C)`` with a Welch normal interval (NaN when undefined)."""
    yt, yc = y[treated], y[~treated]
    if not yt.size or not yc.size:
        return Estimate(NAN)
    value = float(yt.mean() - yc.mean())
    if yt.size < 2 or yc.size < 2:
        return Estimate(value)
    se = math.sqrt(yt.var(ddof=1) / yt.size + yc.var(ddof=1) / yc.size)
    return Estimate.normal(value, se, level)


def calibration_by_decile(
    uplift_k: object, treated: object, y: object, *, n_bins: int = 10, level: float = 0.95
) -> list[CalibrationRow]:
    """Predicted vs observed uplift in ``n_bins`` bins of predicted uplift (deciles by default).

    ``treated`` marks the offer's rows (True) against control rows (False). Rows are returned
    from the highest predicted uplift (decile 1) down; empty bins are omitted.
    """
    if n_bins < 1:
        raise UserInputError(f"n_bins must be at least 1; received {n_bins}", field="n_bins")
    s, t, outcome, _ = check_pair(uplift_k, treated, y)
    bins = bin_of_rows(s, n_bins)
    rows = []
    for b in range(n_bins):
        members = bins == b
        if not members.any():
            continue
        tb = t[members]
        rows.append(
            CalibrationRow(
                decile=b + 1,
                n=int(members.sum()),
                n_treated=int(tb.sum()),
                n_control=int((~tb).sum()),
                predicted=float(s[members].mean()),
                observed=difference_in_means(outcome[members], tb, level),
            )
        )
    return rows
