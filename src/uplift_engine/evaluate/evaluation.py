"""``evaluate_uplift``: every metric of ``uplift evaluate`` from arrays, in one pass.

Invariants: inputs follow the convention of :mod:`uplift_engine.evaluate.inputs`. Each offer
is compared with control on the rows of those two arms. All curve metrics of all offers share
one set of bootstrap resamples over the *whole* data (seeded), so their intervals are
consistent with each other; each offer's rows are sorted once. Policy values use IPW with the
given propensities (default: the observed arm shares) and normal intervals. When propensities
are given, the curve metrics (Qini, AUUC, uplift@k) weight each pair's rows by their inverse
propensity too (:mod:`uplift_engine.evaluate.weighting`); calibration stays unweighted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uplift_engine.errors import UserInputError
from uplift_engine.evaluate.bootstrap import MAX_CELLS, bootstrap_replicates, percentile_interval
from uplift_engine.evaluate.calibration import calibration_by_decile, difference_in_means
from uplift_engine.evaluate.curves import CURVE_GRID, CURVE_POINTS, CURVE_STATS, PairCurves
from uplift_engine.evaluate.estimate import NAN, Estimate
from uplift_engine.evaluate.inputs import EvalInputs, check_inputs
from uplift_engine.evaluate.policy import (
    fraction_of_oracle_gain,
    greedy_policy,
    oracle_policy,
    policy_gain,
    policy_value,
    value_from_truth,
)
from uplift_engine.evaluate.report import (
    OfferReport,
    OfferTruth,
    PolicyReport,
    PolicyTruth,
    UpliftReport,
)
from uplift_engine.evaluate.truth import (
    coverage,
    effect_correlation,
    pehe,
    sign_agreement,
    true_effects,
)
from uplift_engine.evaluate.weighting import pair_weights

DEFAULT_KS = (0.1, 0.2, 0.3, 0.4, 0.5)


def _check_settings(n_boot: int, ks: Sequence[float], level: float, n_bins: int) -> None:
    if n_boot < 0:
        raise UserInputError(f"n_boot must be 0 or more; received {n_boot}", field="n_boot")
    bad = [k for k in ks if not 0 < k <= 1]
    if bad:
        raise UserInputError(f"ks must be fractions in (0, 1]; received {bad}", field="ks")
    if len(set(ks)) != len(ks):
        raise UserInputError(f"ks must not repeat a fraction; received {list(ks)}", field="ks")
    if not 0 < level < 1:
        raise UserInputError(f"level must be in (0, 1); received {level}", field="level")
    if n_bins < 1:
        raise UserInputError(f"n_bins must be at least 1; received {n_bins}", field="n_bins")


def _stat_names(ks: Sequence[float]) -> list[str]:
    return [*CURVE_STATS, *(f"uplift_at_{k:g}" for k in ks), *CURVE_POINTS]


def _curve_intervals(
    data: EvalInputs,
    curves: list[PairCurves],
    rows: list[np.ndarray],
    ks: Sequence[float],
    n_boot: int,
    seed: int,
    level: float,
    max_cells: int,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals ``(K, m)`` of every curve statistic of every offer."""
    names = _stat_names(ks)
    shape = (len(curves), len(names))
    if n_boot == 0:
        return np.full(shape, np.nan), np.full(shape, np.nan)

    def statistic(counts: np.ndarray) -> np.ndarray:
        per_offer = []
        for pair, idx in zip(curves, rows, strict=True):
            stats = pair.stats(counts, ks, columns=idx)
            per_offer.append(np.column_stack([stats[name] for name in names]))
        return np.stack(per_offer, axis=1)  # (b, K, m)

    reps = bootstrap_replicates(
        statistic, data.n_rows, n_boot=n_boot, seed=seed, max_cells=max_cells, threads=threads
    )
    return percentile_interval(reps, level)


