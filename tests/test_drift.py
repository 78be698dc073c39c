"""Drift between the training data and recent traffic: planted in one feature, found there only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app as cli
from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError
from uplift_engine.evaluate.drift import categorical_drift, numeric_drift
from uplift_engine.lake import read_table, write_table
from uplift_engine.learn import load_bundle
from uplift_engine.pipeline.drift_report import drift_report
from uplift_engine.pipeline.train import TrainOptions, train_bundle


@pytest.fixture(scope="module")
def trained(campaign_table: Path, tmp_path_factory) -> tuple[pa.Table, Path]:
    table = read_table(campaign_table)
    out = tmp_path_factory.mktemp("drift") / "model"
    train_bundle(table, TrainOptions(outcome="converted", learner="t_learner", seed=1), out,
                 Settings())  # fmt: skip
    return table, out


def _recent(table: pa.Table, rows: int, seed: int) -> pa.Table:
    pick = np.random.default_rng(seed).choice(table.num_rows, rows, replace=False)
    return table.take(pa.array(np.sort(pick)))


def test_drift_planted_in_two_features_is_found_there_and_nowhere_else(trained) -> None:
    table, model = trained
    bundle = load_bundle(model)
    reference = _recent(table, 15_000, 1)
    same = drift_report(bundle, reference, _recent(table, 15_000, 2)).to_dict()
    assert same["features_drifted"] == 0 and same["scores_drifted"] == 0
    assert same["retrain"] is False
    shifted = _recent(table, 15_000, 3)
    income = pc.multiply(shifted.column("income_m_vnd"), 1.6)
    shifted = shifted.set_column(shifted.column_names.index("income_m_vnd"), "income_m_vnd",
                                 income)  # fmt: skip
    segment = shifted.column("segment").to_pylist()
    segment = ["platinum" if i % 4 == 0 else s for i, s in enumerate(segment)]
    shifted = shifted.set_column(shifted.column_names.index("segment"), "segment",
                                 pa.array(segment))  # fmt: skip
    report = drift_report(bundle, reference, shifted).to_dict()
    drifted = {c["name"] for c in report["features"] if c["drifted"]}
    assert drifted == {"income_m_vnd", "segment"}
    seg = next(c for c in report["features"] if c["name"] == "segment")
    assert seg["method"] == "jensen_shannon" and seg["unseen"] == {"platinum": 0.25}
    assert report["retrain"] and any("income_m_vnd" in r for r in report["retrain_because"])
    # small samples: the tests, not the distances
    small = drift_report(bundle, _recent(table, 800, 4), shifted.slice(0, 600)).to_dict()
    methods = {c["name"]: c["method"] for c in small["features"]}
    assert methods["income_m_vnd"] == "ks" and methods["segment"] == "chi2"
    assert {c["name"] for c in small["features"] if c["drifted"]} >= {"income_m_vnd", "segment"}


def test_the_tests_hold_their_level_on_samples_of_one_population() -> None:
    rng = np.random.default_rng(0)
    flagged = [numeric_drift("x", rng.normal(size=500), rng.normal(size=500)).drifted
               for _ in range(200)]  # fmt: skip
    assert 0.01 < np.mean(flagged) < 0.10  # about the 5% level
    cats = np.array(["a", "b", "c"], dtype=object)
    flagged = [categorical_drift("c", rng.choice(cats, 400), rng.choice(cats, 400)).drifted
               for _ in range(200)]  # fmt: skip
    assert np.mean(flagged) < 0.10
    missing = numeric_drift("m", np.r_[rng.normal(size=900), [np.nan] * 100],
                            np.r_[rng.normal(size=700), [np.nan] * 300])  # fmt: skip
    assert (missing.missing_reference, missing.missing_current) == (0.1, 0.3)
    assert missing.psi > 0.1


def test_the_command_reports_from_a_table_and_from_the_decision_log(trained, tmp_path) -> None:
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    from uplift_engine.learn.data import score_table
    from uplift_engine.serve.compact import SCHEMA

    table, model = trained
    write_table(table, tmp_path / "reference.parquet")
    write_table(_recent(table, 3_000, 5), tmp_path / "current.parquet")
    args = ["drift", "--model", str(model), "--reference", str(tmp_path / "reference.parquet")]
    done = CliRunner().invoke(cli, [*args, "--current", str(tmp_path / "current.parquet"),
                                    "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["retrain"] is False
    # the service's log: every offer's uplift, here half of it again
    bundle = load_bundle(model)
    scores, _ = score_table(bundle, _recent(table, 2_000, 6))
    columns = [scores.column(f"uplift_{o}").to_pylist() for o in bundle.offers]
    offers = [json.dumps({o: {"uplift": 0.5 * u} for o, u in zip(bundle.offers, row, strict=True)})
              for row in zip(*columns, strict=True)]  # fmt: skip
    n = len(offers)
    rows = {"request_id": [f"r{i}" for i in range(n)],
            "at": [datetime(2026, 12, 7, tzinfo=UTC)] * n, "customer_id": ["1"] * n,
            "model_version": ["m"] * n, "plan_version": [None] * n, "features_sha256": [""] * n,
            "offer": [None] * n, "degraded": [False] * n, "offers": offers,
            "schema_version": ["uplift.decision/1"] * n, "audit": [None] * n}  # fmt: skip
    day = tmp_path / "lake" / "decisions" / "day=2026-12-07"
    day.mkdir(parents=True)
    older = pa.schema([SCHEMA.field(name) for name in rows])  # a day logged before assignments
    pq.write_table(pa.Table.from_pydict(rows, schema=older), day / "part-00000.parquet")
    logged = CliRunner().invoke(cli, [*args, "--decisions", str(tmp_path / "lake")])
    assert logged.exit_code == 0, logged.output
    assert "retrain: uplift score" in logged.output and "DRIFT" in logged.output
    with pytest.raises(DataError, match="lacks the model's feature"):
        drift_report(bundle, table, table.drop(["income_m_vnd"]))
    none = CliRunner().invoke(cli, args)
    assert none.exit_code == 2 and "--current" in none.output
