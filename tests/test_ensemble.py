"""The ensemble: the average of its members' estimates, as one portable model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from synthetic import make_campaign, save_bundle
from uplift_engine.errors import ConfigError
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import fit_encoder
from uplift_engine.learn.training import LEARNERS, AverageLearner, BoosterParams

FAST = BoosterParams(n_estimators=100, learning_rate=0.1, threads=2)
MEMBERS = ("t_learner", "uplift_forest")


def _members(data):
    return [
        LEARNERS[name](params=FAST, seed=4).fit(data.X, data.treatment, data.y, categorical=[5])
        for name in MEMBERS
    ]


def test_the_effect_is_the_members_mean_where_no_clip_binds():
    data = make_campaign(n=6_000, seed=7, kind="continuous")
    ensemble = AverageLearner(params=FAST, seed=4, members=MEMBERS).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    members = _members(data)
    mean = np.mean([m.predict(data.X) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(data.X), mean, atol=1e-9)
    levels = np.mean([m.predict_outcomes(data.X) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_outcomes(data.X), levels, atol=1e-9)
    # and it recovers the effects at least as well as its weaker member
    corr = [np.corrcoef(e[:, 1], data.true_effects[:, 1])[0, 1] for e in
            (ensemble.predict(data.X), *(m.predict(data.X) for m in members))]  # fmt: skip
    assert corr[0] >= min(corr[1:]), corr


def test_binary_levels_are_clipped_after_averaging_and_the_bundle_scores_the_same(tmp_path):
    data = make_campaign(n=6_000, seed=8)
    ensemble = AverageLearner(params=FAST, seed=4, members=MEMBERS).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    levels = ensemble.predict_outcomes(data.X)
    assert ((levels >= 0) & (levels <= 1)).all()
    mean = np.mean([m.predict(data.X) for m in _members(data)], axis=0)
    assert np.abs(ensemble.predict(data.X) - mean).mean() < 1e-3
    columns = {f"x{j}": data.X[:, j] for j in range(6)}
    encoder = fit_encoder(pa.table(columns), [f"x{j}" for j in range(6)])
    save_bundle(ensemble, encoder, tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.manifest["learner"]["params"]["members"] == list(MEMBERS)
    assert set(bundle.manifest["learner"]["params"]["member_params"]) == set(MEMBERS)
    np.testing.assert_allclose(
        bundle.graph.predict_levels(data.X[:500]), levels[:500], rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    "members",
    [("t_learner",), ("t_learner", "t_learner"), ("t_learner", "nope"), ("ensemble", "s_learner")],
    ids=["one", "twice", "unknown", "nested"],
)
def test_members_must_be_two_distinct_learners(members):
    data = make_campaign(n=2_000, seed=9)
    with pytest.raises(ConfigError, match="ensemble members must be") as caught:
        AverageLearner(params=FAST, members=members).fit(data.X, data.treatment, data.y)
    assert caught.value.field == "members"