def _compat(point: dict[str, float], binary: bool, n_pair: int) -> dict[str, float]:
    """The same numbers in causalml's and scikit-uplift's conventions (docs/metrics.md)."""
    q_total, u_total = abs(point["qini_total"]), abs(point["uplift_total"])
    q = point["qini_total"]
    no_negative = q * (1 - q / n_pair) / 2  # scikit-uplift's negative_effect=False reference
    return {
        "sklift.qini_auc_score": point["qini_coefficient"] if binary else NAN,
        "sklift.qini_auc_score(negative_effect=False)": (
            point["qini_area"] / no_negative if binary and no_negative > 0 else NAN
        ),
        "sklift.uplift_auc_score": point["auuc_coefficient"] if binary else NAN,
        "causalml.qini_score": point["qini_area"] / q_total if q_total > 0 else NAN,
        "causalml.qini_score(normalize=False)": point["qini_area"],
        "causalml.auuc_score": point["auuc"] / u_total if u_total > 0 else NAN,
        "causalml.auuc_score(normalize=False)": point["auuc"],
    }


def _offer_truth(data: EvalInputs, arm: int) -> OfferTruth | None:
    if data.truth is None:
        return None
    pred = data.uplift[:, arm - 1]
    true = true_effects(data.truth)[:, arm - 1]
    extra: dict[str, float] = {}
    lower = upper = None
    if data.bounds is not None:
        lower, upper = data.bounds[0][:, arm - 1], data.bounds[1][:, arm - 1]
        extra["interval_coverage"] = coverage(lower, upper, true)
        extra["interval_width"] = float(np.mean(upper - lower))
    if data.conditional_truth is not None:
        conditional = true_effects(data.conditional_truth)[:, arm - 1]
        extra["conditional_pehe"] = pehe(pred, conditional)
        extra["conditional_correlation"] = effect_correlation(pred, conditional)
        if lower is not None and upper is not None:
            extra["conditional_interval_coverage"] = coverage(lower, upper, conditional)
    return OfferTruth(
        pehe=pehe(pred, true),
        effect_correlation=effect_correlation(pred, true),
        sign_agreement=sign_agreement(pred, true),
        true_mean_effect=float(true.mean()),
        predicted_mean_effect=float(pred.mean()),
        **extra,
    )


def _policy(data: EvalInputs, level: float) -> PolicyReport:
    chosen = greedy_policy(data.uplift)
    n = data.n_rows
    none = np.zeros(n, np.int64)
    args = (data.treatment, data.y, data.propensity)
    counts = np.bincount(chosen, minlength=data.n_offers + 1)
    names = ["control", *data.offers]
    truth = None
    if data.truth is not None:
        v_none = value_from_truth(none, data.truth)
        v_oracle = value_from_truth(oracle_policy(data.truth), data.truth)
        v_policy = value_from_truth(chosen, data.truth)
        truth = PolicyTruth(
            value=v_policy,
            value_none=v_none,
            value_all={
                o: value_from_truth(np.full(n, a), data.truth)
                for a, o in enumerate(data.offers, start=1)
            },
            value_oracle=v_oracle,
            fraction_of_oracle_gain=fraction_of_oracle_gain(v_policy, v_none, v_oracle),
        )
    return PolicyReport(
        share={name: float(c / n) for name, c in zip(names, counts, strict=True)},
        value=policy_value(chosen, *args, level=level),
        value_none=policy_value(none, *args, level=level),
        value_all={
            o: policy_value(np.full(n, a), *args, level=level)
            for a, o in enumerate(data.offers, start=1)
        },
        gain_over_none=policy_gain(chosen, none, *args, level=level),
        truth=truth,
    )


