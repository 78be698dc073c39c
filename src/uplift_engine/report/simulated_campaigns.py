"""Campaigns run on a known truth: a plan made, played, and measured — to check the measurement.

One simulated campaign: a scored population with known true conversion probabilities under
every arm (:func:`~uplift_engine.decide.planning.synthetic.synthetic_campaign`), a plan with a
random holdout (:func:`~uplift_engine.decide.planning.plan_campaign`), its outcomes drawn from
the truth (:func:`~uplift_engine.simulate.run_plan`), and the campaign measured from the plan and
the outcomes alone (:func:`~uplift_engine.report.campaign_measurement.measure_campaign`) — next
to what the truth says the campaign added: ``Σ (p_arm − p_control)`` over the customers the plan
could treat and did not hold out, offered or not. The tests check the intervals' coverage on a
few dozen such campaigns; ``benchmarks/measurement.py`` on hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from uplift_engine.decide.planning import load_economics, plan_campaign
from uplift_engine.decide.planning.synthetic import synthetic_campaign
from uplift_engine.lake import layout
from uplift_engine.report.campaign_measurement import Measurement, measure_campaign
from uplift_engine.simulate import run_plan

VALUE = 60.0
ECONOMICS = {
    "control": "none",
    "offers": {
        "cashback": {"contact_cost": 1.0, "redemption_cost": 15.0},
        "fee_waiver": {"contact_cost": 0.5, "redemption_cost": 5.0},
    },
}


@dataclass(frozen=True)
class MeasuredCampaign:
    """A campaign's measurement and the truth it estimates."""

    measurement: Measurement
    true_conversions: float
    """Expected incremental conversions over the treatable, not held-out customers."""
    true_by_offer: dict[str, float]
    cost: float

    @property
    def true_roi(self) -> float:
        """(value of the true incremental conversions − the realised cost) / that cost."""
        return (VALUE * self.true_conversions - self.cost) / self.cost


def measured_campaign(
    seed: int, customers: int = 5_000, *, holdout: float = 0.3, level: float = 0.9
) -> MeasuredCampaign:
    """One simulated campaign: planned, played on the truth and measured (see the docstring)."""
    economics = load_economics(ECONOMICS)
    camp = synthetic_campaign(customers, seed=seed, noise=0.03)
    plan = plan_campaign(camp.scores, camp.meta, economics, budget=0.8 * customers, value=VALUE,
                         holdout=holdout, seed=seed)  # fmt: skip
    arms = ["none", *camp.offers]
    truth = pa.table(
        {"customer_id": camp.scores.column("customer_id")}
        | {layout.truth_column("converted", a): camp.truth[i] for i, a in enumerate(arms)}
        | {layout.truth_column("revenue", a): camp.truth[i] * VALUE for i, a in enumerate(arms)}
    )
    played = run_plan(plan.table, truth, economics, value=VALUE, seed=seed + 7)
    measured = measure_campaign(plan.table, plan.meta, played.outcomes, scores=camp.scores,
                                level=level, seed=seed)  # fmt: skip
    offers = plan.table.column("offer").to_pylist()
    held = np.asarray(plan.table.column("holdout").to_pylist(), bool)
    treatable = np.array([w == "" for w in plan.table.column("excluded_by").to_pylist()])
    policy = treatable & ~held
    arm = np.array([arms.index(o) if o else 0 for o in offers])
    lift = camp.truth[arm, np.arange(customers)] - camp.truth[0]
    by_offer = {o: float(lift[policy & (arm == k)].sum()) for k, o in enumerate(arms) if k}
    return MeasuredCampaign(
        measured, float(lift[policy].sum()), by_offer, measured.body["campaign"]["cost"]
    )
