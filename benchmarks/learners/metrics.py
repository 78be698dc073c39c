"""Every number of a cell, from its test-set predictions, with ``uplift_engine.evaluate``.

Invariants:
- The headline metrics are averaged over offers (each offer against control on the rows of
  those two arms): the Qini coefficient, the AUUC and the observed uplift among the top 30%
  (``uplift@30%``). Their 95% intervals are percentile bootstraps of that average over the
  whole test set, with the same seeded resamples for every learner of a dataset (same rows,
  same seed), so the intervals of two learners are directly comparable, and the Qini's
  replicates are kept for paired comparisons (the difference of two learners resample by
  resample, whose noise from the test set they share cancels).
- On a confounded dataset (assignment probabilities that differ by row, known from the
  generator) every curve metric weights the rows of each pair by their stabilised inverse
  propensity (``uplift_engine.evaluate.weighting``). Plain sums there credit a ranking for
  sorting customers by their chance of treatment when that chance moves the baseline outcome:
  on Nie & Wager C, whose effect is the same for everyone, plain Qini coefficients ranged from
  −0.006 to 0.12 with intervals that did not overlap.
- AUUC is scikit-uplift's normalised ``uplift_auc_score`` (``auuc_coefficient``) for binary
  outcomes; for continuous outcomes, where that normalisation is undefined, it is the area
  between the uplift curve and the random line per row of the pair, in outcome units.
- With truth: PEHE is the root mean squared effect error over rows and offers; coverage is
  the share of (row, offer) pairs whose true effect lies within the learner's 90% interval.
  On the simulator, whose per-customer truth includes a random type no feature predicts, the
  same two numbers are also given against the conditional effect (``expected_*`` columns).
- ``evaluate_uplift`` runs once per cell too (per-offer numbers, calibration, the policy
  value and, with truth, its share of the oracle's gain) and is kept in the results file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from learners.datasets import Dataset

K_TOP = 0.3


def _statistic(ds: Dataset, effects: np.ndarray) -> Any:
    from uplift_engine.evaluate import PairCurves, pair_weights

    test = ds.test
    pairs = []
    for k in range(1, len(ds.arms)):
        rows = np.flatnonzero((test.treatment == 0) | (test.treatment == k))
        base = np.ones(len(rows))
        if not ds.randomised:
            base = pair_weights(test.treatment[rows], test.assignment[rows], k)
        curves = PairCurves.build(
            effects[rows, k - 1], test.treatment[rows] == k, test.y[rows], weights=base
        )
        pairs.append((rows, base, curves))

    def statistic(weights: np.ndarray) -> np.ndarray:
        per_offer = []
        for rows, base, curves in pairs:
            s = curves.stats(weights, (K_TOP,), columns=rows)
            if curves.binary:
                auuc = s["auuc_coefficient"]
            else:
                auuc = (s["auuc"] - s["auuc_random"]) / (weights[:, rows] @ base)
            per_offer.append(
                np.column_stack([s["qini_coefficient"], auuc, s[f"uplift_at_{K_TOP:g}"]])
            )
        return np.nanmean(np.stack(per_offer), axis=0)  # (b, 3)

    return statistic


def headline(
    ds: Dataset, effects: np.ndarray, n_boot: int, seed: int, threads: int
) -> dict[str, dict[str, Any]]:
    """Offer-averaged Qini coefficient, AUUC and uplift@30% with bootstrap intervals."""
    from uplift_engine.evaluate import bootstrap_replicates, percentile_interval

    statistic = _statistic(ds, effects)
    n = len(ds.test.y)
    point = statistic(np.ones((1, n)))[0]
    replicates = np.full((0, 3), np.nan)
    if n_boot:
        replicates = bootstrap_replicates(
            statistic, n, n_boot=n_boot, seed=seed, threads=threads
        )
        low, high = percentile_interval(replicates)
    else:
        low = high = np.full(3, np.nan)
    names = ("qini", "auuc", "uplift_at_30")
    out: dict[str, dict[str, Any]] = {
        name: {"value": float(point[i]), "low": float(low[i]), "high": float(high[i])}
        for i, name in enumerate(names)
    }
    # kept so that two learners of a dataset can be compared resample by resample
    out["qini"]["replicates"] = [float(f"{v:.7g}") for v in replicates[:, 0]]
    return out


def against_truth(
    ds: Dataset, effects: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None
) -> dict[str, float]:
    """PEHE, effect correlation and, with intervals, their coverage and mean width."""
    from uplift_engine.evaluate import effect_correlation, true_effects

    truth = ds.test.truth
    if truth is None:
        return {}
    tau = true_effects(truth)
    out = {
        "pehe": float(np.sqrt(np.mean((effects - tau) ** 2))),
        "correlation": float(
            np.nanmean([effect_correlation(effects[:, k], tau[:, k]) for k in range(tau.shape[1])])
        ),
        "true_effect_sd": float(np.sqrt(np.mean((tau - tau.mean(axis=0)) ** 2))),
    }
    expected = None if ds.test.expected is None else true_effects(ds.test.expected)
    if expected is not None:
        out["pehe_conditional"] = float(np.sqrt(np.mean((effects - expected) ** 2)))
    if bounds is not None:
        low, high = bounds
        out["coverage"] = float(np.mean((low <= tau) & (tau <= high)))
        out["interval_width"] = float(np.mean(high - low))
        if expected is not None:
            out["coverage_conditional"] = float(np.mean((low <= expected) & (expected <= high)))
    return out


def full_report(ds: Dataset, effects: np.ndarray, seed: int, threads: int) -> dict[str, Any]:
    """``evaluate_uplift``'s report (no bootstrap: the headline has the intervals)."""
    from uplift_engine.evaluate import evaluate_uplift

    report = evaluate_uplift(
        ds.test.treatment,
        ds.test.y,
        effects,
        ds.offers,
        propensity=None if ds.randomised else ds.test.assignment,
        truth=ds.test.truth,
        n_boot=0,
        seed=seed,
        threads=threads,
    ).to_dict()
    policy = report["policy"]
    truth = policy.get("truth") or {}
    return {
        "per_offer": {
            name: {
                "qini_coefficient": r["qini_coefficient"]["value"],
                "auuc_coefficient": r["auuc_coefficient"]["value"],
                "truth": r["truth"],
            }
            for name, r in report["per_offer"].items()
        },
        "policy_share": policy["share"],
        "policy_gain_over_none": policy["gain_over_none"],
        "fraction_of_oracle_gain": truth.get("fraction_of_oracle_gain"),
    }


def score(
    ds: Dataset,
    effects: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None,
    *,
    n_boot: int,
    seed: int,
    threads: int,
) -> dict[str, Any]:
    """Everything measured on a cell's predictions."""
    if not np.isfinite(effects).all():
        effects = np.nan_to_num(effects, nan=0.0, posinf=0.0, neginf=0.0)
    return {
        **headline(ds, effects, n_boot, seed, threads),
        "truth": against_truth(ds, effects, bounds),
        "report": full_report(ds, effects, seed, threads),
    }
