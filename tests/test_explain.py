"""Explanations of the uplift: shares that add up, the right features first, and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from isolation import TRAINING_STACK, run_without
from synthetic import make_campaign
from uplift_engine.cli import explain as explain_cli
from uplift_engine.cli import train as train_cli
from uplift_engine.lake import read_table_and_meta
from uplift_engine.learn import load_bundle
from uplift_engine.learn.explain.contributions import (
    explain_bundle,
    explain_graph,
    global_importance,
    top_drivers,
)
from uplift_engine.learn.graph import ScoringGraph, Term
from uplift_engine.learn.training import LEARNERS, BoosterParams
from uplift_engine.learn.tree_ensemble import TreeEnsemble

FAST = BoosterParams(n_estimators=100, learning_rate=0.1, threads=2)
LEARNER_NAMES = ["t_learner", "x_learner", "dr_learner", "s_learner", "uplift_forest",
                 "causal_forest"]
SMALL_FORESTS = {"uplift_forest": {"n_trees": 30}, "causal_forest": {"n_trees": 100}}
FEATURES = [f"x{j}" for j in range(6)]
# customers with x1 > 0 (offer 1 helps them) and x2 near 0 (offer 2 does little)
PROBES = np.array(
    [[0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.8, -0.3, 0.2, -0.1, 1.0], [-0.5, 1.5, 0.5, 0, 0, 2]]
)


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n=20_000, seed=1)


@pytest.fixture(scope="module")
def fitted(campaign):
    return {
        name: LEARNERS[name](params=FAST, seed=3, **SMALL_FORESTS.get(name, {})).fit(
            campaign.X, campaign.treatment, campaign.y, categorical=[5]
        )
        for name in LEARNER_NAMES
    }


@pytest.fixture(scope="module")
def explained(campaign, fitted):
    X = campaign.X[:2_000]
    return {
        name: explain_graph(model.export(), X, features=FEATURES, offers=["1", "2"])
        for name, model in fitted.items()
    }


# ----------------------------------------------------------------------- by hand, one tree
def _one_tree_graph(clip=None) -> ScoringGraph:
    """x0 ≤ 0.5 ? leaf 1 : (x1 ≤ 0 ? leaf 3 : leaf 4); outputs (control, offer) per node."""
    nan = np.nan
    tree = TreeEnsemble(
        {
            "feature": np.array([0, -1, 1, -1, -1]),
            "threshold": np.array([0.5, nan, 0.0, nan, nan]),
            "left": np.array([1, -1, 3, -1, -1]),
            "right": np.array([2, -1, 4, -1, -1]),
            "cat_index": np.full(5, -1),
            "cat_masks": np.zeros((1, 256), dtype=bool),
            "values": np.array([[0.5, 0.6], [0.4, 0.4], [0.6, 0.8], [0.7, 0.75], [0.5, 0.95]]),
            "roots": np.array([0]),
        }
    )
    levels = [[Term("forest", output=0)], [Term("forest", output=1)]]
    return ScoringGraph({}, levels, clip=clip, ensembles={"forest": tree})


@pytest.mark.parametrize(
    ("row", "shares", "effect"),
    [
        ([1.0, 1.0], [0.2 - 0.1, 0.15 + 0.1], 0.45),  # root → right → right
        ([1.0, -1.0], [0.2 - 0.1, -0.05 - 0.1], 0.05),  # root → right → left
        ([np.nan, 5.0], [-0.2 + 0.1, 0.0], 0.0),  # missing goes left, x1 never asked
    ],
    ids=["right-right", "right-left", "missing-left"],
)
def test_path_shares_of_one_tree_by_hand(row, shares, effect):
    """Saabas: each split's change of (offer − control) goes to its feature; base = root's."""
    c = explain_graph(_one_tree_graph(), np.array([row]))
    np.testing.assert_allclose(c.values[0, 0], shares, atol=1e-12)
    np.testing.assert_allclose(c.base[0, 0], 0.6 - 0.5, atol=1e-12)
    np.testing.assert_allclose(c.effect[0, 0], effect, atol=1e-12)
    assert c.methods == ("saabas",)


def test_shares_explain_the_unclipped_effect():
    """Levels clipped to [0, 0.9]: the scored effect is 0.4, the explained one 0.45."""
    graph = _one_tree_graph(clip=(0.0, 0.9))
    X = np.array([[1.0, 1.0]])
    assert graph.predict_effects(X)[0, 0] == pytest.approx(0.4)
    c = explain_graph(graph, X)
    assert c.effect[0, 0] == pytest.approx(0.45)
    assert c.base[0, 0] + c.values[0, 0].sum() == pytest.approx(0.45, abs=1e-12)


# --------------------------------------------------------------------- every learner's graph
@pytest.mark.parametrize("name", LEARNER_NAMES, ids=LEARNER_NAMES)
def test_shares_add_up_to_the_effect(name, campaign, fitted, explained):
    c = explained[name]
    total = c.base + c.values.sum(axis=2)
    np.testing.assert_allclose(total, c.effect, rtol=0, atol=1e-6)
    # and that effect is the model's, wherever no level was clipped
    X = campaign.X[:2_000]
    levels = fitted[name].predict_outcomes(X)
    inside = ((levels > 0) & (levels < 1)).all(axis=1)
    assert inside.mean() > 0.9
    np.testing.assert_allclose(c.effect[inside], fitted[name].predict(X[inside]), atol=1e-9)


@pytest.mark.parametrize("name", LEARNER_NAMES, ids=LEARNER_NAMES)
def test_global_importance_finds_each_offers_effect_modifier(name, explained):
    """Offer 1's effect follows x1, offer 2's x2: each ranks first, ahead by 30% or more."""
    ranking = global_importance(explained[name])
    for offer, driver in (("1", "x1"), ("2", "x2")):
        rows = [r for r in ranking if r.offer == offer]
        assert [r.rank for r in rows] == list(range(1, 7))
        assert rows[0].feature == driver, [(r.feature, round(r.mean_abs, 4)) for r in rows]
        assert rows[0].mean_abs > 1.3 * rows[1].mean_abs
    x1 = next(r for r in ranking if r.offer == "1" and r.feature == "x1")
    assert x1.mean_signed == pytest.approx(
        explained[name].values[:, 0, 1].mean(), rel=1e-12
    )


@pytest.mark.parametrize("name", LEARNER_NAMES, ids=LEARNER_NAMES)
def test_x1_is_the_top_positive_driver_of_offer_1_when_positive(name, campaign, fitted):
    c = explain_graph(fitted[name].export(), PROBES, features=FEATURES, offers=["1", "2"])
    for d in top_drivers(c, k=3):
        assert len(d.drivers) == 3
        shares = [abs(x.contribution) for x in d.drivers]
        assert shares == sorted(shares, reverse=True)
        if d.offer == "1":
            positive = [x for x in d.drivers if x.contribution > 0]
            assert positive[0].feature == "x1", d
            assert positive[0].value == PROBES[d.row, 1]
    # on real customers with x1 > 0.5: measured 81–98% across these learners
    X = campaign.X[:3_000]
    X = X[X[:, 1] > 0.5]
    shares = explain_graph(fitted[name].export(), X).values[:, 0, :]
    top_positive = np.where(shares > 0, shares, -np.inf).argmax(axis=1)
    assert (top_positive == 1).mean() > 0.7


@pytest.mark.parametrize("name", ["t_learner", "s_learner"], ids=["t_learner", "s_learner"])
def test_catboost_models_are_explained_by_their_shap_values(name):
    pytest.importorskip("catboost")
    data = make_campaign(n=12_000, seed=3)
    params = BoosterParams(n_estimators=150, learning_rate=0.1, library="catboost")
    model = LEARNERS[name](params=params, seed=1).fit(
        data.X, data.treatment, data.y, categorical=[5]
    )
    X = data.X[:1_000]
    c = explain_graph(model.export(), X, features=FEATURES)
    assert c.methods == ("catboost_shap",)
    np.testing.assert_allclose(c.base + c.values.sum(axis=2), c.effect, atol=1e-9)
    np.testing.assert_allclose(c.effect, model.predict(X), atol=1e-9)  # no level clipped here
    first = {r.offer: r.feature for r in global_importance(c) if r.rank == 1}
    assert first == {"1": "x1", "2": "x2"}


def test_s_learner_arm_column_share_goes_to_the_base(fitted):
    """The base of an S-learner varies by customer: it holds the arm column's own share."""
    c = explain_graph(fitted["s_learner"].export(), PROBES)
    assert c.values.shape == (3, 2, 6)
    assert np.ptp(c.base[:, 0]) > 0
    t = explain_graph(fitted["t_learner"].export(), PROBES)
    np.testing.assert_allclose(t.base, np.broadcast_to(t.base[0], t.base.shape))


