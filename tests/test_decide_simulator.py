"""The decide layer on the real simulator: simulate → train → score → optimise → true profit."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from uplift_engine.cli.main import app
from uplift_engine.decide.planning import load_economics, plan_campaign
from uplift_engine.decide.planning.baselines import top_k
from uplift_engine.evaluate.truth_table import truth_matrix
from uplift_engine.lake import read_table
from uplift_engine.learn.data.scores_files import read_scores

pytestmark = pytest.mark.slow
VALUE = 40.0
ECONOMICS = {
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 10.0, "max_customers": 3000},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 2.0},
    }
}


@pytest.fixture(scope="module")
def scored(campaign_table, lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("decide_sim")
    runner = CliRunner()
    train = [
        "train",
        campaign_table,
        "--treatment",
        "arm",
        "--control",
        "control",
        "--outcome",
        "converted",
        "--exclude",
        "revenue",
        "--learner",
        "t_learner",
        "--out",
        root / "model",
    ]
    done = runner.invoke(app, [str(a) for a in train], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    score = ["score", root / "model", campaign_table, "--out", root / "scores.parquet"]
    done = runner.invoke(app, [str(a) for a in score], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    table, meta = read_scores(root / "scores.parquet")
    truth = truth_matrix(
        table.column(meta.id_column),
        meta.id_column,
        read_table(lake / "truth" / "campaign_truth"),
        "converted",
        meta.arms,
    )
    return table, meta, truth


@pytest.mark.parametrize("budget", [2_000.0, 5_000.0], ids=["small-budget", "larger-budget"])
def test_plan_beats_top_k_on_the_simulators_true_profit(scored, budget):
    table, meta, truth = scored
    economics = load_economics(ECONOMICS)
    plan = plan_campaign(table, meta, economics, budget=budget, value=VALUE, seed=1)
    prep = plan.prepared

    def true_profit(choice: np.ndarray) -> float:
        total = 0.0
        for j, offer in enumerate(prep.offers):
            mine = choice == j
            arm, terms = meta.arms.index(offer), economics.offers[offer]
            p_k, p_0 = truth[mine, arm], truth[mine, meta.arms.index(meta.control)]
            total += float(
                np.sum(
                    p_k * (VALUE - (terms.redemption_cost or 0.0))
                    - p_0 * VALUE
                    - terms.contact_cost
                )
            )
        return total

    mine = true_profit(plan.solution.choice)
    assert mine > true_profit(top_k(prep.problem, prep.lift))
    assert mine > true_profit(top_k(prep.problem, prep.propensity))
    assert plan.summary.plan.spend <= budget * (1 + 1e-9)
    assert (plan.solution.choice == prep.offers.index("cashback")).sum() <= 3000
    assert plan.solution.gap <= 1e-4
