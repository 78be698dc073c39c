"""A budget held with stated confidence, judged on the simulator's true conversion probabilities.

A T-learner is trained on one simulated bank's campaign; its bundle records the calibration of
its arm levels on cross-fitted rows, which the scores carry to the optimiser. The plans are made
for the customers of another bank of the same simulator (new customers, as a campaign's are).
A plain plan spends the budget in expectation; the plan at 95% confidence must keep the *true*
spend — contact costs plus a redemption cost for each customer who converts under the true
probabilities — within the budget with about that probability (computed exactly from the truth,
normal over thousands of customers), at a stated cost in expected profit.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.config.settings import Settings
from uplift_engine.decide.planning import load_economics, plan_campaign
from uplift_engine.lake import layout, read_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import score_table
from uplift_engine.learn.data.scores_files import write_scores
from uplift_engine.learn.scores import ScoresMeta
from uplift_engine.pipeline.train import TrainOptions, train_bundle

ECONOMICS = {
    "control": "control",
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 25.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 12.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 6.0},
    },
}
VALUE = 80.0


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, ScoresMeta, pa.Table]:
    from uplift_engine.cli.simulate import run_simulation

    root = tmp_path_factory.mktemp("confidence")
    run_simulation(customers=8_000, out=str(root / "lake"), seed=21, quiet=True)
    table = read_table(root / "lake" / "curated" / "campaign_table" / "c2026q4")
    options = TrainOptions(outcome="converted", exclude=("revenue",), learner="t_learner", seed=2)
    train_bundle(table, options, root / "model", Settings())
    run_simulation(customers=8_000, out=str(root / "new"), seed=22, quiet=True)
    customers = read_table(root / "new" / "curated" / "campaign_table" / "c2026q4")
    scores, meta = score_table(load_bundle(root / "model"), customers)
    truth = read_table(root / "new" / layout.TRUTH).sort_by("customer_id")
    return scores, meta, truth


def _true_spend(plan_table: pa.Table, truth: pa.Table) -> NormalDist:
    """The plan's true spend: contacts for sure, redemptions Bernoulli(true p), normal."""
    ids = truth.column("customer_id").to_numpy()
    where = np.searchsorted(ids, plan_table.column("customer_id").to_numpy())
    offers = plan_table.column("offer").to_pylist()
    mean = var = 0.0
    for offer, terms in ECONOMICS["offers"].items():
        rows = np.array([o == offer for o in offers])
        p = truth.column(layout.truth_column("converted", offer)).to_numpy()[where[rows]]
        cost = terms["redemption_cost"]
        mean += rows.sum() * terms["contact_cost"] + cost * p.sum()
        var += cost**2 * (p * (1 - p)).sum()
    return NormalDist(mean, var**0.5)


def test_the_true_spend_stays_within_the_budget_at_the_stated_confidence(scored) -> None:
    scores, meta, truth = scored
    calibration = meta.model["level_calibration"]
    assert calibration["evaluation"] == "cross_fitted"  # type: ignore[index]
    assert set(calibration["arms"]) == {"control", *ECONOMICS["offers"]}  # type: ignore[index]
    economics = load_economics(ECONOMICS)
    budget = 3_000.0
    plain = plan_campaign(scores, meta, economics, budget=budget, value=VALUE, seed=1)
    held = plan_campaign(
        scores, meta, economics, budget=budget, value=VALUE, seed=1, budget_confidence=0.95
    )
    record = held.meta["budget_confidence"]
    assert plain.meta["budget_confidence"] is None
    assert plain.summary.plan.spend == pytest.approx(budget, rel=0.01)  # all of it, expected
    true = _true_spend(held.table, truth)
    assert 1 - true.cdf(budget) < 0.05  # the true spend overshoots with probability < 5%
    # the calibration by predicted effect corrects most of what the model's levels are off by
    # on the customers a plan takes (where they run high): nearer the truth than the model
    assert abs(record["corrected_expected_spend"] - true.mean) < 0.5 * abs(
        record["expected_spend"] - true.mean
    )
    assert record["spend_upper"] <= budget < record["plain_spend_upper"]
    assert 0 < record["optimiser_budget"] < budget and record["headroom"] > 0
    assert 0 < record["expected_profit_given_up"] < 0.1 * plain.summary.plan.profit
    assert record["model_error"] == "level calibration of cross_fitted rows"
    assert held.summary.plan.spend == pytest.approx(record["optimiser_budget"], rel=0.01)


def test_without_calibration_the_response_variance_alone_is_held(scored) -> None:
    scores, meta, _ = scored
    bare = ScoresMeta(**{**vars(meta), "model": {}})
    held = plan_campaign(
        scores, bare, load_economics(ECONOMICS), budget=3_000.0, value=VALUE,
        budget_confidence=0.95,
    )  # fmt: skip
    record = held.meta["budget_confidence"]
    assert record["model_error"].startswith("not accounted")
    assert record["corrected_expected_spend"] == record["expected_spend"]
    assert record["spend_upper"] <= 3_000.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-confidence", "1.2"], "--budget-confidence must be in [0.5, 1), got 1.2"),
        (["--budget-confidence", "0.3"], "--budget-confidence must be in [0.5, 1), got 0.3"),
    ],
)
def test_a_bad_confidence_is_refused_naming_the_option(
    scored, tmp_path: Path, args: list[str], message: str
) -> None:
    scores, meta, _ = scored
    path = tmp_path / "scores.parquet"
    write_scores(scores, meta, path)
    (tmp_path / "economics.json").write_text(json.dumps(ECONOMICS))
    result = CliRunner().invoke(
        app,
        ["optimize", str(path), "--economics", str(tmp_path / "economics.json"), "--budget",
         "3000", "--value", "80", "--out", str(tmp_path / "plan.csv"), *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "plan.csv").exists()