def test_explanations_need_neither_pyarrow_nor_pandas(fitted, tmp_path):
    """Explaining from a loaded bundle runs where pandas, pyarrow, pydantic, numba are blocked."""
    from uplift_engine.learn.encoding import EncodedFeature, FeatureEncoder
    from uplift_engine.learn.training import build_manifest, write_bundle

    encoder = FeatureEncoder(
        [EncodedFeature(f"x{j}", "numeric") for j in range(5)]
        + [EncodedFeature("tier", "categorical", ("a", "b", "c", "d"))]
    )
    graph = fitted["causal_forest"].export()
    manifest = build_manifest(
        graph=graph, encoder=encoder, arms=["none", "cash", "fee"],
        columns={"treatment": "arm", "outcome": "y", "id": "row_id"}, outcome_kind="binary",
        learner={"name": "causal_forest", "params": {}}, metrics={}, fingerprint={},
        versions={}, created_at="2026-11-24T00:00:00+00:00",
    )
    write_bundle(manifest, graph, tmp_path / "m")
    out = run_without(
        TRAINING_STACK,
        f"""
        from uplift_engine.learn.bundle import load_bundle
        from uplift_engine.learn.explain.contributions import explain_bundle, top_drivers
        bundle = load_bundle({str(tmp_path / "m")!r})
        row = {{f"x{{j}}": [0.0] for j in range(5)}} | {{"x1": [1.2], "tier": ["c"]}}
        drivers = top_drivers(explain_bundle(bundle, row), k=6)
        print(drivers[0].offer, {{d.feature: d.value for d in drivers[0].drivers}}["tier"])
        """,
    )
    assert out == "cash c"


