"""Tests of the evaluate layer: curves, coefficients, bootstrap, calibration, policy, truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uplift_engine.errors import DataError, UserInputError
from uplift_engine.evaluate import (
    EVALUATION_SCHEMA_VERSION,
    PairCurves,
    auuc,
    auuc_coefficient,
    bootstrap_interval,
    bootstrap_replicates,
    calibration_by_decile,
    effect_correlation,
    evaluate_uplift,
    greedy_policy,
    pehe,
    policy_gain,
    policy_value,
    qini_area,
    qini_coefficient,
    qini_curve,
    sign_agreement,
    summarize,
    uplift_at_k,
    uplift_curve,
)

# The tiny table of docs/metrics.md, already in descending score order.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
TREATED = np.array([1, 0, 1, 0, 1, 0], dtype=bool)
Y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])


def campaign(n, seed, *, shares=(0.5, 0.3, 0.2), binary=True, noise=0.05):
    """A randomised 3-arm campaign with known heterogeneous effects and its truth."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    t = rng.choice(len(shares), size=n, p=shares)
    base = 0.1 + 0.1 * x
    effects = np.column_stack([0.2 * x - 0.05, 0.06 - 0.08 * x])[:, : len(shares) - 1]
    truth = np.column_stack([base, base[:, None] + effects])
    mean = truth[np.arange(n), t]
    if binary:
        y = (rng.uniform(size=n) < mean).astype(float)
    else:  # revenue: gamma with the same relative effects, mean 50 × conversion probability
        truth = truth * 50
        y = rng.gamma(2.0, truth[np.arange(n), t] / 2.0)
    uplift = truth[:, 1:] - truth[:, :1]
    noisy = uplift + rng.normal(0, noise * uplift.std(), uplift.shape)
    return {"t": t, "y": y, "truth": truth, "oracle": uplift, "noisy": noisy, "x": x}


# --- curves and coefficients on a hand-computed table ------------------------------------------


def test_qini_and_uplift_curves_of_the_tiny_table_match_hand_computation():
    # cumulative (n_t, n_c, y_t, y_c) after each row:
    # (1,0,1,0) (1,1,1,0) (2,1,2,0) (2,2,2,1) (3,2,2,1) (3,3,2,1)
    # Q = y_t − y_c·n_t/n_c  (0 when n_c = 0): 1, 1, 2, 1, 0.5, 1
    # U = (y_t/n_t − y_c/n_c)·(n_t + n_c): 1, 2, 3, 2, 5/6, 2
    x, q = qini_curve(SCORE, TREATED, Y)
    _, u = uplift_curve(SCORE, TREATED, Y)
    np.testing.assert_allclose(x, np.arange(7) / 6)
    np.testing.assert_allclose(q, [0, 1, 1, 2, 1, 0.5, 1])
    np.testing.assert_allclose(u, [0, 1, 2, 3, 2, 5 / 6, 2])


def test_coefficients_of_the_tiny_table_match_hand_computation():
    # Qini area (trapezoids, step 1/6) = 6/6 = 1; random line area = Q(1)/2 = 0.5.
    assert qini_area(SCORE, TREATED, Y) == pytest.approx(0.5)
    # Perfect Qini ranking (treated responders, non-responders, control responders):
    # points (0,0) (2/6,2) (5/6,2) (1,1): area 9.5/6, above random 9.5/6 − 0.5 = 13/12.
    assert qini_coefficient(SCORE, TREATED, Y) == pytest.approx(0.5 / (13 / 12))
    # AUUC = (0.5 + 1.5 + 2.5 + 2.5 + 17/12 + 17/12) / 6 = 59/36.
    assert auuc(SCORE, TREATED, Y) == pytest.approx(59 / 36)
    # Perfect uplift ranking (TR, CN, TN, CR since CR = TN = 1): area 43/18; random U(1)/2 = 1.
    assert auuc_coefficient(SCORE, TREATED, Y) == pytest.approx((59 / 36 - 1) / (43 / 18 - 1))


