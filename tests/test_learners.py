"""One conformance suite for every learner (STYLE.md: learners look like estimators)."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import make_campaign
from uplift_engine.errors import ConfigError, DataError, NotFittedError
from uplift_engine.learn.training import LEARNERS, BoosterParams

FAST = BoosterParams(n_estimators=150, learning_rate=0.1, threads=2)
NAMES = sorted(LEARNERS)
SMALL_FORESTS = {"uplift_forest": {"n_trees": 30}, "causal_forest": {"n_trees": 40}}


def make(name, seed):
    """A learner of the suite: boosters with few rounds, forests with few trees."""
    return LEARNERS[name](params=FAST, seed=seed, **SMALL_FORESTS.get(name, {}))


@pytest.fixture(scope="module")
def binary():
    return make_campaign(n=20_000, seed=1)


@pytest.fixture(scope="module")
def fitted(binary):
    return {
        name: make(name, 3).fit(binary.X, binary.treatment, binary.y, categorical=[5])
        for name in NAMES
    }


@pytest.mark.parametrize("name", NAMES)
def test_predict_shapes(name, binary, fitted):
    model = fitted[name]
    assert model.predict(binary.X[:7]).shape == (7, 2)
    levels = model.predict_outcomes(binary.X[:7])
    assert levels.shape == (7, 3)
    assert ((levels >= 0) & (levels <= 1)).all()  # binary outcomes stay probabilities
    np.testing.assert_allclose(model.predict(binary.X[:7]), levels[:, 1:] - levels[:, :1])


@pytest.mark.parametrize("name", NAMES)
def test_recovers_known_effects(name, binary, fitted):
    effects = fitted[name].predict(binary.X)
    truth = binary.true_effects
    for k in range(2):
        corr = np.corrcoef(effects[:, k], truth[:, k])[0, 1]
        assert corr > 0.45, f"offer {k + 1}: correlation {corr:.2f}"
    # the mean effect is unbiased to within a couple of points
    np.testing.assert_allclose(effects.mean(axis=0), truth.mean(axis=0), atol=0.025)


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_by_seed_and_does_not_mutate(name, binary, fitted):
    X, t, y = binary.X.copy(), binary.treatment.copy(), binary.y.copy()
    again = make(name, 3).fit(X, t, y, categorical=[5])
    np.testing.assert_array_equal(X, binary.X)
    np.testing.assert_array_equal(t, binary.treatment)
    np.testing.assert_array_equal(y, binary.y)
    np.testing.assert_array_equal(again.predict(X[:500]), fitted[name].predict(X[:500]))
    other = make(name, 4).fit(X, t, y, categorical=[5])
    assert not np.array_equal(other.predict(X[:500]), fitted[name].predict(X[:500]))


@pytest.mark.parametrize("name", NAMES)
def test_continuous_outcome(name):
    data = make_campaign(n=8_000, seed=2, kind="continuous")
    model = make(name, 0).fit(data.X, data.treatment, data.y)
    assert model.outcome_kind_ == "continuous"
    effects = model.predict(data.X)
    assert np.corrcoef(effects[:, 0], data.true_effects[:, 0])[0, 1] > 0.5
    assert model.predict_outcomes(data.X).max() > 1  # levels are not clipped to [0, 1]


@pytest.mark.parametrize("name", NAMES)
def test_sample_weights_change_the_fit(name, binary):
    w = np.where(binary.X[:, 0] > 0, 3.0, 1.0)
    plain = make(name, 0).fit(binary.X, binary.treatment, binary.y)
    weighted = make(name, 0).fit(binary.X, binary.treatment, binary.y, sample_weight=w)
    assert not np.allclose(plain.predict(binary.X[:200]), weighted.predict(binary.X[:200]))


@pytest.mark.parametrize(
    ("treatment", "message"),
    [
        (np.r_[np.zeros(500), np.ones(5)].astype(int), "at least 8 rows"),
        (np.zeros(520, dtype=int), "only one arm"),
        (np.full(520, 0.5), "arm codes"),
    ],
    ids=["small-arm", "one-arm", "not-codes"],
)
def test_bad_treatment(treatment, message):
    X = np.zeros((len(treatment), 2))
    with pytest.raises(DataError, match=message):
        LEARNERS["t_learner"]().fit(X, treatment, np.zeros(len(treatment)))


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_learner_says_so(name):
    for method in ("predict", "predict_outcomes", "predict_interval", "export"):
        call = getattr(make(name, 0), method)
        with pytest.raises(NotFittedError, match="not fitted") as info:
            call(np.zeros((1, 6))) if method != "export" else call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


@pytest.mark.parametrize("name", NAMES)
def test_intervals_are_given_exactly_when_the_learner_says_so(name, binary, fitted):
    model = fitted[name]
    if model.has_intervals:
        lower, upper = model.predict_interval(binary.X[:9])
        point = model.predict(binary.X[:9])
        assert lower.shape == upper.shape == (9, 2)
        assert (lower <= point + 1e-12).all() and (point <= upper + 1e-12).all()
    else:
        with pytest.raises(ConfigError, match=f"{name} gives confidence intervals"):
            model.predict_interval(binary.X[:9])


@pytest.mark.parametrize(
    ("rows", "given", "expected"),
    [(20_000, None, 0.05), (120_000, None, 0.1), (120_000, 0.03, 0.03)],
)
def test_default_learning_rate_follows_the_rows_a_booster_is_fitted_on(rows, given, expected):
    from uplift_engine.learn.training.boosting import fit_booster, model_text

    data = make_campaign(n=rows, seed=2)
    params = BoosterParams(n_estimators=3, early_stopping_rounds=0, learning_rate=given)
    booster = fit_booster(data.X, data.y, objective="binary", params=params, seed=0)
    assert f"[learning_rate: {expected}]" in model_text(booster)
    assert params.rate_for(rows) == expected
