"""Campaign measurement: honest intervals against the simulator's truth, inputs checked."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app as cli
from uplift_engine.decide.planning import load_economics, plan_campaign, write_plan
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.errors import DataError
from uplift_engine.lake import write_table
from uplift_engine.learn.data.scores_files import write_scores
from uplift_engine.report.campaign_measurement import measure_campaign
from uplift_engine.report.simulated_campaigns import ECONOMICS, VALUE, measured_campaign

CAMPAIGNS = 100


@pytest.fixture(scope="module")
def campaigns():
    return [measured_campaign(seed) for seed in range(CAMPAIGNS)]


def _covered(estimate: dict, truth: float) -> bool:
    return estimate["low"] <= truth <= estimate["high"]


def test_the_intervals_cover_the_true_increment_at_their_level(campaigns) -> None:
    """90% intervals over 100 campaigns: coverage within 3 binomial sd of 90% (the benchmark
    checks ±3 points over 200 campaigns at 90% and 95%)."""
    sd = math.sqrt(0.9 * 0.1 / CAMPAIGNS)
    for way in ("plain", "adjusted"):
        hits = [_covered(c.measurement.body["campaign"]["conversions"][way], c.true_conversions)
                for c in campaigns]  # fmt: skip
        assert abs(np.mean(hits) - 0.9) < 3 * sd, (way, np.mean(hits))
    roi = [_covered(c.measurement.body["campaign"]["roi"], c.true_roi) for c in campaigns]
    assert abs(np.mean(roi) - 0.9) < 3 * sd, np.mean(roi)
    # per offer: the held-out customers the plan's prices would have offered it
    for offer in ("cashback", "fee_waiver"):
        hits = [_covered(c.measurement.body["by_offer"][offer]["conversions"]["estimate"],
                         c.true_by_offer[offer]) for c in campaigns]  # fmt: skip
        assert abs(np.mean(hits) - 0.9) < 4 * sd, (offer, np.mean(hits))


def test_regression_adjustment_narrows_the_intervals(campaigns) -> None:
    narrower = [c.measurement.body["campaign"]["conversions"]["interval_narrower_by"]
                for c in campaigns]  # fmt: skip
    assert np.median(narrower) > 0.15  # the model's baseline explains part of who converts
    assert min(narrower) > 0.05
    # and the estimate it narrows is still centred: the mean error is within 2 of its se
    errors = [c.measurement.body["campaign"]["conversions"]["adjusted"]["value"]
              - c.true_conversions for c in campaigns]  # fmt: skip
    assert abs(np.mean(errors)) < 2 * np.std(errors) / math.sqrt(len(errors))


def _plan(customers: int = 3_000, holdout: float = 0.3, policy=None):
    camp = synthetic_campaign(customers, seed=11)
    plan = plan_campaign(camp.scores, camp.meta, load_economics(ECONOMICS), budget=2_000.0,
                         value=VALUE, holdout=holdout, policy=policy, seed=1)  # fmt: skip
    return camp, plan


def _outcomes(plan, rng) -> pa.Table:
    ids = plan.table.column("customer_id")
    return pa.table({"customer_id": ids, "converted": rng.integers(0, 2, len(ids))})


def test_bad_inputs_are_refused_or_counted_never_dropped_silently() -> None:
    rng = np.random.default_rng(0)
    _, plan = _plan()
    outcomes = _outcomes(plan, rng)
    doubled = pa.concat_tables([outcomes, outcomes.slice(0, 3)])
    with pytest.raises(DataError, match="more than once"):
        measure_campaign(plan.table, plan.meta, doubled)
    _, unheld = _plan(holdout=0.0)
    with pytest.raises(DataError, match="kept no random holdout"):
        measure_campaign(unheld.table, unheld.meta, _outcomes(unheld, rng))
    strangers = pa.table({"customer_id": [-1, -2], "converted": [1, 0]})
    partial = pa.concat_tables([outcomes.slice(100), strangers])
    body = measure_campaign(plan.table, plan.meta, partial).to_dict()
    assert body["inputs"]["outcomes_not_in_plan"] == 2
    assert body["inputs"]["plan_customers_without_outcome"] == 100
    assert len(body["inputs"]["notes"]) == 2
    # without the scores there is no per-offer split, and the report says why
    assert body["by_offer"] == {} and body["by_offer_note"] == "needs the scores (--scores)"
    with pytest.raises(DataError, match="lack the column 'converted'"):
        measure_campaign(plan.table, plan.meta, outcomes.drop(["converted"]))


def test_the_programme_is_measured_against_the_universal_holdout() -> None:
    from uplift_engine.decide.planning import load_policy

    policy = load_policy({"universal_holdout": {"share": 0.2, "salt": "p"}})
    camp, plan = _plan(policy=policy)
    rng = np.random.default_rng(3)
    body = measure_campaign(plan.table, plan.meta, _outcomes(plan, rng), scores=camp.scores,
                            segment="segment").to_dict()  # fmt: skip
    members = sum(w == "holdout:universal" for w in plan.table.column("excluded_by").to_pylist())
    assert body["inputs"]["universal_holdout"] == members > 400
    assert body["programme"]["conversions"]["held_out"] == members
    assert set(body["by_segment"]) == {"mass", "priority", "young"}
    assert len(body["calibration"]) == 10


def test_the_command_measures_from_files(tmp_path: Path) -> None:
    camp, plan = _plan()
    rng = np.random.default_rng(5)
    write_plan(plan.table, plan.meta, tmp_path / "plan.parquet")
    write_scores(camp.scores, camp.meta, tmp_path / "scores.parquet")
    outcomes = _outcomes(plan, rng).append_column(
        "campaign_id", pa.array(["c1"] * plan.table.num_rows)
    )
    write_table(outcomes, tmp_path / "outcomes.csv")
    args = ["measure", str(tmp_path / "plan.parquet"), str(tmp_path / "outcomes.csv"),
            "--scores", str(tmp_path / "scores.parquet")]  # fmt: skip
    done = CliRunner().invoke(cli, [*args, "--json", "--out", str(tmp_path / "m.json")])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["schema_version"] == "uplift.measurement/1"
    assert set(report["by_offer"]) == {"cashback", "fee_waiver"}
    text = CliRunner().invoke(cli, args).output
    assert "incremental conversions" in text and "ROI" in text
    wrong = CliRunner().invoke(cli, [*args, "--campaign", "c9"])
    assert wrong.exit_code == 2 and "no outcomes of campaign 'c9'" in wrong.output
    bad = CliRunner().invoke(cli, [*args, "--level", "1.5"])
    assert bad.exit_code == 2 and "--level" in bad.output


def test_a_real_time_campaign_is_measured_from_its_decision_log(tmp_path: Path) -> None:
    """The service draws no campaign holdout: the programme against the universal holdout."""
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    from uplift_engine.serve.compact import SCHEMA

    rng = np.random.default_rng(8)
    n = 6_000
    members = rng.random(n) < 0.2
    offered = ~members & (rng.random(n) < 0.5)
    held = json.dumps({"cashback": {"excluded_by": {"kind": "holdout", "name": "universal"}}})
    free = json.dumps({"cashback": {"excluded_by": None}})
    rows = {
        "request_id": [f"r{i}" for i in range(n)],
        "at": [datetime(2026, 12, 7, 9, tzinfo=UTC)] * n,
        "customer_id": [str(i) for i in range(n)],
        "model_version": ["m"] * n, "plan_version": ["p"] * n, "features_sha256": [""] * n,
        "offer": ["cashback" if o else None for o in offered],
        "degraded": [False] * n,
        "offers": [held if m else free for m in members],
        "schema_version": ["uplift.decision/1"] * n, "audit": [None] * n,
        "assignment": [None] * n, "shadow": [None] * n,
    }  # fmt: skip
    day = tmp_path / "lake" / "decisions" / "day=2026-12-07"
    day.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(rows, schema=SCHEMA), day / "part-00000.parquet")
    p = np.where(offered, 0.3, 0.2)
    outcomes = pa.table({"customer_id": np.arange(n), "converted": (rng.random(n) < p).astype(int)})
    write_table(outcomes, tmp_path / "outcomes.parquet")
    _, plan = _plan()
    write_plan(plan.table, plan.meta, tmp_path / "plan.parquet")
    done = CliRunner().invoke(cli, ["measure", str(tmp_path / "plan.parquet"),
                                    str(tmp_path / "outcomes.parquet"), "--decisions",
                                    str(tmp_path / "lake"), "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    body = json.loads(done.output)
    assert body["campaign"] is None and body["by_offer"] == {}
    programme = body["programme"]["conversions"]
    assert programme["held_out"] == int(members.sum())
    truth = 0.1 * offered.sum()  # offers add 10 points for the half of the rest offered
    assert programme["plain"]["low"] <= truth <= programme["plain"]["high"]