@pytest.mark.parametrize(
    ("k", "expected"),
    [(0.5, 1.0 - 0.0), (2 / 3, 1.0 - 0.5), (1.0, 2 / 3 - 1 / 3), (0.25, 1.0 - 0.0)],
    ids=["top-half", "top-two-thirds", "everyone", "cut-inside-a-row"],
)
def test_uplift_at_k_of_the_tiny_table(k, expected):
    assert uplift_at_k(SCORE, TREATED, Y, k) == pytest.approx(expected)


def _sklift_style_qini(score, treated, y):
    """Independent per-row reference of scikit-uplift's normalised Qini (ties grouped).

    Returns (negative_effect=True coefficient, negative_effect=False coefficient, raw area
    above random with x as a fraction).
    """

    def area(s):
        order = np.argsort(-s, kind="stable")
        n_t = n_c = y_t = y_c = 0.0
        points = [(0, 0.0)]
        for pos, i in enumerate(order):
            if treated[i]:
                n_t, y_t = n_t + 1, y_t + y[i]
            else:
                n_c, y_c = n_c + 1, y_c + y[i]
            if pos + 1 == len(order) or s[order[pos + 1]] != s[i]:  # end of a tie group
                points.append((pos + 1, y_t - (y_c * n_t / n_c if n_c else 0.0)))
        xs, qs = zip(*points, strict=True)
        return np.trapezoid(qs, xs), qs[-1]

    n = len(y)
    model, q = area(score)
    perfect, _ = area(y * np.where(treated, 1.0, -1.0))
    random = n * q / 2
    no_negative = np.trapezoid([0, q, q], [0, q, n])  # rises at once to Q(n), then flat
    return (
        (model - random) / (perfect - random),
        (model - random) / (no_negative - random),
        (model - random) / n,
    )


def _sklift_style_auuc(score, treated, y):
    """Independent per-row reference of scikit-uplift's uplift_auc_score (ties grouped)."""

    def area(s):
        order = np.argsort(-s, kind="stable")
        n_t = n_c = y_t = y_c = 0.0
        points = [(0, 0.0)]
        for pos, i in enumerate(order):
            if treated[i]:
                n_t, y_t = n_t + 1, y_t + y[i]
            else:
                n_c, y_c = n_c + 1, y_c + y[i]
            if pos + 1 == len(order) or s[order[pos + 1]] != s[i]:
                mean_t = y_t / n_t if n_t else 0.0
                mean_c = y_c / n_c if n_c else 0.0
                points.append((pos + 1, (mean_t - mean_c) * (pos + 1)))
        xs, us = zip(*points, strict=True)
        return np.trapezoid(us, xs), us[-1]

    control_responders = np.sum(~treated & (y == 1))
    treated_non_responders = np.sum(treated & (y == 0))
    extra = y if control_responders > treated_non_responders else treated.astype(float)
    model, u = area(score)
    perfect, _ = area(2.0 * (y == treated) + extra)
    random = len(y) * u / 2
    return (model - random) / (perfect - random)


def _causalml_style(score, treated, y, curve):
    """Independent reference of causalml's qini_score / auuc_score, normalize=False and True.

    Per-row curve (no tie grouping), points with a 0/0 interpolated, mean over n+1 points;
    the Qini score subtracts the random line, the AUUC score does not.
    """
    order = np.argsort(-score, kind="stable")
    t, yy = treated[order].astype(float), y[order]
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    y_t, y_c = np.cumsum(yy * t), np.cumsum(yy * (1 - t))
    with np.errstate(divide="ignore", invalid="ignore"):
        if curve == "qini":
            v = y_t - y_c * n_t / n_c
        else:
            v = (y_t / n_t - y_c / n_c) * np.arange(1, len(y) + 1)
    v = np.concatenate([[0.0], v])
    defined = np.isfinite(v)
    v = np.interp(np.arange(v.size), np.flatnonzero(defined), v[defined])
    raw = v.mean() - (v[-1] / 2 if curve == "qini" else 0.0)
    return raw, raw / abs(v[-1])


