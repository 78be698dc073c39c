"""A plan played forward on the simulator's truth: realised outcomes and true figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from uplift_engine.decide.planning import load_economics
from uplift_engine.errors import DataError
from uplift_engine.lake import layout, read_table
from uplift_engine.simulate import run_plan

ECONOMICS = load_economics({
    "control": "control",
    "offers": {"cashback": {"contact_cost": 0.5, "redemption_cost": 10.0},
               "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0}},
})  # fmt: skip


@pytest.fixture(scope="module")
def truth(lake: Path) -> pa.Table:
    table = read_table(lake / layout.TRUTH)
    return table.filter(pc.equal(table.column("campaign_id"), "c2026q4"))


def test_outcomes_follow_the_truth_and_the_figures_are_exact(truth: pa.Table) -> None:
    ids = truth.column("customer_id").to_numpy()[:20_000]
    offers = np.where(np.arange(ids.size) % 3 == 0, "cashback",
                      np.where(np.arange(ids.size) % 3 == 1, "fee_waiver", ""))  # fmt: skip
    plan = pa.table({"customer_id": ids, "offer": offers})
    played = run_plan(plan, truth, ECONOMICS, value=40.0, seed=3)
    p = {arm: truth.column(layout.truth_column("converted", arm)).to_numpy()[:20_000]
         for arm in ("control", "cashback", "fee_waiver")}  # fmt: skip
    got = played.outcomes.column("converted").to_numpy()
    for arm, label in (("cashback", "cashback"), ("fee_waiver", "fee_waiver"), ("control", "")):
        rows = offers == label
        expected, sd = p[arm][rows].sum(), np.sqrt((p[arm][rows] * (1 - p[arm][rows])).sum())
        assert abs(got[rows].sum() - expected) < 4 * sd, arm  # the draw follows the truth
    cash = offers == "cashback"
    profit = (p["cashback"][cash] * (40 - 10) - p["control"][cash] * 40 - 0.5).sum()
    assert played.by_offer["cashback"]["true_profit"] == pytest.approx(profit)
    fee = offers == "fee_waiver"
    spend = (0.5 + 10 * p["cashback"][cash]).sum() + (0.3 + 4 * p["fee_waiver"][fee]).sum()
    assert played.true_spend == pytest.approx(spend)
    cost = played.outcomes.column("cost").to_numpy()
    assert played.realised_spend == pytest.approx(cost.sum())
    assert (cost[offers == ""] == 0).all() and played.offered == int((offers != "").sum())
    # common random numbers: another plan differing in one customer differs only there
    other = offers.copy()
    other[5] = "cashback" if other[5] != "cashback" else ""
    again = run_plan(pa.table({"customer_id": ids[::-1], "offer": other[::-1]}), truth,
                     ECONOMICS, value=40.0, seed=3)  # fmt: skip
    back = again.outcomes.column("converted").to_numpy()[::-1]
    same = np.arange(ids.size) != 5
    assert (back[same] == got[same]).all()


def test_a_plan_that_does_not_fit_the_truth_is_refused_naming_it(truth: pa.Table) -> None:
    ids = truth.column("customer_id").to_numpy()[:3]
    with pytest.raises(DataError, match="not in the truth dataset"):
        run_plan(pa.table({"customer_id": [*ids, -1], "offer": ["", "", "", ""]}), truth,
                 ECONOMICS, value=40.0)  # fmt: skip
    with pytest.raises(DataError, match="'loan' is not in the economics"):
        run_plan(pa.table({"customer_id": ids, "offer": ["loan", "", ""]}), truth, ECONOMICS,
                 value=40.0)  # fmt: skip
    with pytest.raises(DataError, match="lacks its 'offer' column"):
        run_plan(pa.table({"customer_id": ids}), truth, ECONOMICS, value=40.0)
