"""CatBoost base models: every learner recovers effects, bundles round-trip, scoring stays lean."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest

from isolation import run_without
from synthetic import make_campaign, save_bundle
from uplift_engine.errors import BundleError, ConfigError
from uplift_engine.learn import load_bundle
from uplift_engine.learn.bundle import MANIFEST, MANIFEST_CHECKSUM, sha256
from uplift_engine.learn.catboost_model import CatBoostBooster, model_library
from uplift_engine.learn.data import fit_encoder
from uplift_engine.learn.training import LEARNERS, BoosterParams, XLearner
from uplift_engine.learn.training.boosting import fit_booster, model_text, predict

pytest.importorskip("catboost")

FAST = dict(n_estimators=150, learning_rate=0.1)
CATBOOST = BoosterParams(**FAST, library="catboost")
LIGHTGBM = BoosterParams(**FAST)
BOOSTED = sorted(name for name in LEARNERS if name != "uplift_forest")  # forests of their own


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n=12_000, seed=3), make_campaign(n=4_000, seed=4)


def _correlation(model, test) -> float:
    effects = model.predict(test.X)
    return float(
        np.mean([np.corrcoef(effects[:, k], test.true_effects[:, k])[0, 1] for k in range(2)])
    )


@pytest.mark.parametrize("name", BOOSTED, ids=BOOSTED)
def test_every_learner_recovers_the_effects_with_catboost(name, campaign):
    """Mean correlation with the true effects (two offers), CatBoost against LightGBM.

    Measured at 12,000 rows (seed 3), CatBoost / LightGBM: causal_forest 0.67 / 0.66,
    dr_learner 0.66 / 0.16, r_learner 0.60 / 0.26, s_learner 0.67 / 0.53, t_learner 0.50 / 0.38,
    transformed_outcome 0.56 / 0.39, x_learner 0.76 / 0.54. CatBoost must reach 0.45 and stay
    within 0.05 of LightGBM on the same data.
    """
    train, test = campaign
    fitted = {
        params.library: LEARNERS[name](params=params, seed=1).fit(
            train.X, train.treatment, train.y, categorical=[5]
        )
        for params in (CATBOOST, LIGHTGBM)
    }
    graph = fitted["catboost"].export()
    assert {model_library(text) for text in graph.models.values()} == {"catboost"}
    corr = {library: _correlation(model, test) for library, model in fitted.items()}
    assert corr["catboost"] >= 0.45, corr
    assert corr["catboost"] >= corr["lightgbm"] - 0.05, corr


def test_categorical_column_is_a_catboost_cat_feature():
    """Column 5 (four level codes, NaN = missing) goes in as a cat feature and moves the level."""
    data = make_campaign(n=8_000, seed=6)
    X = data.X.copy()
    X[::10, 5] = np.nan  # missing level codes become the code -1
    control = data.treatment == 0
    booster = fit_booster(
        X[control], data.y[control], objective="binary", params=CATBOOST, seed=0, categorical=[5]
    )
    assert isinstance(booster, CatBoostBooster)
    assert booster.categorical == [5] and booster.numeric == [0, 1, 2, 3, 4]
    rows = X[:2_000].copy()
    rows[:, 5] = 2.0
    high = predict(booster, rows, 2).mean()
    rows[:, 5] = 0.0
    low = predict(booster, rows, 2).mean()
    rows[:, 5] = np.nan
    missing = predict(booster, rows, 2)
    # true base rate: logit + 0.3 for level 2, about +0.045 in probability here
    assert 0.02 < high - low < 0.09, (high, low)
    assert np.isfinite(missing).all() and ((missing > 0) & (missing < 1)).all()


def test_sample_weights_are_used():
    """Half the rows carry an outcome shifted by +50 and a weight of 0.001: the fit ignores them."""
    data = make_campaign(n=8_000, seed=7, kind="continuous")
    rng = np.random.default_rng(0)
    shifted = rng.random(len(data.y)) < 0.5
    y = data.y + 50.0 * shifted
    weight = np.where(shifted, 0.001, 1.0)
    truth = data.true_levels.mean(axis=0)
    levels = {}
    for label, w in (("weighted", weight), ("unweighted", None)):
        model = LEARNERS["t_learner"](params=CATBOOST, seed=0)
        model.fit(data.X, data.treatment, y, sample_weight=w, categorical=[5])
        levels[label] = model.predict_outcomes(data.X).mean(axis=0)
    assert np.abs(levels["weighted"] - truth).max() < 2.0, levels
    assert np.abs(levels["unweighted"] - truth - 25.0).max() < 3.0, levels


def test_same_seed_gives_the_same_model():
    data = make_campaign(n=3_000, seed=9)
    texts = [
        model_text(fit_booster(data.X, data.y, objective="binary", params=CATBOOST, seed=4))
        for _ in range(2)
    ]
    assert texts[0] == texts[1]


@pytest.fixture(scope="module")
def tier_table():
    data = make_campaign(n=5_000, seed=5)
    table = pa.table({f"x{j}": data.X[:, j] for j in range(5)})
    table = table.append_column(
        "tier", pa.array(np.array(["a", "b", "c", "d"])[data.X[:, 5].astype(int)])
    )
    encoder = fit_encoder(table, table.column_names)
    X = encoder.transform({n: table.column(n) for n in encoder.names})
    return data, table, encoder, X


@pytest.mark.parametrize("name", ["x_learner", "s_learner"], ids=["x_learner", "s_learner"])
def test_catboost_bundle_round_trip(name, tier_table, tmp_path):
    """.cbm files with checksums, libraries in the manifest, the same levels to 1e-9."""
    data, table, encoder, X = tier_table
    model = LEARNERS[name](params=CATBOOST, seed=1).fit(
        X, data.treatment, data.y, categorical=encoder.categorical_indices
    )
    save_bundle(model, encoder, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
    assert set(manifest["model_libraries"].values()) == {"catboost"}
    assert all(path.endswith(".cbm") for path in manifest["model_files"].values())
    assert set(manifest["files"]) == set(manifest["model_files"].values())
    loaded = load_bundle(tmp_path / "m").predict_levels({n: table.column(n) for n in encoder.names})
    np.testing.assert_allclose(loaded, model.predict_outcomes(X), rtol=0, atol=1e-9)


def test_tampered_cbm_is_refused(tier_table, tmp_path):
    data, _, encoder, X = tier_table
    model = XLearner(params=CATBOOST, seed=1).fit(
        X, data.treatment, data.y, categorical=encoder.categorical_indices
    )
    save_bundle(model, encoder, tmp_path / "m")
    cbm = tmp_path / "m" / "models" / "mu_0.cbm"
    blob = bytearray(cbm.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    cbm.write_bytes(bytes(blob))
    with pytest.raises(BundleError, match=r"models/mu_0.cbm does not match its checksum"):
        load_bundle(tmp_path / "m")


@pytest.fixture(scope="module")
def bundles(tier_table, tmp_path_factory):
    """A LightGBM and a CatBoost X-learner bundle of the same data."""
    data, _, encoder, X = tier_table
    folders = {}
    for params in (LIGHTGBM, CATBOOST):
        model = XLearner(params=params, seed=1).fit(
            X, data.treatment, data.y, categorical=encoder.categorical_indices
        )
        folders[params.library] = tmp_path_factory.mktemp("bundles") / params.library
        save_bundle(model, encoder, folders[params.library])
    return folders


BLOCKED = """
from uplift_engine.errors import BundleError
from uplift_engine.learn.bundle import load_bundle
try:
    bundle = load_bundle({folder!r})
