"""The inputs convention of the evaluate layer, checked once at its edge.

Every function of this layer takes NumPy arrays that follow one convention:

- K+1 arms with codes ``0..K``; code ``0`` is control, codes ``1..K`` are the offers, named by
  ``offers`` (a list of K names, ``offers[k-1]`` is arm ``k``).
- ``treatment``: integer array ``(n,)`` of arm codes; every arm has at least one row.
- ``y``: float array ``(n,)``, finite: binary 0/1 (conversion) or continuous (revenue).
- ``uplift``: float array ``(n, K)``, finite: the predicted effect of each offer against control
  (column ``k-1`` is arm ``k``). A 1-D array is accepted when K = 1.
- ``propensity`` (optional): float array ``(n, K+1)``, the probability that row i was assigned
  each arm; rows sum to 1 and the assigned arm's probability is > 0. Default: the observed arm
  shares, i.e. a randomised design with constant assignment probabilities.
- ``truth`` (optional, simulated data only): float array ``(n, K+1)``, the true expected outcome
  of row i under every arm; ``conditional_truth`` (optional, with ``truth``) the same given
  only what a model can know of the customer (the simulator's ``expected_*`` columns).
- ``bounds`` (optional): the model's interval for every effect, a pair of ``(n, K)`` arrays
  ``(lower, upper)`` with ``lower <= upper``.

Per-offer metrics use the rows whose arm is control or that offer, ranked by that offer's
predicted uplift (descending, equal scores grouped). Nothing here mutates its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uplift_engine.errors import DataError, UserInputError

PROPENSITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class EvalInputs:
    """Checked, read-only inputs of :func:`~uplift_engine.evaluate.evaluate_uplift`."""

    treatment: np.ndarray  # (n,) int64, codes 0..K
    y: np.ndarray  # (n,) float64
    uplift: np.ndarray  # (n, K) float64
    offers: tuple[str, ...]
    propensity: np.ndarray  # (n, K+1) float64 (observed shares when not given)
    truth: np.ndarray | None  # (n, K+1) float64
    binary: bool  # y only takes the values 0 and 1
    conditional_truth: np.ndarray | None = None  # (n, K+1) float64
    bounds: tuple[np.ndarray, np.ndarray] | None = None  # (n, K) each

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.y.shape[0])

    @property
    def n_offers(self) -> int:
        """Number of offers K (arms other than control)."""
        return len(self.offers)

    def pair_rows(self, arm: int) -> np.ndarray:
        """Indices of the rows assigned to control or to ``arm``, in input order."""
        return np.flatnonzero((self.treatment == 0) | (self.treatment == arm))


def _float_array(values: object, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric; received {exc}", field=name) from None
    if array.ndim != ndim:
        raise DataError(
            f"{name} must be a {ndim}-D array; received shape {array.shape}", field=name
        )
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise DataError(
            f"{name} must be finite; received {bad} NaN or infinite value(s)", field=name
        )
    return array


def check_pair(
    score: object, treated: object, y: object, weights: object = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Check one offer-vs-control pair: equal-length 1-D arrays, both groups present.

    ``treated`` is boolean (or 0/1): True for the offer's rows, False for control rows.
    ``weights`` (optional) are non-negative row weights, e.g. bootstrap counts.
    """
    s = _float_array(score, "uplift", 1)
    outcome = _float_array(y, "y", 1)
    t_raw = np.asarray(treated)
    if t_raw.ndim != 1:
        raise DataError(
            f"treated must be a 1-D array; received shape {t_raw.shape}", field="treated"
        )
    if not np.isin(t_raw, (0, 1)).all():
        raise DataError(
            "treated must hold booleans (or 0/1) marking the offer's rows; received other values",
            field="treated",
        )
    t = t_raw.astype(bool)
    lengths = {"uplift": s.shape[0], "treated": t.shape[0], "y": outcome.shape[0]}
    w = None
    if weights is not None:
        w = _float_array(weights, "weights", 1)
        lengths["weights"] = w.shape[0]
        if (w < 0).any():
            raise DataError("weights must be non-negative", field="weights")
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise DataError(f"arrays must have the same length; received {shown}", field="y")
    if not t.any() or t.all():
        which = "treated" if not t.any() else "control"
        raise DataError(
            f"the pair has no {which} rows; expected at least one treated and one control row",
            field="treated",
        )
    return s, t, outcome, w


def _check_treatment(treatment: object, n_offers: int) -> np.ndarray:
    raw = np.asarray(treatment)
    if raw.ndim != 1:
        raise DataError(
            f"treatment must be a 1-D array of arm codes; received shape {raw.shape}",
            field="treatment",
        )
    if raw.dtype.kind not in "iub":
        as_float = _float_array(raw, "treatment", 1)
        if not np.equal(np.floor(as_float), as_float).all():
            raise DataError(
                "treatment must hold integer arm codes 0..K; received non-integral values",
                field="treatment",
            )
        raw = as_float
    codes = raw.astype(np.int64)
    bad = np.setdiff1d(np.unique(codes), np.arange(n_offers + 1))
    if bad.size:
        raise DataError(
            f"treatment codes must be in 0..{n_offers} (0 = control, one code per offer); "
            f"received {', '.join(str(v) for v in bad[:10])}",
            field="treatment",
        )
    return codes