@pytest.mark.parametrize(
    "base_rate", [0.2, 0.7], ids=["treated-non-responders-first", "control-responders-first"]
)
def test_metrics_equal_scikit_uplift_and_approach_causalml_on_independent_references(base_rate):
    rng = np.random.default_rng(3)
    n = 400
    score = rng.normal(size=n)
    treated = rng.uniform(size=n) < 0.4
    y = (rng.uniform(size=n) < base_rate + 0.2 * treated * (score > 0)).astype(float)
    sk_qini, sk_qini_no_negative, area_above = _sklift_style_qini(score, treated, y)
    assert qini_coefficient(score, treated, y) == pytest.approx(sk_qini, rel=1e-12)
    assert qini_area(score, treated, y) == pytest.approx(area_above, rel=1e-12)
    report = evaluate_uplift(treated.astype(int), y, score, ["o"], n_boot=0)
    compat = report.per_offer["o"].compat
    assert compat["sklift.qini_auc_score"] == pytest.approx(sk_qini, rel=1e-12)
    assert compat["sklift.qini_auc_score(negative_effect=False)"] == pytest.approx(
        sk_qini_no_negative, rel=1e-12
    )
    # causalml: per-row points averaged over n+1 — equal to our trapezoid up to O(1/n).
    for curve, ours in (("qini", "qini_score"), ("uplift", "auuc_score")):
        raw, normalised = _causalml_style(score, treated, y, curve)
        assert compat[f"causalml.{ours}(normalize=False)"] == pytest.approx(raw, rel=0.01)
        assert compat[f"causalml.{ours}"] == pytest.approx(normalised, rel=0.01)
    assert compat["sklift.uplift_auc_score"] == pytest.approx(
        _sklift_style_auuc(score, treated, y), rel=1e-12
    )


# --- ties, weights, ranking quality -----------------------------------------------------------


def test_constant_scores_give_the_random_line_exactly():
    data = campaign(5_000, seed=1)
    pair = data["t"] <= 1
    treated, y = data["t"][pair] == 1, data["y"][pair]
    constant = np.full(y.size, 0.3)
    x, q = qini_curve(constant, treated, y)
    assert x.tolist() == [0.0, 1.0]
    assert q[0] == 0.0
    assert qini_area(constant, treated, y) == pytest.approx(0.0, abs=1e-9)
    assert qini_coefficient(constant, treated, y) == pytest.approx(0.0, abs=1e-12)
    assert auuc(constant, treated, y) == pytest.approx(
        uplift_curve(constant, treated, y)[1][-1] / 2
    )


def test_order_inside_ties_cannot_change_a_metric():
    rng = np.random.default_rng(7)
    n = 3_000
    score = rng.integers(0, 5, size=n).astype(float)  # 5 big tie groups
    treated = rng.uniform(size=n) < 0.5
    y = (rng.uniform(size=n) < 0.2 + 0.05 * score * treated).astype(float)
    # Put, inside every tie group, treated responders first (the order that would flatter a
    # per-row curve) and then the reverse: grouped metrics must not move.
    responder = (treated & (y == 1)).astype(int)
    flatter = np.lexsort((-responder, -score))
    worse = np.lexsort((responder, -score))
    for metric in (qini_coefficient, qini_area, auuc, auuc_coefficient):
        a = metric(score[flatter], treated[flatter], y[flatter])
        b = metric(score[worse], treated[worse], y[worse])
        assert a == pytest.approx(b, rel=1e-12), metric.__name__


def test_integer_weights_equal_duplicated_rows():
    rng = np.random.default_rng(11)
    n = 500
    score, treated = rng.normal(size=n), rng.uniform(size=n) < 0.5
    y = rng.gamma(2.0, 10.0, size=n)
    counts = rng.poisson(1.0, size=n)
    rep = np.repeat(np.arange(n), counts)
    weighted = PairCurves.build(score, treated, y).stats(counts[None, :].astype(float), [0.3])
    duplicated = PairCurves.build(score[rep], treated[rep], y[rep]).stats(None, [0.3])
    for name, value in duplicated.items():
        np.testing.assert_allclose(weighted[name], value, rtol=1e-10, err_msg=name)


