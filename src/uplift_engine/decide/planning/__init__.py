"""Planning a campaign over a scores table: guardrails, holdout, optimiser, plan, frontier.

Scores (docs/design.md's contract) + economics + policy (:func:`load_economics`,
:func:`load_policy`) → guardrails over columns → random holdout → optimiser (at most one offer
per customer, a budget, per-offer and per-segment caps) → a plan (:func:`plan_campaign`,
:func:`write_plan`), with the same figures for top-K by uplift and by propensity; the budget
frontier (:func:`budget_frontier`) solves it across budgets.
"""

from uplift_engine.decide.planning.baselines import top_k
from uplift_engine.decide.planning.campaign import (
    CampaignPlan,
    Prepared,
    plan_campaign,
    prepare_plan,
)
from uplift_engine.decide.planning.columnar_rules import evaluate_columns
from uplift_engine.decide.planning.columns import (
    ColumnSource,
    do_not_contact,
    match_ids,
    read_id_list,
)
from uplift_engine.decide.planning.files import load_economics, load_mapping, load_policy
from uplift_engine.decide.planning.frontier import Frontier, FrontierPoint, budget_frontier
from uplift_engine.decide.planning.guardrails import Effects, Guarded, apply_guardrails
from uplift_engine.decide.planning.holdout import Holdout, draw_holdout
from uplift_engine.decide.planning.plan import (
    PLAN_COLUMNS,
    PLAN_SCHEMA_VERSION,
    plan_table,
    read_plan,
    write_plan,
)
from uplift_engine.decide.planning.summary import Figures, Summary

__all__ = [
    "PLAN_COLUMNS",
    "PLAN_SCHEMA_VERSION",
    "CampaignPlan",
    "ColumnSource",
    "Effects",
    "Figures",
    "Frontier",
    "FrontierPoint",
    "Guarded",
    "Holdout",
    "Prepared",
    "Summary",
    "apply_guardrails",
    "budget_frontier",
    "do_not_contact",
    "draw_holdout",
    "evaluate_columns",
    "load_economics",
    "load_mapping",
    "load_policy",
    "match_ids",
    "plan_campaign",
    "plan_table",
    "prepare_plan",
    "read_id_list",
    "read_plan",
    "top_k",
    "write_plan",
]
