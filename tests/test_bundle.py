"""Bundles: a loaded bundle predicts what the fitted model did, verifies itself, runs lean."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from isolation import run_without
from synthetic import make_campaign, save_bundle
from uplift_engine.errors import BundleError, UserInputError
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import fit_encoder
from uplift_engine.learn.training import BoosterParams, XLearner, write_bundle

FAST = BoosterParams(n_estimators=80, learning_rate=0.1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = make_campaign(n=6_000, seed=5)
    table = pa.table({f"x{j}": data.X[:, j] for j in range(5)})
    table = table.append_column(
        "tier", pa.array(np.array(["a", "b", "c", "d"])[data.X[:, 5].astype(int)])
    )
    encoder = fit_encoder(table, table.column_names)
    X = encoder.transform({n: table.column(n) for n in encoder.names})
    model = XLearner(params=FAST, seed=1).fit(
        X, data.treatment, data.y, categorical=encoder.categorical_indices
    )
    folder = tmp_path_factory.mktemp("bundles") / "model"
    save_bundle(model, encoder, folder)
    return model, table, X, folder


def test_loaded_bundle_reproduces_predictions(trained):
    model, table, X, folder = trained
    bundle = load_bundle(folder)
    loaded = bundle.predict_levels({n: table.column(n) for n in bundle.encoder.names})
    np.testing.assert_allclose(loaded, model.predict_outcomes(X), rtol=0, atol=1e-9)
    # the same rows given as plain lists (the serving path) score the same
    rows = {n: table.column(n).to_pylist()[:50] for n in bundle.encoder.names}
    np.testing.assert_allclose(bundle.predict_levels(rows), loaded[:50], atol=1e-12)


def test_unseen_category_and_missing_values_still_score(trained):
    bundle = load_bundle(trained[3])
    row = {n: [None] for n in bundle.encoder.names} | {"tier": ["never-seen"]}
    levels = bundle.predict_levels(row)
    assert levels.shape == (1, 3) and np.isfinite(levels).all()


def test_tampered_model_file_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained[3], copy)
    model_file = next((copy / "models").iterdir())
    model_file.write_text(model_file.read_text().replace("learning_rate", "learning_rat"))
    with pytest.raises(BundleError, match="does not match its checksum"):
        load_bundle(copy)


def test_tampered_manifest_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained[3], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["arms"] = ["a", "b", "c"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"manifest.json does not match its checksum"):
        load_bundle(copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no model bundle"):
        load_bundle(tmp_path / "missing")
    with pytest.raises(BundleError, match="is it a model bundle"):
        load_bundle(tmp_path)


def test_existing_folder_is_not_overwritten_by_default(trained):
    model, _, _, folder = trained
    with pytest.raises(UserInputError, match="already exists"):
        write_bundle({}, model.export(), folder)


def test_bundle_holds_no_pickle(trained):
    for path in trained[3].rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), path


def test_scoring_path_needs_no_pandas_nor_sklearn(trained):
    """Load and score in a fresh interpreter where pandas and scikit-learn cannot be imported."""
    out = run_without(
        ("pandas", "sklearn", "pyarrow", "pydantic"),
        f"""
        from uplift_engine.learn.bundle import load_bundle
        bundle = load_bundle({str(trained[3])!r})
        row = {{n: [0.5] for n in bundle.encoder.names}} | {{"tier": ["b"]}}
        print(bundle.predict_levels(row).shape)
        """,
    )
    assert out == "(1, 3)"


@pytest.mark.parametrize("name", ["s_learner", "transformed_outcome"])
def test_other_graph_shapes_round_trip(name, tmp_path):
    """The S-learner's arm column and effect-plus-baseline terms survive a bundle."""
    from uplift_engine.learn.training import LEARNERS

    data = make_campaign(n=4_000, seed=8)
    table = pa.table({f"x{j}": data.X[:, j] for j in range(6)})
    encoder = fit_encoder(table, table.column_names)
    X = encoder.transform({n: table.column(n) for n in encoder.names})
    model = LEARNERS[name](params=FAST, seed=2).fit(X, data.treatment, data.y)
    save_bundle(model, encoder, tmp_path / "m")
    loaded = load_bundle(tmp_path / "m").predict_levels({n: table.column(n) for n in encoder.names})
    np.testing.assert_allclose(loaded, model.predict_outcomes(X), rtol=0, atol=1e-9)


@pytest.mark.parametrize("learner", ["t_learner", "causal_forest"])
def test_bundles_of_an_earlier_release_score_the_same(learner):
    """Bundles written before the renovation (tests/data, made by commit 2e3a5ee) load and score
    to the scores that release gave, through today's scoring core."""
    from pathlib import Path

    from uplift_engine.learn.data import score_table

    data = Path(__file__).parent / "data"
    expected = json.loads((data / "bundle_v0_expected.json").read_text())
    bundle = load_bundle(data / f"bundle_v0_{learner}")
    scores, _ = score_table(bundle, pa.table(expected["rows"]))
    for column, values in expected["scores"][learner].items():
        np.testing.assert_allclose(
            scores.column(column).to_numpy(), np.array(values, dtype=float), rtol=0, atol=1e-12
        )
