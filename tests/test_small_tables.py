"""Pilots of a few hundred customers train, and the saved model has learned from every row.

Tables from ``tests/synthetic.py`` (three arms, effects known) cut to a few hundred rows: every
learner that can learn from them is compared, the others are left out with the reason; the
evaluation is cross-fitted over every row; the bundle is refitted on all rows, which the
manifest records; below the minimum the refusal names the arm, its count and the minimum.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from synthetic import make_campaign
from uplift_engine.cli.main import app
from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, DataError
from uplift_engine.lake import write_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import score_table
from uplift_engine.pipeline.evaluation_plan import MIN_TABLE_ARM_ROWS
from uplift_engine.pipeline.train import TrainOptions, train_bundle

ARMS = np.array(["control", "cash", "fee"])
ROLES = {"treatment": "arm", "control": "control", "outcome": "y"}


def _table(n: int, kind: str, seed: int = 5, arm_rows: dict[int, int] | None = None) -> pa.Table:
    """``n`` rows of the synthetic campaign; ``arm_rows`` keeps only that many rows of an arm."""
    c = make_campaign(4 * n, seed=seed, kind=kind)
    keep = np.arange(n)
    if arm_rows:
        for arm, count in arm_rows.items():
            rows = np.flatnonzero(c.treatment == arm)
            keep = np.setdiff1d(keep, rows[count:])
            keep = np.union1d(keep, rows[:count])
    columns = {f"x{j}": c.X[keep, j] for j in range(5)}
    columns["segment"] = np.array(["a", "b", "c", "d"])[c.X[keep, 5].astype(int)]
    columns["arm"] = ARMS[c.treatment[keep]]
    columns["y"] = c.y[keep]
    return pa.table(columns)


def _train(table: pa.Table, out, **options):
    return train_bundle(table, TrainOptions(**ROLES, seed=3, **options), out, Settings())


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_a_pilot_of_200_rows_trains_and_scores(kind, tmp_path):
    table = _table(200, kind)
    result = _train(table, tmp_path / "model")
    assert result.validation["kind"] == "cross_fitted"
    assert result.validation["rows"] == 200 and result.validation["folds"] == 5
    assert result.train_rows == 200 and result.validation["refit"]
    compared = [c["learner"] for c in result.selection["candidates"]]
    left_out = {c["learner"]: c["reason"] for c in result.selection["left_out"]}
    assert "uplift_forest" in left_out and "min_samples_leaf" in left_out["uplift_forest"]
    assert {"ensemble", "s_learner", "t_learner"} <= set(compared)
    assert result.learner in compared
    bundle = load_bundle(tmp_path / "model")
    assert bundle.manifest["metrics"]["validation"]["kind"] == "cross_fitted"
    assert bundle.manifest["data_fingerprint"]["rows"] == 200
    scores, _ = score_table(bundle, table)
    assert scores.num_rows == 200
    effects = np.column_stack([scores.column(f"uplift_{o}").to_numpy() for o in ("cash", "fee")])
    assert np.isfinite(effects).all()
    assert result.evaluation["n_rows"] == 200  # every row evaluated, out of sample


def test_an_arm_of_30_rows_trains(tmp_path):
    table = _table(400, "binary", arm_rows={2: 30})
    assert table.column("arm").to_pylist().count("fee") == 30
    result = _train(table, tmp_path / "model")
    assert result.learner in [c["learner"] for c in result.selection["candidates"]]
    assert {c["learner"] for c in result.selection["left_out"]} >= {"uplift_forest"}
    assert result.train_rows == table.num_rows
    assert load_bundle(tmp_path / "model").manifest["data_fingerprint"]["rows_per_arm"]["fee"] == 30


def test_below_the_minimum_the_refusal_names_the_arm_its_count_and_the_minimum(tmp_path):
    table = _table(300, "binary", arm_rows={1: MIN_TABLE_ARM_ROWS - 1})
    with pytest.raises(DataError) as caught:
        _train(table, tmp_path / "model")
    message = str(caught.value)
    assert f"at least {MIN_TABLE_ARM_ROWS} rows" in message
    assert f"'cash' has {MIN_TABLE_ARM_ROWS - 1}" in message
    assert caught.value.field == "arm"
    assert not (tmp_path / "model").exists()
    # one more row and it trains, with every learner that can
    table = _table(300, "binary", arm_rows={1: MIN_TABLE_ARM_ROWS})
    result = _train(table, tmp_path / "model")
    assert result.train_rows == table.num_rows


def test_the_refitted_bundle_differs_from_the_training_part_model_and_says_so(tmp_path):
    table = _table(600, "continuous")
    common = {"learner": "t_learner", "evaluation": "held-out"}
    refit = _train(table, tmp_path / "refit", **common)
    kept = _train(table, tmp_path / "kept", refit=False, **common)
    # the same configuration, evaluated on the same held-out rows: the same figures
    assert refit.evaluation == kept.evaluation
    assert refit.validation["rows"] == kept.validation["rows"] == 180
    assert refit.train_rows == 600 and kept.train_rows == 420
    manifests = {
        name: load_bundle(tmp_path / name).manifest["metrics"]["validation"]
        for name in ("refit", "kept")
    }
    assert manifests["refit"]["kind"] == manifests["kept"]["kind"] == "held_out"
    assert manifests["refit"]["refit"] is True and manifests["kept"]["refit"] is False
    one, other = (score_table(load_bundle(tmp_path / n), table)[0] for n in ("refit", "kept"))
    difference = np.abs(
        one.column("uplift_cash").to_numpy() - other.column("uplift_cash").to_numpy()
    )
    assert difference.mean() > 0.5  # outcome units (revenue 0–100): the models differ


def test_no_refit_needs_a_held_out_evaluation(tmp_path):
    with pytest.raises(ConfigError, match="--no-refit"):
        TrainOptions(**ROLES, evaluation="cross-fitted", refit=False)
    with pytest.raises(ConfigError, match="--evaluation 'sometimes' is not known"):
        TrainOptions(**ROLES, evaluation="sometimes")
    # on a small table --no-refit alone means a held-out evaluation
    result = _train(_table(300, "binary"), tmp_path / "model", refit=False, learner="s_learner")
    assert result.validation["kind"] == "held_out" and result.train_rows == 210


def test_the_cli_says_which_evaluation_and_refuses_a_small_arm(tmp_path):
    table = _table(300, "binary")
    write_table(table, tmp_path / "pilot.csv")
    done = CliRunner().invoke(
        app,
        ["train", str(tmp_path / "pilot.csv"), "--treatment", "arm", "--control", "control",
         "--outcome", "y", "--learner", "t_learner", "--out", str(tmp_path / "model")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Cross-fitted evaluation (5 folds" in done.output
    assert "refitted on every row" in done.output
    short = _table(300, "binary", arm_rows={2: 12})
    write_table(short, tmp_path / "short.csv")
    done = CliRunner().invoke(
        app,
        ["train", str(tmp_path / "short.csv"), "--treatment", "arm", "--control", "control",
         "--outcome", "y", "--out", str(tmp_path / "short")],
    )  # fmt: skip
    assert done.exit_code == 2
    assert "'fee' has 12" in done.output and str(MIN_TABLE_ARM_ROWS) in done.output


def test_a_held_out_evaluation_that_would_starve_an_arm_is_refused_up_front(tmp_path):
    table = _table(400, "binary", arm_rows={1: 22})
    with pytest.raises(DataError) as caught:
        _train(table, tmp_path / "model", holdout_share=0.5, refit=False, intervals="bootstrap")
    message = str(caught.value)
    assert "'cash' would keep 11 of its 22" in message and "at least 16 rows" in message
    assert "--evaluation cross-fitted" in message and caught.value.field == "arm"
    assert not (tmp_path / "model").exists()
    # the default plan cross-fits such a table, and nothing inside refuses it
    result = _train(table, tmp_path / "model")
    assert result.validation["kind"] == "cross_fitted"