def test_oracle_ranking_beats_noisy_beats_random_which_scores_about_zero():
    data = campaign(40_000, seed=2, shares=(0.5, 0.5), noise=2.0)
    treated, y = data["t"] == 1, data["y"]
    oracle = qini_coefficient(data["oracle"][:, 0], treated, y)
    noisy = qini_coefficient(data["noisy"][:, 0], treated, y)
    random = qini_coefficient(np.random.default_rng(0).uniform(size=y.size), treated, y)
    assert oracle > noisy + 0.01
    assert noisy > 0.02
    assert abs(random) < 0.04  # its spread over seeds is about 0.01 at 20k rows
    worst = qini_coefficient(-data["oracle"][:, 0], treated, y)
    assert worst < -0.05


def test_uplift_at_k_equals_a_direct_computation():
    rng = np.random.default_rng(5)
    n = 1_000
    score, treated = rng.normal(size=n), rng.uniform(size=n) < 0.3
    y = rng.gamma(2.0, 5.0, size=n) + 3.0 * treated * (score > 0)
    top = np.argsort(-score)
    for k in (0.1, 0.2, 0.3, 0.4, 0.5):
        rows = top[: round(k * n)]
        direct = y[rows][treated[rows]].mean() - y[rows][~treated[rows]].mean()
        assert uplift_at_k(score, treated, y, k) == pytest.approx(direct, rel=1e-12)


def test_calibration_deciles_recover_the_planted_effect():
    data = campaign(200_000, seed=4, shares=(0.5, 0.5))
    treated, y, effect = data["t"] == 1, data["y"], data["oracle"][:, 0]
    rows = calibration_by_decile(effect, treated, y)
    assert [r.decile for r in rows] == list(range(1, 11))
    assert sum(r.n for r in rows) == y.size
    predicted = np.array([r.predicted for r in rows])
    observed = np.array([r.observed.value for r in rows])
    assert np.all(np.diff(predicted) < 0)  # decile 1 = highest predicted uplift
    half_widths = np.array([(r.observed.high - r.observed.low) / 2 for r in rows])
    # Each decile's observed uplift sits within ~2 standard errors of the planted one.
    assert np.all(np.abs(observed - predicted) < 2.6 * half_widths / 1.96 + 1e-12)
    assert np.corrcoef(predicted, observed)[0, 1] > 0.97


# --- bootstrap --------------------------------------------------------------------------------


def test_bootstrap_interval_of_a_mean_is_reproducible_and_chunk_size_free():
    y = np.random.default_rng(0).normal(10.0, 2.0, size=5_000)

    def mean(w):
        return w @ y / w.sum(axis=1)

    a = bootstrap_interval(mean, y.size, n_boot=200, seed=42)
    b = bootstrap_interval(mean, y.size, n_boot=200, seed=42, max_cells=7 * y.size)
    assert a == b
    assert a != bootstrap_interval(mean, y.size, n_boot=200, seed=43)
    assert a[0] < y.mean() < a[1]
    se = y.std() / np.sqrt(y.size)
    assert (a[1] - a[0]) / 2 == pytest.approx(1.96 * se, rel=0.2)


def test_bootstrap_interval_covers_the_true_uplift_at_about_the_nominal_rate():
    # Planted effect tau = x; ranking by x itself; the top half's true uplift is E[x | x > ½].
    truth, covered, draws = 0.75, 0, 80
    for seed in range(draws):
        rng = np.random.default_rng(1000 + seed)
        n = 2_000
        x = rng.uniform(size=n)
        treated = rng.uniform(size=n) < 0.5
        y = 1.0 + x * treated + rng.normal(0, 1, n)
        pair = PairCurves.build(x, treated, y)
        low, high = bootstrap_interval(
            lambda w, p=pair: p.stats(w, [0.5])["uplift_at_0.5"], n, n_boot=200, seed=seed
        )
        covered += low <= truth <= high
    # 95% nominal; binomial sd over 80 draws ≈ 2.4 points.
    assert 0.87 <= covered / draws <= 1.0


def test_bootstrap_replicates_of_several_statistics_share_resamples():
    y = np.random.default_rng(1).normal(size=1_000)
    reps = bootstrap_replicates(
        lambda w: np.column_stack([w @ y / w.sum(1), 2 * (w @ y) / w.sum(1)]), y.size, n_boot=50
    )
    assert reps.shape == (50, 2)
    np.testing.assert_allclose(reps[:, 1], 2 * reps[:, 0])


# --- truth, policy ----------------------------------------------------------------------------


