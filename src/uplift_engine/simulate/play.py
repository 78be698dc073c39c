"""A plan, or a stream of decisions, played forward on the simulator's ground truth.

``run_plan(plan, truth, economics, value=…)`` takes who got which offer (a plan's or a
decisions file's ``offer`` column, empty or null for none) and the truth dataset of the campaign
whose customers they are (``LAKE/truth/campaign_truth``: each customer's true conversion
probability and expected revenue under every arm), and returns

* each customer's realised outcome — converted or not (drawn from the true probability under the
  arm they got, control when no offer), revenue (a converter's mean revenue under that arm) and
  cost (the contact cost of an offer made, plus the redemption cost of a conversion or the
  revenue given back) — in the shape of ``raw/campaign_outcomes`` plus ``arm`` and ``cost``;
* the campaign's figures: true expected spend and incremental profit (from the probabilities,
  no draw), realised spend and conversions (the draw), and the true profit of each offer.

Invariant: a customer's draw depends only on the seed and their id, not on the plan's order or
who else is in it, so two plans played with one seed differ only where they decide differently
(common random numbers: their difference is measured, not sampled). The Measurement, Pipeline
and Dashboard issues reuse it to judge plans against the truth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError
from uplift_engine.lake import layout


class OfferCosts(Protocol):
    """What an offer costs (the economics file's offer; the decide layer's record fits)."""

    @property
    def contact_cost(self) -> float:
        """Paid for every customer who gets the offer."""
        ...

    @property
    def redemption_cost(self) -> float | None:
        """Binary outcome: paid for every conversion under the offer."""
        ...

    @property
    def cost_rate(self) -> float | None:
        """Continuous outcome: the share of revenue given back."""
        ...


class CampaignEconomics(Protocol):
    """The economics a plan is played with.

    The decide layer's ``Economics`` fits; the simulator sits below that layer, so it names
    only what it reads.
    """

    @property
    def offers(self) -> Mapping[str, OfferCosts]:
        """Each offer's costs by name."""
        ...

    @property
    def control(self) -> str | None:
        """The control arm's name."""
        ...

    @property
    def margin_rate(self) -> float | None:
        """Continuous outcome: the share of revenue that is profit."""
        ...


@dataclass(frozen=True)
class PlayedPlan:
    """The outcomes of a plan played on the truth, and its figures."""

    outcomes: pa.Table
    true_spend: float
    true_profit: float
    realised_spend: float
    realised_conversions: int
    offered: int
    by_offer: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The figures as plain JSON-ready values."""
        return {
            "offered": self.offered,
            "true_spend": self.true_spend,
            "true_profit": self.true_profit,
            "realised_spend": self.realised_spend,
            "realised_conversions": self.realised_conversions,
            "by_offer": self.by_offer,
        }


def uniform_by_id(ids: pa.Array, seed: int) -> np.ndarray:
    """A uniform draw in [0, 1) per customer, fixed by the seed and the id's text alone."""
    salt = seed.to_bytes(8, "little", signed=True)
    out = np.empty(len(ids))
    for i, value in enumerate(ids.to_pylist()):
        digest = hashlib.blake2b(str(value).encode(), digest_size=8, key=salt).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def run_plan(
    plan: pa.Table,
    truth: pa.Table,
    economics: CampaignEconomics,
    *,
    value: float | None = None,
    id_column: str = "customer_id",
    control: str | None = None,
    seed: int = 0,
) -> PlayedPlan:
    """Play ``plan`` (id and ``offer``) forward on ``truth`` (see the module docstring).

    ``value``: the worth of a conversion (binary outcome); without it the incremental profit is
    the margin on revenue (continuous outcome, ``economics.margin_rate``).
    """
    control = control or economics.control or "control"
    for name in (id_column, "offer"):
        if name not in plan.column_names:
            raise DataError(f"the plan lacks its {name!r} column", field=name)
    ids = plan.column(id_column).combine_chunks()
    offers = pc.fill_null(plan.column("offer").cast(pa.string()), "").to_numpy(zero_copy_only=False)
    truth_ids = truth.column("customer_id").combine_chunks()
    index = pc.index_in(ids.cast(truth_ids.type), value_set=truth_ids)
    if index.null_count:
        first = ids.filter(pc.is_null(index))[0].as_py()
        raise DataError(
            f"customer {first!r} of the plan is not in the truth dataset (another campaign's?)",
            field=id_column,
        )
    where = index.to_numpy(zero_copy_only=False).astype(np.int64)
    arms = [control, *economics.offers]
    unknown = sorted(set(offers) - set(economics.offers) - {""})
    if unknown:
        raise DataError(f"the plan's offer {unknown[0]!r} is not in the economics", field="offer")

    def truth_of(kind: str, arm: str) -> np.ndarray:
        name = layout.truth_column(kind, arm)
        if name not in truth.column_names:
            raise DataError(f"the truth dataset has no {name!r} (arms: {arms})", field=name)
        return truth.column(name).to_numpy()[where]

    p0, r0 = truth_of("converted", control), truth_of("revenue", control)
    draw = uniform_by_id(ids, seed)
    n = len(ids)
    arm = np.where(offers == "", control, offers)
    converted = np.zeros(n, dtype=np.int8)
    revenue = np.zeros(n)
    cost = np.zeros(n)
    p = p0.copy()
    mean_revenue = np.divide(r0, p0, out=np.zeros(n), where=p0 > 0)
    by_offer: dict[str, dict[str, float]] = {}
    true_spend = true_profit = 0.0
    for name, terms in economics.offers.items():
        rows = offers == name
        if not rows.any():
            continue
        pk, rk = truth_of("converted", name)[rows], truth_of("revenue", name)[rows]
        p[rows] = pk
        mean_revenue[rows] = np.divide(rk, pk, out=np.zeros(pk.size), where=pk > 0)
        if value is not None:  # binary: a conversion is worth `value`, redemption paid on it
            red = terms.redemption_cost or 0.0
            spend = terms.contact_cost + red * pk
            profit = pk * (value - red) - p0[rows] * value - terms.contact_cost
        else:
            rate, margin = terms.cost_rate or 0.0, economics.margin_rate or 0.0
            spend = terms.contact_cost + rate * rk
            profit = margin * (rk - r0[rows]) - rate * rk - terms.contact_cost
        by_offer[name] = {
            "customers": int(rows.sum()),
            "true_spend": float(spend.sum()),
            "true_profit": float(profit.sum()),
        }
        true_spend += float(spend.sum())
        true_profit += float(profit.sum())
    converted = (draw < p).astype(np.int8)
    revenue = np.where(converted == 1, mean_revenue, 0.0)
    for name, terms in economics.offers.items():
        rows = offers == name
        if value is not None:
            cost[rows] = terms.contact_cost + (terms.redemption_cost or 0.0) * converted[rows]
        else:
            cost[rows] = terms.contact_cost + (terms.cost_rate or 0.0) * revenue[rows]
    outcomes = pa.table(
        {
            id_column: ids,
            "arm": pa.array(arm, pa.string()),
            "converted": pa.array(converted, pa.int8()),
            "revenue": pa.array(revenue, pa.float64()),
            "cost": pa.array(cost, pa.float64()),
        }
    )
    offered = int((offers != "").sum())
    return PlayedPlan(
        outcomes,
        true_spend,
        true_profit,
        float(cost.sum()),
        int(converted[offers != ""].sum()),
        offered,
        by_offer,
    )
