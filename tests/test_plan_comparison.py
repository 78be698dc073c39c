"""Two plans valued on the simulator's randomised campaign, against its truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from uplift_engine.config.settings import Settings
from uplift_engine.errors import DataError
from uplift_engine.lake import layout, read_table
from uplift_engine.pipeline.policy_comparison import compare_plans
from uplift_engine.pipeline.train import TrainOptions


def test_two_plans_compared_on_the_randomised_campaign_cover_the_truth(
    lake: Path, campaign_table: Path
) -> None:
    table = read_table(campaign_table)
    truth = read_table(lake / layout.TRUTH)
    truth = truth.filter(pc.equal(truth.column("campaign_id"), "c2026q4"))
    ids = table.column("customer_id").to_numpy()
    where = pc.index_in(table.column("customer_id"), value_set=truth.column("customer_id"))
    rows = where.to_numpy(zero_copy_only=False)
    arms = ["control", "cashback", "fee_waiver", "bonus_points"]
    p = np.column_stack([truth.column(layout.truth_column("converted", a)).to_numpy()[rows]
                         for a in arms])  # fmt: skip
    # A: the true best offer where it helps; B: A, but cashback for a third of A's customers
    best = np.argmax(p, axis=1)
    a = np.where(p[np.arange(len(ids)), best] > p[:, 0], best, 0)
    b = np.where((a > 0) & (ids % 3 == 0), 1, a)
    plan_a = pa.table({"customer_id": ids, "offer": [arms[k] if k else "" for k in a]})
    plan_b = pa.table({"customer_id": ids[:-50], "offer": [arms[k] if k else "" for k in b][:-50]})
    b[-50:] = 0  # customers a plan does not list get control
    options = TrainOptions(outcome="converted", exclude=("revenue",), seed=1)
    done = compare_plans(table, options, ((plan_a, "customer_id"), (plan_b, "customer_id")),
                         Settings(), level=0.99)  # fmt: skip
    c = done.comparison
    true_a = p[np.arange(len(ids)), a].mean()
    true_b = p[np.arange(len(ids)), b].mean()
    assert c.value_a.covers(true_a) and c.value_b.covers(true_b)
    assert c.difference.covers(true_a - true_b)
    assert c.se_paired < 0.6 * c.se_unpaired  # they differ on a third of A's customers
    assert done.unlisted == {"a": 0, "b": 50} and c.disagree == int((a != b).sum())
    bad = pa.table({"customer_id": ids, "offer": ["loan"] * len(ids)})
    with pytest.raises(DataError, match="'loan' is not an arm"):
        compare_plans(table, options, ((plan_a, "customer_id"), (bad, "customer_id")),
                      Settings())  # fmt: skip


def test_the_command_compares_two_plan_files_in_profit(campaign_table: Path, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from uplift_engine.cli.main import app as cli
    from uplift_engine.decide.planning import write_plan

    table = read_table(campaign_table)
    ids = table.column("customer_id").to_numpy()
    economics = {"control": "control", "offers": {
        o: {"contact_cost": 0.5, "redemption_cost": 5.0}
        for o in ("cashback", "fee_waiver", "bonus_points")}}  # fmt: skip
    for name, offer in (("a", "cashback"), ("b", "fee_waiver")):
        plan = pa.table({
            "customer_id": ids, "offer": [offer if i % 2 else "" for i in ids],
            "expected_profit": np.zeros(len(ids)), "expected_cost": np.zeros(len(ids)),
            "excluded_by": [""] * len(ids), "holdout": [False] * len(ids),
        })  # fmt: skip
        write_plan(plan, {"id_column": "customer_id", "economics": economics},
                   tmp_path / f"{name}.parquet")  # fmt: skip
    args = ["compare-plans", str(campaign_table), "--plan-a", str(tmp_path / "a.parquet"),
            "--plan-b", str(tmp_path / "b.parquet"), "--outcome", "converted"]  # fmt: skip
    done = CliRunner().invoke(cli, [*args, "--value", "40", "--json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.output)
    assert body["unit"] == "profit per customer" and body["se_paired"] < body["se_unpaired"]
    text = CliRunner().invoke(cli, args).output
    assert "A − B" in text and "outcome per customer" in text
    bad = CliRunner().invoke(cli, [*args, "--level", "2"])
    assert bad.exit_code == 2 and "--level" in bad.output


def test_a_models_budget_curve_on_the_campaign(campaign_table: Path, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from uplift_engine.cli.main import app as cli
    from uplift_engine.pipeline.train import train_bundle

    table = read_table(campaign_table)
    for name, seed, learner in (("m", 1, "t_learner"), ("b", 2, "s_learner")):
        train_bundle(table, TrainOptions(outcome="converted", learner=learner, seed=seed),
                     tmp_path / name, Settings())  # fmt: skip
    (tmp_path / "e.json").write_text(json.dumps({"control": "control", "offers": {
        o: {"contact_cost": 0.5, "redemption_cost": 5.0}
        for o in ("cashback", "fee_waiver", "bonus_points")}}))  # fmt: skip
    args = ["budget-curve", str(campaign_table), "--model", str(tmp_path / "m"), "--economics",
            str(tmp_path / "e.json"), "--value", "40", "--outcome", "converted",
            "--points", "5"]  # fmt: skip
    done = CliRunner().invoke(cli, [*args, "--baseline-model", str(tmp_path / "b"), "--out",
                                    str(tmp_path / "curve.csv"), "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    body = json.loads(done.output)
    assert body["unit"] == "profit per customer" and len(body["curve"]) == 5
    first, last = body["curve"][0], body["curve"][-1]
    assert first["gain"]["value"] == 0 and last["spend"] > 0
    assert last["gain"]["value"] > 0  # the model's allocation earns on the randomised campaign
    assert last["difference"]["low"] <= last["difference"]["value"] <= last["difference"]["high"]
    written = read_table(tmp_path / "curve.csv")
    assert written.num_rows == 5 and "difference_high" in written.column_names
    bad = CliRunner().invoke(cli, [*args[:-2], "--points", "1"])
    assert bad.exit_code == 2 and "--points" in bad.output