def test_truth_metrics_of_the_truth_itself():
    data = campaign(10_000, seed=6)
    effect = data["oracle"][:, 0]
    assert pehe(effect, effect) == 0.0
    assert effect_correlation(effect, effect) == pytest.approx(1.0)
    assert sign_agreement(effect, effect) == 1.0
    assert pehe(effect + 0.1, effect) == pytest.approx(0.1)
    assert np.isnan(effect_correlation(np.zeros_like(effect), effect))


@pytest.mark.parametrize(
    ("uplift_of", "fraction"),
    [("oracle", 1.0), ("none", 0.0)],
    ids=["oracle-policy", "treat-no-one"],
)
def test_fraction_of_oracle_gain(uplift_of, fraction):
    data = campaign(20_000, seed=8)
    uplift = data["oracle"] if uplift_of == "oracle" else -np.ones_like(data["oracle"])
    report = evaluate_uplift(
        data["t"], data["y"], uplift, ["gold", "silver"], truth=data["truth"], n_boot=0
    )
    assert report.policy.truth is not None
    assert report.policy.truth.fraction_of_oracle_gain == pytest.approx(fraction, abs=1e-12)


def test_greedy_policy_takes_the_best_positive_offer():
    uplift = np.array([[0.1, 0.3], [-0.1, -0.2], [0.2, 0.2], [0.0, -1.0]])
    assert greedy_policy(uplift).tolist() == [2, 0, 1, 0]


def test_policy_value_by_ipw_agrees_with_the_truth_under_unequal_shares():
    data = campaign(100_000, seed=9, shares=(0.6, 0.3, 0.1))
    chosen = greedy_policy(data["noisy"])
    estimate = policy_value(chosen, data["t"], data["y"]).estimate
    true_value = data["truth"][np.arange(chosen.size), chosen].mean()
    se = (estimate.high - estimate.low) / (2 * 1.96)
    assert abs(estimate.value - true_value) < 3 * se
    # The default propensity is the observed shares: passing them changes nothing.
    shares = np.bincount(data["t"]) / data["t"].size
    given = policy_value(chosen, data["t"], data["y"], np.tile(shares, (chosen.size, 1)))
    assert given.estimate == estimate
    gain = policy_gain(chosen, np.zeros_like(chosen), data["t"], data["y"])
    true_gain = true_value - data["truth"][:, 0].mean()
    assert gain.low < true_gain < gain.high
    assert gain.high - gain.low < estimate.high - estimate.low + 0.02


# --- evaluate_uplift --------------------------------------------------------------------------


def test_evaluate_uplift_reports_every_metric_per_offer_with_intervals():
    data = campaign(30_000, seed=10)
    report = evaluate_uplift(
        data["t"], data["y"], data["noisy"], ["gold", "silver"], truth=data["truth"], seed=1
    )
    out = report.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["schema_version"] == EVALUATION_SCHEMA_VERSION == "uplift.evaluation/1"
    assert list(out["per_offer"]) == ["gold", "silver"]
    gold = report.per_offer["gold"]
    assert gold.n_treated + gold.n_control == int(((data["t"] == 0) | (data["t"] == 1)).sum())
    for metric in (gold.qini_coefficient, gold.qini_area, gold.auuc, gold.auuc_coefficient):
        assert metric.low < metric.value < metric.high
    assert gold.qini_coefficient.low > 0  # a real signal, distinguishable from random
    assert [round(k, 2) for k in gold.uplift_at_k] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert len(gold.calibration) == 10
    assert gold.compat["sklift.qini_auc_score"] == gold.qini_coefficient.value
    assert gold.truth is not None and gold.truth.pehe < 0.01
    assert report.policy.truth is not None
    assert 0.5 < report.policy.truth.fraction_of_oracle_gain <= 1.0
    assert sum(report.policy.share.values()) == pytest.approx(1.0)
    # The same seed reproduces the report, whatever the threads and chunk size; the curve
    # metrics match the per-pair functions.
    again = evaluate_uplift(
        data["t"],
        data["y"],
        data["noisy"],
        ["gold", "silver"],
        truth=data["truth"],
        seed=1,
        threads=2,
        max_cells=3 * data["y"].size,
    )
    assert again.to_dict() == out
    pair = data["t"] <= 1
    assert gold.qini_coefficient.value == pytest.approx(
        qini_coefficient(data["noisy"][pair, 0], data["t"][pair] == 1, data["y"][pair])
    )


