"""``--learner auto``: cross-fitted selection by Qini, the ensemble first, plans that scale."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from synthetic import make_campaign
from uplift_engine.evaluate import select_learner, truth_matrix
from uplift_engine.evaluate.cross_fit import cross_fitted_effects
from uplift_engine.evaluate.selection import SelectionPlan
from uplift_engine.features import REQUEST_FEATURES, STREAM_FEATURES
from uplift_engine.lake import read_table
from uplift_engine.lake.layout import expected_column
from uplift_engine.learn.data import (
    ArmSet,
    CampaignData,
    assign_roles,
    encode_campaign,
    stratified_folds,
)
from uplift_engine.learn.training import LEARNERS, BoosterParams

CANDIDATES = ("s_learner", "t_learner", "uplift_forest")
FAST = BoosterParams(n_estimators=80, learning_rate=0.1, threads=2)


def _data(kind: str, n: int, seed: int) -> CampaignData:
    c = make_campaign(n, seed=seed, kind=kind)
    return CampaignData(
        X=c.X,
        treatment=c.treatment,
        y=c.y,
        propensity=None,
        ids=pa.array(np.arange(n)),
        arms=ArmSet("arm", ("none", "cash", "fee")),
        encoder=SimpleNamespace(categorical_indices=[5]),  # type: ignore[arg-type]
        roles=None,  # type: ignore[arg-type]
        outcome_kind="binary" if kind == "binary" else "continuous",
    )


def test_binary_outcomes_are_chosen_by_cross_fitted_qini():
    report = select_learner(_data("binary", 12_000, 1), CANDIDATES, params=FAST, seed=3)
    assert report.criterion == "qini_coefficient" and report.higher_is_better
    scores = {c.learner: c for c in report.candidates}
    assert set(scores) == set(CANDIDATES)
    assert report.best == max(scores, key=lambda name: scores[name].score)
    assert all(c.low <= c.score <= c.high for c in scores.values())
    assert report.winner == next(
        name for name in CANDIDATES if name == report.best or scores[name].tied
    )
    if report.winner == report.best:
        assert report.reason.startswith(f"{report.best} has the highest cross-fitted Qini")
    else:
        assert report.reason.startswith(f"{report.winner}: it ranks customers as well as")


def test_revenue_is_chosen_by_qini_too_and_ties_are_paired():
    report = select_learner(_data("revenue", 12_000, 2), CANDIDATES, params=FAST, seed=3)
    assert report.criterion == "qini_coefficient" and report.higher_is_better
    scores = {c.learner: c for c in report.candidates}
    winner = scores[report.best]
    assert report.best == max(scores, key=lambda name: scores[name].score)
    assert (winner.gap_low, winner.gap_high) == (0.0, 0.0)
    others = [c for c in scores.values() if c is not winner]
    for c in others:
        # the paired interval of the difference is narrower than the score's own interval
        assert c.gap_low <= c.score - winner.score <= c.gap_high, c.learner
        assert c.gap_high - c.gap_low < 0.9 * (c.high - c.low), c.learner
    tied = [c.learner for c in others if c.tied]
    assert ("statistically tied" in report.reason) == bool(tied and report.winner == report.best)


def test_revenue_selection_ranks_candidates_by_how_well_they_target(lake):
    """On the simulated bank's revenue the cross-fitted Qini picks a candidate whose effects
    rank customers as the true conditional effects do about as well as the best one's."""
    table = read_table(lake / "curated" / "campaign_table" / "c2026q4")
    # The simulator's response reads none of the stream windows or request-time features (at
    # assignment most windows are empty; channel and hour are drawn apart from it): this test
    # of the criterion keeps to the table's batch features, on which it was set.
    unread = [s.name for s in STREAM_FEATURES] + [r.name for r in REQUEST_FEATURES]
    roles = assign_roles(
        table,
        treatment="arm",
        outcome="revenue",
        id_column="customer_id",
        propensity=None,
        exclude=("converted", *unread),
    )
    data = encode_campaign(table, roles, "control")
    arms = list(data.arms.names)
    truth = read_table(lake / "truth" / "campaign_truth")
    expected = truth_matrix(data.ids, "customer_id", truth, "revenue", arms, column=expected_column)
    true_effects = expected[:, 1:] - expected[:, :1]
    params = BoosterParams(threads=2, learning_rate=0.1)
    candidates = ("s_learner", "t_learner", "x_learner", "uplift_forest")
    plan = SelectionPlan(rows=len(data.y), folds=2, repeats=1)
    report = select_learner(data, candidates, params=params, seed=0, plan=plan)
    fold = stratified_folds(data.treatment, 2, 0)
    # how much true effect the top 30% by each candidate's cross-fitted effects gets, per offer
    gain = {}
    for name in candidates:
        make = partial(LEARNERS[name], params=params, seed=0)
        effects = cross_fitted_effects(data, make, fold)
        top = np.argsort(-effects, axis=0)[: int(0.3 * len(effects))]
        gain[name] = float(np.mean(np.take_along_axis(true_effects, top, axis=0)))
    scores = {c.learner: c.score for c in report.candidates}
    # the best score targets nearly as well as the truth's best candidate, and the two
    # candidates that score best are the two that gain most
    assert gain[report.best] >= 0.95 * max(gain.values()), (gain, scores)
    by_score = sorted(candidates, key=scores.__getitem__)
    by_gain = sorted(candidates, key=gain.__getitem__)
    assert set(by_score[-2:]) == set(by_gain[-2:]), (gain, scores)


@pytest.mark.parametrize("kind", ["binary", "revenue"])
def test_selection_is_reproducible(kind):
    data = _data(kind, 6_000, 4)
    first = select_learner(data, ("t_learner", "s_learner"), params=FAST, seed=9)
    again = select_learner(data, ("t_learner", "s_learner"), params=FAST, seed=9)
    assert [c.score for c in first.candidates] == [c.score for c in again.candidates]
    assert first.winner == again.winner


def test_of_candidates_tied_with_the_best_the_first_in_order_wins():
    """Outcomes shuffled across customers carry no effect, so every candidate's Qini is noise:
    the two tie, and whichever comes first wins, whatever scored best."""
    data = _data("binary", 8_000, 5)
    data = replace(data, y=np.random.default_rng(0).permutation(data.y))
    one = select_learner(data, ("s_learner", "t_learner"), params=FAST, seed=3)
    other = select_learner(data, ("t_learner", "s_learner"), params=FAST, seed=3)
    scores = {c.learner: c.score for c in one.candidates}
    assert scores == {c.learner: c.score for c in other.candidates}
    assert all(c.tied for c in one.candidates + other.candidates)
    assert one.best == other.best == max(scores, key=scores.__getitem__)
    assert (one.winner, other.winner) == ("s_learner", "t_learner")
    overruled = one if one.winner != one.best else other
    assert overruled.reason.startswith(
        f"{overruled.winner}: it ranks customers as well as the top scorer, {overruled.best} "
    )
    assert "comes first in the order of preference" in overruled.reason