def evaluate_uplift(
    treatment: object,
    y: object,
    uplift: object,
    offers: Sequence[str],
    *,
    propensity: object = None,
    truth: object = None,
    conditional_truth: object = None,
    bounds: tuple[object, object] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    ks: Sequence[float] = DEFAULT_KS,
    level: float = 0.95,
    n_bins: int = 10,
    max_cells: int = MAX_CELLS,
    threads: int = 1,
) -> UpliftReport:
    """Evaluate predicted uplifts on (held-out) randomised data: per offer and for the policy.

    Per offer against control: Qini coefficient, Qini area, AUUC (raw and normalised) with
    ``n_boot`` seeded percentile-bootstrap intervals at ``level``; uplift at each ``k`` in
    ``ks``; calibration in ``n_bins`` bins; the same numbers in causalml's and scikit-uplift's
    conventions. For the greedy policy: its IPW value, the value of treating no one and of
    treating everyone with each offer, and its gain over no one. With ``truth``: PEHE,
    correlation and sign agreement per offer, and the policy's share of the oracle's gain; with
    ``bounds`` (the model's effect intervals) too, their coverage of the true effects; with
    ``conditional_truth``, PEHE, correlation and coverage against the conditional effects.
    Given ``propensity``, the curve metrics are inverse-propensity weighted, for campaigns whose
    assignment probabilities differ by customer. ``n_boot=0`` skips the bootstrap (intervals
    are null); ``threads`` > 1 runs resamples in parallel (same results); ``max_cells`` bounds
    the counts held per chunk of resamples.
    """
    _check_settings(n_boot, ks, level, n_bins)
    data = check_inputs(
        treatment,
        y,
        uplift,
        offers,
        propensity=propensity,
        truth=truth,
        conditional_truth=conditional_truth,
        bounds=bounds,
    )
    ks = tuple(float(k) for k in ks)
    rows = [data.pair_rows(arm) for arm in range(1, data.n_offers + 1)]
    curves = [
        PairCurves.build(
            data.uplift[idx, arm - 1],
            data.treatment[idx] == arm,
            data.y[idx],
            weights=None
            if propensity is None
            else pair_weights(data.treatment[idx], data.propensity[idx], arm),
        )
        for arm, idx in enumerate(rows, start=1)
    ]
    low, high = _curve_intervals(data, curves, rows, ks, n_boot, seed, level, max_cells, threads)
    names = _stat_names(ks)
    per_offer = {}
    for i, (pair, idx) in enumerate(zip(curves, rows, strict=True)):
        arm = i + 1
        point = {name: float(v[0]) for name, v in pair.stats(None, ks).items()}
        est = {name: Estimate(point[name], low[i, j], high[i, j]) for j, name in enumerate(names)}
        treated = data.treatment[idx] == arm
        per_offer[data.offers[i]] = OfferReport(
            offer=data.offers[i],
            arm=arm,
            n_treated=int(treated.sum()),
            n_control=int((~treated).sum()),
            observed_uplift=difference_in_means(data.y[idx], treated, level),
            qini_coefficient=est["qini_coefficient"],
            qini_area=est["qini_area"],
            auuc=est["auuc"],
            auuc_coefficient=est["auuc_coefficient"],
            auuc_random=point["auuc_random"],
            uplift_at_k={k: est[f"uplift_at_{k:g}"] for k in ks},
            curves={
                curve: [est[f"{curve}_at_{x:g}"] for x in CURVE_GRID] for curve in ("qini", "gain")
            },
            calibration=calibration_by_decile(
                data.uplift[idx, arm - 1], treated, data.y[idx], n_bins=n_bins, level=level
            ),
            compat=_compat(point, data.binary, idx.size),
            truth=_offer_truth(data, arm),
        )
    counts = np.bincount(data.treatment, minlength=data.n_offers + 1)
    return UpliftReport(
        n_rows=data.n_rows,
        outcome_kind="binary" if data.binary else "continuous",
        arm_counts={
            name: int(c) for name, c in zip(["control", *data.offers], counts, strict=True)
        },
        per_offer=per_offer,
        policy=_policy(data, level),
        intervals={
            "curve_metrics": "percentile bootstrap" if n_boot else "none",
            "n_boot": n_boot,
            "seed": seed,
            "level": level,
            "observed_uplift_and_calibration": "normal approximation (Welch)",
            "policy_values": "normal approximation (IPW influence function)",
        },
    )