def test_evaluate_uplift_on_revenue_outcomes():
    data = campaign(30_000, seed=12, binary=False, noise=1.0)
    report = evaluate_uplift(
        data["t"], data["y"], data["noisy"], ["gold", "silver"], truth=data["truth"], n_boot=50
    )
    assert report.outcome_kind == "continuous"
    gold = report.per_offer["gold"]
    oracle = evaluate_uplift(data["t"], data["y"], data["oracle"], ["gold", "silver"], n_boot=0)
    assert oracle.per_offer["gold"].qini_coefficient.value > gold.qini_coefficient.value > 0
    assert np.isnan(gold.auuc_coefficient.value)  # defined for binary outcomes only
    out = report.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["per_offer"]["gold"]["compat"]["sklift.qini_auc_score"] is None
    assert out["per_offer"]["gold"]["auuc_coefficient"]["value"] is None
    assert gold.qini_area.low < gold.qini_area.value < gold.qini_area.high


def test_summary_speaks_in_points_and_names_every_offer():
    data = campaign(20_000, seed=13)
    report = evaluate_uplift(
        data["t"], data["y"], data["noisy"], ["gold", "silver"], truth=data["truth"], n_boot=20
    )
    lines = summarize(report)
    gold = report.per_offer["gold"].observed_uplift.value
    assert lines[0].startswith("Offer 'gold': on average it changes the conversion rate by ")
    assert f"{100 * gold:+.2f} pts" in lines[0]
    assert lines[1].startswith("Offer 'silver'")
    fraction = report.policy.truth.fraction_of_oracle_gain
    assert lines[-1].endswith(f"gets {fraction:.0%} of the gain of a perfect (oracle) targeting.")


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"t": np.array([0, 1, 0, 1, 0, 1])}, DataError, "offer 'gold' \\(arm 2\\) has no rows"),
        ({"t": np.array([1, 1, 2, 1, 2, 2])}, DataError, "control \\(arm 0\\) has no rows"),
        ({"t": np.array([0, 1, 2, 3, 0, 1])}, DataError, "treatment codes must be in 0..2"),
        ({"uplift": np.zeros((6, 3))}, DataError, "uplift must have shape .*'silver', 'gold'"),
        ({"y": np.array([1, 0, np.nan, 0, 1, 0])}, DataError, "y must be finite"),
        ({"y": np.zeros(5)}, DataError, "y has 5 rows, treatment has 6"),
        ({"truth": np.zeros((6, 2))}, DataError, "truth must have shape \\(n, K\\+1\\)"),
        ({"propensity": np.full((6, 3), 0.5)}, DataError, "propensity rows must sum to 1"),
        ({"offers": ["a", "a"]}, UserInputError, "offer names must be unique"),
        ({"ks": (0.0, 0.5)}, UserInputError, "ks must be fractions in \\(0, 1\\]"),
        ({"bounds": (np.zeros((6, 2)), np.zeros((6, 3)))}, DataError, "bounds must be two arr"),
        ({"bounds": (np.ones((6, 2)), np.zeros((6, 2)))}, DataError, "a lower bound is above"),
        ({"conditional": np.zeros((6, 3))}, UserInputError, "conditional_truth needs truth"),
        (
            {"truth": np.zeros((6, 3)), "conditional": np.zeros((5, 3))},
            DataError,
            "conditional_truth must have the shape of truth",
        ),
    ],
    ids=[
        "empty-offer",
        "empty-control",
        "unknown-code",
        "uplift-shape",
        "nan-outcome",
        "length-mismatch",
        "truth-shape",
        "propensity-sum",
        "duplicate-offers",
        "bad-k",
        "bounds-shape",
        "bounds-crossed",
        "conditional-alone",
        "conditional-shape",
    ],
)
def test_bad_inputs_raise_with_a_message_naming_the_fault(change, error, match):
    args = {
        "t": np.array([0, 1, 2, 0, 1, 2]),
        "y": np.array([1.0, 0, 1, 0, 1, 0]),
        "uplift": np.zeros((6, 2)),
        "offers": ["silver", "gold"],
        "truth": None,
        "propensity": None,
        "ks": (0.1, 0.5),
        "bounds": None,
        "conditional": None,
    }
    args.update(change)
    with pytest.raises(error, match=match):
        evaluate_uplift(
            args["t"],
            args["y"],
            args["uplift"],
            args["offers"],
            truth=args["truth"],
            propensity=args["propensity"],
            ks=args["ks"],
            bounds=args["bounds"],
            conditional_truth=args["conditional"],
            n_boot=0,
        )