def test_top_drivers_and_importance_refuse_bad_arguments(explained):
    c = explained["t_learner"]
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        top_drivers(c, k=0)
    with pytest.raises(IndexError, match="row 2000 is outside the 2000 explained rows"):
        top_drivers(c, rows=[2_000])
    message = r"expected 2 feature name\(s\) and 1 offer\(s\), got 2 and 2"
    with pytest.raises(ValueError, match=message):
        explain_graph(_one_tree_graph(), np.zeros((1, 2)), features=["a", "b"], offers=["1", "2"])


# ------------------------------------------------------------------------------------ the CLI
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_cli.train)
    app.command("explain")(explain_cli.explain)
    return app


def invoke(*args):
    return runner.invoke(_app(), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def bundle_and_data(tmp_path_factory):
    """A bundle trained by ``uplift train`` on the three-arm campaign, with named customers."""
    folder = tmp_path_factory.mktemp("explain")
    data = make_campaign(n=8_000, seed=5)
    columns = {"customer_id": [f"c{i:05d}" for i in range(len(data.y))]}
    columns |= {f"x{j}": data.X[:, j] for j in range(5)}
    columns["tier"] = np.array(["a", "b", "c", "d"])[data.X[:, 5].astype(int)]
    columns["arm"] = np.array(["none", "cash", "fee"])[data.treatment]
    columns["y"] = data.y
    pq.write_table(pa.table(columns), folder / "campaign.parquet")
    done = invoke(
        "train", folder / "campaign.parquet", "--treatment", "arm", "--control", "none",
        "--outcome", "y", "--learner", "t_learner", "--out", folder / "model", "--json",
    )
    assert done.exit_code == 0, done.output
    return folder / "model", folder / "campaign.parquet", data


def test_cli_writes_importance_and_prints_drivers(bundle_and_data, tmp_path):
    model, table, data = bundle_and_data
    out = tmp_path / "importance.parquet"
    done = invoke(
        "explain", "--model", model, "--data", table, "--customer", "c00042",
        "--customer", "c00007", "--top", "3", "--sample", "3000", "--out", out, "--json",
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["rows"] == 3_000 and report["methods"] == ["tree_shap"]
    written = pq.read_table(out)
    assert written.column_names == ["offer", "feature", "mean_abs", "mean_signed", "rank"]
    meta = json.loads(written.schema.metadata[b"uplift"])
    assert meta["schema_version"] == "uplift.explanations/1" and meta["effect"] == "unclipped"
    rows = written.to_pylist()
    assert len(rows) == 2 * 6
    first = {r["offer"]: r["feature"] for r in rows if r["rank"] == 1}
    assert first == {"cash": "x1", "fee": "x2"}
    assert rows[0]["mean_abs"] == pytest.approx(report["importance"]["cash"][0]["mean_abs"])
    drivers = report["drivers"]
    assert [(d["customer"], d["offer"]) for d in drivers] == [
        ("c00042", "cash"), ("c00042", "fee"), ("c00007", "cash"), ("c00007", "fee"),
    ]
    for d in drivers:
        assert len(d["drivers"]) == 3
        by_feature = {x["feature"]: x["value"] for x in d["drivers"]}
        row = 42 if d["customer"] == "c00042" else 7
        if "x1" in by_feature:
            assert by_feature["x1"] == pytest.approx(data.X[row, 1])
        if "tier" in by_feature:
            assert by_feature["tier"] == "abcd"[int(data.X[row, 5])]
    # the drivers and effect agree with the library on the same customer
    bundle = load_bundle(model)
    source = pq.read_table(table).slice(42, 1)
    c = explain_bundle(bundle, {n: source.column(n) for n in bundle.encoder.names})
    assert drivers[0]["effect"] == pytest.approx(c.effect[0, 0], abs=1e-12)


def test_cli_csv_output_and_text_summary(bundle_and_data, tmp_path):
    model, table, _ = bundle_and_data
    out = tmp_path / "importance.csv"
    done = invoke("explain", "--model", model, "--data", table, "--sample", "1000", "--out", out)
    assert done.exit_code == 0, done.output
    assert "offer cash:" in done.stdout and " 1. x1 " in done.stdout
    written = pacsv.read_csv(out)
    assert written.num_rows == 12
    _, raw = read_table_and_meta(out)  # the sidecar keys the metadata by the file's bytes
    meta = json.loads(raw)
    assert meta["rows"] == 1_000 and meta["model"]["learner"] == "t_learner"


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (None, ["--customer", "c99999"], r"customer id\(s\) 'c99999' are not in column "
         r"'customer_id'.*\[--customer\]"),
        ("drop_x1", [], r"lacks feature column\(s\) 'x1'"),
        ("drop_id", ["--customer", "c00001"],
         r"the customers asked for need the id column 'customer_id'.*\[--id-col\]"),
        (None, ["--customer", "c00001", "--id-col", "segment"],
         r"the customers asked for need the id column 'segment'"),
        (None, ["--top", "0"], r"--top"),
    ],
    ids=["unknown-customer", "missing-feature", "no-id-column", "unknown-id-col", "top-zero"],
)
def test_cli_bad_input_exits_2_and_writes_nothing(
    bundle_and_data, tmp_path, change, args, message
):
    model, table, _ = bundle_and_data
    if change:
        source = pq.read_table(table)
        source = source.drop_columns(["x1" if change == "drop_x1" else "customer_id"])
        table = tmp_path / "changed.parquet"
        pq.write_table(source, table)
    out = tmp_path / "importance.parquet"
    done = invoke("explain", "--model", model, "--data", table, "--out", out, *args)
    assert done.exit_code == 2
    assert re.search(message, done.stderr), done.stderr
    if change or args[0] != "--top":  # ours: one line; the option check is Click's
        assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_refuses_an_unknown_output_format(bundle_and_data, tmp_path):
    model, table, _ = bundle_and_data
    done = invoke("explain", "--model", model, "--data", table, "--out", tmp_path / "i.json")
    assert done.exit_code == 2
    assert "expected a .csv or .parquet file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
