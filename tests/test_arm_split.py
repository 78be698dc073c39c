"""An S-learner's booster scored under every arm at once: same levels, fewer trees walked."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from synthetic import make_campaign
from uplift_engine.learn.arm_split import split_by_arm
from uplift_engine.learn.training import LEARNERS, BoosterParams

PARAMS = BoosterParams(threads=2)


@pytest.fixture(scope="module", params=["binary", "revenue"])
def s_model(request):
    data = make_campaign(20_000, seed=1, kind=request.param)
    model = LEARNERS["s_learner"](params=PARAMS, seed=1).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    return request.param, model.export()


def test_levels_equal_lightgbm_under_every_arm(s_model):
    kind, graph = s_model
    X = make_campaign(5_000, seed=5, kind=kind).X
    booster = lgb.Booster(model_str=graph.models["mu"])
    expected = np.column_stack(
        [booster.predict(np.column_stack([X, np.full(len(X), float(a))])) for a in range(3)]
    )
    levels = graph.predict_levels(X)
    scale = 1.0 if kind == "binary" else 100.0
    assert np.abs(levels - np.clip(expected, *(graph.clip or (-np.inf, np.inf)))).max() < (
        1e-12 * scale
    )


def test_trees_are_cut_by_whether_they_read_the_arm(s_model):
    _, graph = s_model
    text = graph.models["mu"]
    split = split_by_arm(text)
    assert split is not None
    total = lgb.Booster(model_str=text).num_trees()
    assert split.n_shared + split.n_by_arm == total
    assert split.n_shared > 0 and split.n_by_arm > 0
    assert split.resolved(1.0).num_trees() == split.n_by_arm
    # the arm-free part gives the same output whatever the arm column holds
    X = make_campaign(500, seed=6).X
    outs = [
        split.shared.predict(np.column_stack([X, np.full(len(X), a)]), raw_score=True)
        for a in (0.0, 1.0, 2.0)
    ]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize("categorical", [True, False], ids=["categorical-arm", "numeric-arm"])
def test_resolved_trees_give_each_arms_raw_scores_without_the_arm(categorical):
    """Arm splits decided per arm: the same raw score as the whole tree, and shorter trees."""
    data = make_campaign(8_000, seed=4)
    inputs = np.column_stack([data.X, data.treatment.astype(float)])
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbosity": -1, "seed": 1},
        lgb.Dataset(inputs, data.y, categorical_feature=[5, 6] if categorical else [5]),
        num_boost_round=40,
    )
    split = split_by_arm(booster.model_to_string())
    assert split is not None and split.n_by_arm > 0
    X = make_campaign(2_000, seed=8).X
    for arm in (0.0, 1.0, 2.0):
        whole = booster.predict(np.column_stack([X, np.full(len(X), arm)]), raw_score=True)
        parts = split.resolved(arm).predict(X, raw_score=True, predict_disable_shape_check=True)
        if split.shared is not None:
            parts += split.shared.predict(X, raw_score=True, predict_disable_shape_check=True)
        np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-12)
        leaves = [t["num_leaves"] for t in split.resolved(arm).dump_model()["tree_info"]]
        before = [int(t.split("num_leaves=")[1].split()[0]) for t in split.arm_trees]
        assert len(leaves) == len(before) and sum(leaves) < sum(before)


def test_models_that_cannot_be_cut_are_left_whole():
    data = make_campaign(3_000, seed=2)
    train = lgb.Dataset(data.X, data.treatment, params={"verbosity": -1})
    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1}, train, num_boost_round=3
    )
    assert split_by_arm(multiclass.model_to_string()) is None
    assert split_by_arm("not a model") is None


def test_one_booster_gives_every_arms_raw_scores(s_model):
    """The arms' resolved trees in one multiclass-laid-out booster: column j is arm j's."""
    kind, graph = s_model
    split = split_by_arm(graph.models["mu"])
    assert split is not None
    arms = (2.0, 0.0, 1.0)
    joint = split.joint(arms)
    assert joint.num_trees() == len(arms) * split.n_by_arm
    X = make_campaign(3_000, seed=9, kind=kind).X
    options = {"raw_score": True, "predict_disable_shape_check": True}
    raw = joint.predict(X, **options)
    assert raw.shape == (len(X), len(arms))
    for j, arm in enumerate(arms):
        alone = split.resolved(arm).predict(X, **options)
        np.testing.assert_allclose(raw[:, j], alone, rtol=0, atol=1e-12)
    assert split.joint(arms) is joint
    with pytest.raises(ValueError, match="two arms"):
        split.joint((1.0,))
