"""Qini and uplift (AUUC) curves of one offer against control, batched over row weights.

Invariants kept here (docs/metrics.md has the formulas):

- Rows are ranked by predicted uplift, highest first; rows with **equal scores form one group**
  and the curves only have points at group ends, so no order among ties can inflate a metric
  (a constant score gives exactly the random line).
- A curve is a function of four cumulative sums at each group end — treated weight ``n_t``,
  control weight ``n_c``, treated outcome ``y_t``, control outcome ``y_c`` — held in an array of
  shape ``(4, b, G+1)`` (``b`` weight vectors, ``G`` groups, a leading 0 column for the origin).
  Unweighted data is ``b = 1``; bootstrap resamples are ``b`` vectors of resample counts, so
  every resample reuses the one sort.
- x is the fraction of the pair targeted (cumulative weight / total weight), in [0, 1].
- Qini (Radcliffe 2007): ``Q = y_t − y_c · n_t / n_c``; uplift curve (Rzepakowski &
  Jaroszewicz): ``U = (y_t / n_t − y_c / n_c) · (n_t + n_c)``. A ratio with a zero denominator
  counts as 0 (scikit-uplift's convention), which only touches the first group(s).
- Areas are trapezoids over x. ``qini_area`` subtracts the random line (0 → Q(1)); the
  coefficients divide by the same area of the perfect ranking (scikit-uplift's normalisation).
- A pair may carry fixed row weights (``PairCurves.build(..., weights=)``), which multiply any
  batch of weights (bootstrap counts). Inverse-propensity weights
  (:func:`uplift_engine.evaluate.weighting.pair_weights`) make every sum above estimate what it
  would be had each row of the ranking's top been treated (or left alone): the curves of a
  campaign whose assignment probabilities differ by customer, unbiased where plain sums would
  credit a ranking for sorting by the assignment probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import UserInputError
from uplift_engine.evaluate.inputs import check_pair

NT, NC, YT, YC = 0, 1, 2, 3

# Statistic names returned by PairCurves.stats, in this order, then one "uplift_at_<k>" per k.
CURVE_STATS = (
    "qini_coefficient",
    "qini_area",
    "auuc",
    "auuc_coefficient",
    "auuc_random",
    "qini_total",
    "uplift_total",
)
CURVE_GRID = tuple(i / 20 for i in range(21))
"""The fractions targeted at which the Qini and cumulative-gain curves are reported (with their
bootstrap bands): ``qini_at_<x>`` and ``gain_at_<x>`` among the statistics."""
CURVE_POINTS = tuple(f"{curve}_at_{x:g}" for curve in ("qini", "gain") for x in CURVE_GRID)


@dataclass(frozen=True)
class Ranking:
    """Rows of one pair sorted by descending score, with the groups of equal scores."""

    order: np.ndarray  # (n,) row indices, highest score first (stable among ties)
    starts: np.ndarray  # (G,) sorted position of the first row of each group
    treated: np.ndarray  # (n,) float 0/1, in sorted order
    y: np.ndarray  # (n,) float, in sorted order
    base: np.ndarray | None = None  # (n,) fixed row weights in sorted order, None for all 1

    @classmethod
    def build(
        cls,
        score: np.ndarray,
        treated: np.ndarray,
        y: np.ndarray,
        base: np.ndarray | None = None,
    ) -> Ranking:
        """Sort once by ``score`` (descending) and find the groups of equal scores."""
        order = np.argsort(-score, kind="stable")
        ranked = score[order]
        starts = np.concatenate(([0], np.flatnonzero(ranked[1:] != ranked[:-1]) + 1))
        fixed = None if base is None else base[order]
        return cls(order, starts, treated[order].astype(np.float64), y[order], fixed)

    @property
    def n_groups(self) -> int:
        """Number of groups of equal scores."""
        return int(self.starts.shape[0])

    def cumulative(
        self, weights: np.ndarray | None = None, columns: np.ndarray | None = None
    ) -> np.ndarray:
        """Cumulative sums ``(4, b, G+1)`` at group ends, for ``b`` weight vectors.

        ``weights`` is ``(b, n)`` in the pair's row order, or ``(b, N)`` over a larger table
        whose columns ``columns`` are the pair's rows (one gather instead of two).
        """
        n = self.order.shape[0]
        if weights is None:
            w = np.ones((1, n))
        else:
            take = self.order if columns is None else np.asarray(columns)[self.order]
            w = np.take(np.asarray(weights, np.float64), take, axis=1)  # 5× faster than [:, take]
        if self.base is not None:
            w = w * self.base
        out = np.empty((4, w.shape[0], self.n_groups + 1))
        out[:, :, 0] = 0.0
        dest = out[:, :, 1:] if self.n_groups == n else np.empty((4, *w.shape))
        np.multiply(w, self.treated, out=dest[NT])
        np.subtract(w, dest[NT], out=dest[NC])
        np.multiply(dest[NT], self.y, out=dest[YT])
        np.multiply(dest[NC], self.y, out=dest[YC])
        if self.n_groups < n:
            dest = np.add.reduceat(dest, self.starts, axis=2)
        for ch in range(4):
            np.cumsum(dest[ch], axis=1, out=out[ch, :, 1:])
        return out


def _ratio(num: np.ndarray, den: np.ndarray, *, fill: float = 0.0) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, fill), where=den > 0)


def fraction_targeted(cum: np.ndarray) -> np.ndarray:
    """Fraction targeted (x) at every curve point: cumulative over total weight, ``(b, G+1)``."""
    total = cum[NT] + cum[NC]
    return _ratio(total, total[:, -1:], fill=np.nan)


def qini_values(cum: np.ndarray) -> np.ndarray:
    """Radcliffe's Qini ``y_t − y_c · n_t / n_c`` at every curve point, ``(b, G+1)``."""
    out = _ratio(cum[NT], cum[NC])
    out *= cum[YC]
    return np.subtract(cum[YT], out, out=out)