def check_inputs(
    treatment: object,
    y: object,
    uplift: object,
    offers: Sequence[str],
    *,
    propensity: object = None,
    truth: object = None,
    conditional_truth: object = None,
    bounds: tuple[object, object] | None = None,
) -> EvalInputs:
    """Check arrays against the convention above; raise :class:`DataError` naming the fault."""
    names = tuple(str(o) for o in offers)
    if not names:
        raise UserInputError("offers must name at least one offer; received none", field="offers")
    if len(set(names)) != len(names):
        raise UserInputError(f"offer names must be unique; received {list(names)}", field="offers")
    k = len(names)
    codes = _check_treatment(treatment, k)
    n = codes.shape[0]
    outcome = _float_array(y, "y", 1)
    if outcome.shape[0] != n:
        raise DataError(f"y has {outcome.shape[0]} rows, treatment has {n}", field="y")
    up = np.asarray(uplift)
    if up.ndim == 1 and k == 1:
        up = up.reshape(-1, 1)
    up = _float_array(up, "uplift", 2)
    if up.shape != (n, k):
        raise DataError(
            f"uplift must have shape (n, K) = ({n}, {k}), one column per offer "
            f"({', '.join(repr(o) for o in names)}); received {up.shape}",
            field="uplift",
        )
    counts = np.bincount(codes, minlength=k + 1)
    for arm, count in enumerate(counts):
        if count == 0:
            what = "control (arm 0)" if arm == 0 else f"offer {names[arm - 1]!r} (arm {arm})"
            raise DataError(
                f"{what} has no rows in the evaluation data; expected at least 1 row per arm",
                field="treatment",
            )
    prop = _check_propensity(propensity, codes, counts)
    true = None
    if truth is not None:
        true = _float_array(truth, "truth", 2)
        if true.shape != (n, k + 1):
            raise DataError(
                f"truth must have shape (n, K+1) = ({n}, {k + 1}), one column per arm with "
                f"control first; received {true.shape}",
                field="truth",
            )
    conditional = None
    if conditional_truth is not None:
        if true is None:
            raise UserInputError("conditional_truth needs truth as well", field="conditional_truth")
        conditional = _float_array(conditional_truth, "conditional_truth", 2)
        if conditional.shape != true.shape:
            raise DataError(
                f"conditional_truth must have the shape of truth {true.shape}; received "
                f"{conditional.shape}",
                field="conditional_truth",
            )
    pair = None
    if bounds is not None:
        lower, upper = (_float_array(b, "bounds", 2) for b in bounds)
        if lower.shape != (n, k) or upper.shape != (n, k):
            raise DataError(
                f"bounds must be two arrays of shape (n, K) = ({n}, {k}); received "
                f"{lower.shape} and {upper.shape}",
                field="bounds",
            )
        if (lower > upper).any():
            raise DataError("bounds: a lower bound is above its upper bound", field="bounds")
        pair = (lower, upper)
    binary = bool(np.isin(outcome, (0.0, 1.0)).all())
    extra = [a for a in (true, conditional, *(pair or ())) if a is not None]
    for array in (codes, outcome, up, prop, *extra):
        array.setflags(write=False)
    return EvalInputs(codes, outcome, up, names, prop, true, binary, conditional, pair)


def _check_propensity(propensity: object, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    n, arms = codes.shape[0], counts.shape[0]
    if propensity is None:
        shares = counts / n
        return np.broadcast_to(shares, (n, arms)).copy()
    prop = _float_array(propensity, "propensity", 2)
    if prop.shape != (n, arms):
        raise DataError(
            f"propensity must have shape (n, K+1) = ({n}, {arms}), one column per arm with "
            f"control first; received {prop.shape}",
            field="propensity",
        )
    if (prop < 0).any() or (prop > 1).any():
        raise DataError("propensity values must lie in [0, 1]", field="propensity")
    worst = float(np.abs(prop.sum(axis=1) - 1.0).max())
    if worst > PROPENSITY_TOLERANCE:
        raise DataError(
            f"propensity rows must sum to 1 (±{PROPENSITY_TOLERANCE}); worst row is off by "
            f"{worst:.4g}",
            field="propensity",
        )
    assigned = prop[np.arange(n), codes]
    if (assigned <= 0).any():
        raise DataError(
            f"propensity of the assigned arm must be > 0; {int((assigned <= 0).sum())} row(s) "
            "have probability 0 for the arm they received",
            field="propensity",
        )
    return prop