except BundleError as exc:
    print("refused:", exc)
else:
    row = {{n: [0.5] for n in bundle.encoder.names}} | {{"tier": ["b"]}}
    print(bundle.predict_levels(row).shape, "catboost" in sys.modules and sys.modules["catboost"])
"""


def test_lightgbm_bundle_scores_where_catboost_cannot_be_imported(bundles):
    out = run_without(("catboost",), BLOCKED.format(folder=str(bundles["lightgbm"])))
    assert out == "(1, 3) None"


def test_catboost_bundle_without_catboost_says_how_to_install(bundles):
    out = run_without(("catboost",), BLOCKED.format(folder=str(bundles["catboost"])))
    assert "refused:" in out and "pip install 'uplift-engine[catboost]'" in out


def test_manifest_without_model_libraries_still_loads(bundles, tmp_path):
    """A bundle written before CatBoost (no ``model_libraries``) reads as LightGBM."""
    copy = tmp_path / "old"
    shutil.copytree(bundles["lightgbm"], copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    del manifest["model_libraries"]
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (copy / MANIFEST).write_bytes(data)
    (copy / MANIFEST_CHECKSUM).write_text(sha256(data) + "\n")
    rows = {"x0": [0.1, -1.0], "x1": [1.0, 0.0], "x2": [0.3, 2.0], "x3": [0.0, 0.0]}
    rows |= {"x4": [0.0, 1.0], "tier": ["a", "d"]}
    expected = load_bundle(bundles["lightgbm"]).predict_levels(rows)
    np.testing.assert_array_equal(load_bundle(copy).predict_levels(rows), expected)


def test_unknown_library_is_a_config_error():
    expected = r"booster library must be one of 'lightgbm', 'catboost'; got 'xgboost'"
    with pytest.raises(ConfigError, match=expected) as info:
        BoosterParams(library="xgboost")  # type: ignore[arg-type]
    assert info.value.field == "library"


def test_unknown_base_is_refused_by_train_options():
    from uplift_engine.pipeline.train import TrainOptions

    with pytest.raises(ConfigError, match=r"--base 'xgboost' is not known") as info:
        TrainOptions(treatment="arm", control="control", outcome="y", base="xgboost")
    assert info.value.field == "base"


@pytest.mark.slow
def test_cli_train_and_score_with_base_catboost(campaign_table, tmp_path):
    from typer.testing import CliRunner

    from uplift_engine.cli.main import app
    from uplift_engine.lake import read_table

    runner = CliRunner()
    out = tmp_path / "model"
    args = ["train", str(campaign_table), "--treatment", "arm", "--control", "control"]
    args += ["--outcome", "converted", "--exclude", "revenue", "--learner", "t_learner"]
    done = runner.invoke(app, [*args, "--base", "catboost", "--out", str(out), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["model_libraries"].values()) == {"catboost"}
    assert manifest["learner"]["params"]["booster"]["library"] == "catboost"
    assert "catboost" in manifest["versions"]
    assert any(f["type"] == "categorical" for f in manifest["features"])
    for offer, report in result["evaluation"]["per_offer"].items():
        assert report["qini_coefficient"]["value"] > 0, offer
    scores_path = str(tmp_path / "s.parquet")
    scored = runner.invoke(app, ["score", str(out), str(campaign_table), "--out", scores_path])
    assert scored.exit_code == 0, scored.output
    scores = read_table(scores_path)
    assert scores.num_rows == 30_000
    uplift = [c for c in scores.column_names if c.startswith("uplift_")]
    assert uplift and all(np.isfinite(scores.column(c).to_numpy()).all() for c in uplift)
    bad = runner.invoke(app, [*args, "--base", "xgboost", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--base 'xgboost' is not known" in bad.output