def uplift_values(cum: np.ndarray) -> np.ndarray:
    """Uplift-curve gain ``(y_t/n_t − y_c/n_c) · (n_t + n_c)`` at every point, ``(b, G+1)``."""
    out = _ratio(cum[YT], cum[NT])
    out -= _ratio(cum[YC], cum[NC])
    out *= cum[NT] + cum[NC]
    return out


def trapezoid(x: np.ndarray, v: np.ndarray, dx: np.ndarray | None = None) -> np.ndarray:
    """Area under ``v(x)`` for every row of ``(b, m)`` arrays by the trapezoid rule.

    ``dx`` (``np.diff(x, axis=1)``) may be passed when several curves share x.
    """
    step = np.diff(x, axis=1) if dx is None else dx
    left = np.einsum("ij,ij->i", step, v[:, :-1])
    return (left + np.einsum("ij,ij->i", step, v[:, 1:])) / 2


def _binary_perfect(class_sums: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Cumulative sums of a ranking that puts whole (arm, outcome) classes in ``groups`` order.

    ``class_sums`` is ``(b, 4)``: weights of treated responders, treated non-responders, control
    responders, control non-responders (binary outcomes only).
    """
    b = class_sums.shape[0]
    step = np.zeros((4, b, len(groups)))
    for g, members in enumerate(groups):
        for cls in members:
            w = class_sums[:, cls]
            treated, responder = cls in (0, 1), cls in (0, 2)
            step[NT if treated else NC, :, g] += w
            if responder:
                step[YT if treated else YC, :, g] += w
    out = np.zeros((4, b, len(groups) + 1))
    np.cumsum(step, axis=2, out=out[:, :, 1:])
    return out


TR, TN, CR, CN = 0, 1, 2, 3
# scikit-uplift's perfect Qini ranking for binary y: score y·(2t−1).
QINI_PERFECT = ((TR,), (TN, CN), (CR,))
# scikit-uplift's perfect uplift-curve ranking: TR, CN, then CR before TN when CR > TN.
UPLIFT_PERFECT_CR_FIRST = ((TR,), (CN,), (CR,), (TN,))
UPLIFT_PERFECT_TN_FIRST = ((TR,), (CN,), (TN,), (CR,))


@dataclass(frozen=True)
class PairCurves:
    """One offer against control, sorted once; curve statistics for any batch of row weights."""

    model: Ranking
    perfect: Ranking | None  # continuous y: ranking by y·(2t−1); None for binary y (closed form)

    @classmethod
    def build(
        cls, score: object, treated: object, y: object, *, weights: object = None
    ) -> PairCurves:
        """Check the pair and prepare its rankings (the only sorts it will need).

        ``weights`` are fixed row weights (e.g. inverse propensities) that every statistic
        uses, times the batch weights given to :meth:`stats`.
        """
        s, t, outcome, w = check_pair(score, treated, y, weights)
        model = Ranking.build(s, t, outcome, w)
        if np.isin(outcome, (0.0, 1.0)).all():
            return cls(model, None)
        sign = np.where(t, 1.0, -1.0)
        return cls(model, Ranking.build(outcome * sign, t, outcome, w))

    @property
    def binary(self) -> bool:
        """Whether the outcome is binary (the AUUC coefficient is defined only then)."""
        return self.perfect is None

    def stats(
        self,
        weights: np.ndarray | None = None,
        ks: Sequence[float] = (),
        *,
        columns: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Every curve statistic, one value per weight vector: names in ``CURVE_STATS``.

        ``weights`` is ``(b, n)`` in the pair's row order, or ``(b, N)`` over a larger table
        whose columns ``columns`` are the pair's rows; None means the data as given.
        """
        cum = self.model.cumulative(weights, columns)
        x = fraction_targeted(cum)
        q, u = qini_values(cum), uplift_values(cum)
        q_end, u_end = q[:, -1], u[:, -1]
        dx = np.diff(x, axis=1)
        qini_area = trapezoid(x, q, dx) - q_end / 2
        auuc = trapezoid(x, u, dx)
        if self.perfect is None:  # binary outcome: perfect rankings from the four class totals
            n_t, n_c, r_t, r_c = cum[:, :, -1]
            sums = np.column_stack((r_t, n_t - r_t, r_c, n_c - r_c))
            perfect_q = _binary_perfect(sums, QINI_PERFECT)
            up_cr = _binary_perfect(sums, UPLIFT_PERFECT_CR_FIRST)
            up_tn = _binary_perfect(sums, UPLIFT_PERFECT_TN_FIRST)
            perfect_u = np.where((sums[:, CR] > sums[:, TN])[None, :, None], up_cr, up_tn)
            best_u = trapezoid(fraction_targeted(perfect_u), uplift_values(perfect_u))
            auuc_coef = _ratio(auuc - u_end / 2, best_u - u_end / 2, fill=np.nan)
        else:
            perfect_q = self.perfect.cumulative(weights, columns)
            auuc_coef = np.full(q_end.shape, np.nan)
        best_q = trapezoid(fraction_targeted(perfect_q), qini_values(perfect_q)) - q_end / 2
        out = {
            "qini_coefficient": _ratio(qini_area, best_q, fill=np.nan),
            "qini_area": qini_area,
            "auuc": auuc,
            "auuc_coefficient": auuc_coef,
            "auuc_random": u_end / 2,
            "qini_total": q_end,
            "uplift_total": u_end,
        }
        for k, value in zip(ks, uplift_at_fractions(cum, ks).T, strict=True):
            out[f"uplift_at_{k:g}"] = value
        grid = np.asarray(CURVE_GRID)
        for curve, values in (("qini", q), ("gain", u)):
            at = np.vstack([np.interp(grid, x[i], values[i]) for i in range(values.shape[0])])
            for j, point in enumerate(CURVE_GRID):
                out[f"{curve}_at_{point:g}"] = at[:, j]
        return out


def uplift_at_fractions(cum: np.ndarray, ks: Sequence[float]) -> np.ndarray:
    """Observed uplift among the top fraction ``k`` of the ranking, ``(b, len(ks))``.

    The cut at ``k`` of the total weight is interpolated linearly between group ends, so a group
    of equal scores that straddles the cut is included pro rata (ties cannot be cherry-picked).
    NaN where the top fraction holds no treated or no control weight.
    """
    b = cum.shape[1]
    out = np.full((b, len(ks)), np.nan)
    if not len(ks):
        return out
    total = cum[NT] + cum[NC]
    for i in range(b):
        cut = np.asarray(ks, np.float64) * total[i, -1]
        j = np.clip(np.searchsorted(total[i], cut, side="left"), 1, total.shape[1] - 1)
        lo, hi = total[i, j - 1], total[i, j]
        frac = _ratio(cut - lo, hi - lo)
        at = cum[:, i, j - 1] + frac * (cum[:, i, j] - cum[:, i, j - 1])
        mean_t = _ratio(at[YT], at[NT], fill=np.nan)
        mean_c = _ratio(at[YC], at[NC], fill=np.nan)
        out[i] = mean_t - mean_c
    return out


def _single_curve(
    values: str, uplift_k: object, treated: object, y: object, weights: object
) -> tuple[np.ndarray, np.ndarray]:
    s, t, outcome, w = check_pair(uplift_k, treated, y, weights)
    cum = Ranking.build(s, t, outcome).cumulative(None if w is None else w[None, :])
    v = qini_values(cum) if values == "qini" else uplift_values(cum)
    return fraction_targeted(cum)[0], v[0]


def qini_curve(
    uplift_k: object, treated: object, y: object, *, weights: object = None
) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of one offer against control.

    Returns ``(x, q)``: x = fraction of the pair targeted (0 … 1, one point per group of equal
    scores plus the origin) and q = Radcliffe's incremental gain ``y_t − y_c·n_t/n_c`` among
    the top x, in outcome units (conversions or revenue) on the treated group's scale.
    ``treated`` marks the offer's rows (True) against control rows (False).
    """
    return _single_curve("qini", uplift_k, treated, y, weights)


def uplift_curve(
    uplift_k: object, treated: object, y: object, *, weights: object = None
) -> tuple[np.ndarray, np.ndarray]:
    """The uplift curve (the curve under the AUUC) of one offer against control.

    Returns ``(x, u)``: x as in :func:`qini_curve`; u = ``(mean(y|T) − mean(y|C)) · N`` among
    the top x, the incremental outcome had all N targeted customers received the offer.
    """
    return _single_curve("uplift", uplift_k, treated, y, weights)


def _stat(name: str, uplift_k: object, treated: object, y: object, weights: object) -> float:
    s, t, outcome, w = check_pair(uplift_k, treated, y, weights)
    curves = PairCurves.build(s, t, outcome)
    return float(curves.stats(None if w is None else w[None, :])[name][0])


def qini_coefficient(
    uplift_k: object, treated: object, y: object, *, weights: object = None
) -> float:
    """Normalised Qini coefficient: (area above random) / (same area of the perfect ranking).

    Equals scikit-uplift's ``qini_auc_score(..., negative_effect=True)`` for binary outcomes;
    1 = perfect, 0 = random or constant scores, < 0 = worse than random. NaN if undefined.
    """
    return _stat("qini_coefficient", uplift_k, treated, y, weights)


def qini_area(uplift_k: object, treated: object, y: object, *, weights: object = None) -> float:
    """Raw area between the Qini curve and the random line, x in [0, 1], y in outcome units.

    Matches causalml's ``qini_score(..., normalize=False)`` up to O(1/n) and tie handling.
    """
    return _stat("qini_area", uplift_k, treated, y, weights)


def auuc(uplift_k: object, treated: object, y: object, *, weights: object = None) -> float:
    """Area under the uplift curve, x in [0, 1], y in outcome units; random line not subtracted.

    Matches causalml's ``auuc_score(..., normalize=False)`` up to O(1/n) and tie handling; a
    random ranking scores about half the total uplift ``U(1)/2``.
    """
    return _stat("auuc", uplift_k, treated, y, weights)


def auuc_coefficient(
    uplift_k: object, treated: object, y: object, *, weights: object = None
) -> float:
    """Normalised AUUC: scikit-uplift's ``uplift_auc_score`` (binary outcomes; NaN otherwise)."""
    return _stat("auuc_coefficient", uplift_k, treated, y, weights)


def uplift_at_k(uplift_k: object, treated: object, y: object, k: float) -> float:
    """Observed ``mean(y | T, top k) − mean(y | C, top k)`` among the top fraction ``k``.

    Top k of the pair's rows by predicted uplift; a tie group across the cut counts pro rata.
    NaN when the top k holds no treated or no control row.
    """
    if not 0 < k <= 1:
        raise UserInputError(f"k must be a fraction in (0, 1]; received {k}", field="k")
    s, t, outcome, _ = check_pair(uplift_k, treated, y)
    cum = Ranking.build(s, t, outcome).cumulative()
    return float(uplift_at_fractions(cum, [k])[0, 0])