def test_interval_coverage_and_conditional_truth_are_measured():
    data = campaign(20_000, seed=4)
    tau = data["truth"][:, 1:] - data["truth"][:, :1]
    half = np.where(np.arange(tau.shape[0])[:, None] % 4 == 0, -0.001, 0.02)  # 1 row in 4 misses
    conditional = data["truth"] + 0.01 * np.array([0.0, 1.0, -1.0])  # effects shifted ±0.01
    report = evaluate_uplift(
        data["t"],
        data["y"],
        data["noisy"],
        ["gold", "silver"],
        truth=data["truth"],
        conditional_truth=conditional,
        bounds=(tau - np.abs(half), tau + half),
        n_boot=0,
    )
    gold, silver = report.per_offer["gold"].truth, report.per_offer["silver"].truth
    assert gold is not None and silver is not None
    assert gold.interval_coverage == pytest.approx(0.75, abs=1e-3)
    assert gold.interval_width == pytest.approx(0.75 * 0.04)  # the misses have width 0
    # shifted by 0.01: inside the wide intervals (half-width 0.02), outside the narrow ones
    assert gold.conditional_interval_coverage == pytest.approx(0.75, abs=1e-3)
    shift = (data["noisy"][:, 0] - tau[:, 0] - 0.01) ** 2
    assert gold.conditional_pehe == pytest.approx(np.sqrt(shift.mean()))
    assert silver.conditional_pehe != pytest.approx(silver.pehe)
    plain = evaluate_uplift(
        data["t"], data["y"], data["noisy"], ["gold", "silver"], truth=data["truth"], n_boot=0
    ).to_dict()
    assert plain["per_offer"]["gold"]["truth"]["interval_coverage"] is None


@pytest.mark.parametrize(
    ("treated", "match"),
    [
        (np.ones(6, dtype=bool), "the pair has no control rows"),
        (np.zeros(6, dtype=bool), "the pair has no treated rows"),
        (np.array([0, 1, 2, 0, 1, 0]), "treated must hold booleans"),
    ],
    ids=["no-control", "no-treated", "not-boolean"],
)
def test_pair_functions_refuse_a_pair_without_both_groups(treated, match):
    with pytest.raises(DataError, match=match):
        qini_coefficient(SCORE, treated, Y)


def test_curve_points_follow_the_curves_with_their_bands():
    data = campaign(6_000, seed=4)
    report = evaluate_uplift(data["t"], data["y"], data["noisy"], ["a", "b"], n_boot=100, seed=1)
    body = report.to_dict()["per_offer"]["a"]
    curves = body["curves"]
    assert curves["x"] == [i / 20 for i in range(21)]
    qini = [p["value"] for p in curves["qini"]]
    gain = [p["value"] for p in curves["gain"]]
    assert qini[0] == 0.0 and gain[0] == 0.0
    rows = (data["t"] == 0) | (data["t"] == 1)
    x, q = qini_curve(data["noisy"][rows, 0], data["t"][rows] == 1, data["y"][rows])
    assert qini == pytest.approx(list(np.interp(curves["x"], x, q)))  # the curve, sampled
    assert gain[-1] == pytest.approx(2 * body["auuc_random"])  # the whole population's gain
    assert all(p["low"] <= p["value"] <= p["high"] for p in curves["qini"][1:])
    # the band is widest where the curve has most to gain or lose, not at the ends
    widths = [p["high"] - p["low"] for p in curves["qini"]]
    assert widths[0] == 0.0 and max(widths) > widths[1]
