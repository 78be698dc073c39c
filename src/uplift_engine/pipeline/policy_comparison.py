"""Two plans valued on a randomised campaign had each been run, and their paired difference.

The question a champion/challenger gate, a campaign review and the dashboard ask: on the
customers of a randomised campaign (a campaign table: features as of assignment, the arm drawn,
the outcome), what would plan A have earned, what would plan B, and is A better than B? Each
plan gives every customer an arm (its ``offer``, control where empty; a customer the plan does
not list gets control, counted). The outcome models are a T-learner's, cross-fitted on the
table's folds (a row's model never saw it), the propensities the campaign's arm shares (or its
propensity column) — so the values are doubly robust
(:mod:`uplift_engine.evaluate.doubly_robust`): unbiased whatever the models, the models only
narrowing the intervals. With economics and a value the values are profit per customer
(the value of a conversion less the offer's contact and redemption costs), else the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.config.settings import Settings
from uplift_engine.decide.economics import Economics, offer_figures
from uplift_engine.errors import DataError
from uplift_engine.evaluate.budget_curve import CurvePoint, budget_curve
from uplift_engine.evaluate.cross_fit import cross_fitted_predictions
from uplift_engine.evaluate.doubly_robust import (
    PolicyComparison,
    compare,
    doubly_robust_scores,
    profit_scores,
)
from uplift_engine.learn.data import CampaignData, encode_campaign, stratified_folds
from uplift_engine.learn.data.scoring import score_table
from uplift_engine.learn.scores import pred_column
from uplift_engine.learn.training import LEARNERS, BoosterParams
from uplift_engine.pipeline.train import TrainOptions, campaign_roles


@dataclass(frozen=True)
class PlansCompared:
    """The comparison, the unit it is in and what the inputs left out."""

    comparison: PolicyComparison
    unit: str
    customers: int
    unlisted: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **self.comparison.to_dict(),
            "unit": self.unit,
            "customers": self.customers,
            "customers_not_in_plan": self.unlisted,
        }


def plan_arms(
    plan: pa.Table, id_column: str, ids: pa.Array, arm_names: list[str]
) -> tuple[np.ndarray, int]:
    """Each campaign customer's arm code under ``plan``, and how many the plan does not list.

    An empty offer and a customer the plan does not list are control.
    """
    where = pc.index_in(ids.cast(pa.string()), value_set=plan.column(id_column).cast(pa.string()))
    offers = pc.fill_null(plan.column("offer").cast(pa.string()), "").to_pylist()
    codes = {name: k for k, name in enumerate(arm_names)}
    out = np.zeros(len(ids), dtype=np.int64)
    for i, j in enumerate(where.to_pylist()):
        if j is None or not offers[j]:
            continue
        if offers[j] not in codes:
            raise DataError(
                f"the plan's offer {offers[j]!r} is not an arm of the campaign "
                f"({', '.join(arm_names)})",
                field="offer",
            )
        out[i] = codes[offers[j]]
    return out, int(where.null_count)


def campaign_scores(
    table: pa.Table,
    options: TrainOptions,
    settings: Settings,
    *,
    economics: Mapping[str, Any] | None = None,
    value: float | None = None,
    folds: int = 5,
) -> tuple[CampaignData, np.ndarray, str]:
    """The encoded campaign, every customer's doubly robust score under every arm, its unit.

    Outcome models: a T-learner cross-fitted on ``folds`` stratified folds; with ``economics``
    and ``value``, the scores are profit (the conversion's value less the offer's costs).
    """
    roles, control, _ = campaign_roles(table, options)
    data = encode_campaign(table, roles, control, options.arm_map)
    params = BoosterParams(threads=settings.threads)

    def make() -> Any:
        return LEARNERS["t_learner"](params=params, seed=options.seed)

    fold = stratified_folds(data.treatment, folds, options.seed)
    _, levels = cross_fitted_predictions(data, make, fold)
    gamma = doubly_robust_scores(data.y, data.treatment, levels, data.propensity_matrix())
    if economics is None or value is None:
        return data, gamma, "outcome per customer"
    names = list(data.arms.names)
    offers = economics["offers"]
    missing = [o for o in names[1:] if o not in offers]
    if missing:
        raise DataError(
            f"the economics have no costs for the campaign's arm {missing[0]!r}", field="economics"
        )
    contact = np.array([0.0] + [offers[o]["contact_cost"] for o in names[1:]])
    redemption = np.array([0.0] + [offers[o].get("redemption_cost") or 0.0 for o in names[1:]])
    return data, profit_scores(gamma, value, contact, redemption), "profit per customer"


def compare_plans(
    table: pa.Table,
    options: TrainOptions,
    plans: tuple[tuple[pa.Table, str], tuple[pa.Table, str]],
    settings: Settings,
    *,
    economics: Mapping[str, Any] | None = None,
    value: float | None = None,
    folds: int = 5,
    level: float = 0.9,
) -> PlansCompared:
    """Plans A and B (each a plan table and its id column) valued on ``table`` and compared."""
    data, gamma, unit = campaign_scores(
        table, options, settings, economics=economics, value=value, folds=folds
    )
    names = list(data.arms.names)
    ids = data.ids.combine_chunks() if isinstance(data.ids, pa.ChunkedArray) else data.ids
    (plan_a, id_a), (plan_b, id_b) = plans
    arms_a, left_a = plan_arms(plan_a, id_a, ids, names)
    arms_b, left_b = plan_arms(plan_b, id_b, ids, names)
    return PlansCompared(
        compare(gamma, arms_a, arms_b, level), unit, len(data.y), {"a": left_a, "b": left_b}
    )


def model_budget_curve(
    table: pa.Table,
    options: TrainOptions,
    settings: Settings,
    bundle: Any,
    economics: Economics,
    value: float,
    *,
    baseline: Any | None = None,
    points: int = 21,
    level: float = 0.9,
) -> tuple[list[CurvePoint], str]:
    """A model's multi-offer Qini curve over budget on a randomised campaign, and its unit.

    The allocation at each budget is the one the model's predicted profits and costs give
    (:mod:`uplift_engine.evaluate.budget_curve`), valued with the campaign's doubly robust
    profit scores; ``baseline``, another bundle, is compared at each budget, paired.
    """
    economics_map = asdict(economics)
    data, gamma, unit = campaign_scores(
        table, options, settings, economics=economics_map, value=value
    )
    names = list(data.arms.names)

    def predicted(model: Any) -> tuple[np.ndarray, np.ndarray]:
        if list(model.arms) != names:
            raise DataError(
                f"the model's arms {list(model.arms)} are not the campaign's {names}",
                field="model",
            )
        scores, _ = score_table(model, table)
        base = scores.column(pred_column(names[0])).to_numpy(zero_copy_only=False)
        kind = economics.outcome_kind(data.outcome_kind)
        reward = np.empty((len(base), len(names) - 1))
        cost = np.empty_like(reward)
        for j, offer in enumerate(names[1:]):
            level_k = scores.column(pred_column(offer)).to_numpy(zero_copy_only=False)
            reward[:, j], cost[:, j] = offer_figures(economics, kind, offer, level_k, base, value)
        return reward, cost

    reward, cost = predicted(bundle)
    other = None if baseline is None else predicted(baseline)
    return budget_curve(reward, cost, gamma, points=points, baseline=other, level=level), unit
