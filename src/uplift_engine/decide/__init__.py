"""Decide: do-no-harm guardrails and the budget-optimal multi-offer allocation.

Scores (docs/design.md's contract) + economics + policy → guardrails → random holdout → optimiser
(at most one offer per customer, a budget, per-offer and per-segment caps) → a plan, with the
same figures for top-K by uplift and by propensity; :class:`Decider` does it for one customer.
"""

from uplift_engine.decide.campaign import CampaignPlan, Prepared, plan_campaign, prepare_campaign
from uplift_engine.decide.columns import ColumnSource, read_id_list
from uplift_engine.decide.decider import Decider, Decision
from uplift_engine.decide.economics import Economics, load_economics, offer_figures
from uplift_engine.decide.expressions import Rule, compile_rule
from uplift_engine.decide.frontier import Frontier, FrontierPoint, budget_frontier
from uplift_engine.decide.guardrails import Effects, Guarded, apply_guardrails, row_guardrails
from uplift_engine.decide.holdout import Holdout, draw_holdout
from uplift_engine.decide.optimizer import solve
from uplift_engine.decide.plan import PLAN_SCHEMA_VERSION, plan_table, read_plan, write_plan
from uplift_engine.decide.policy import CompiledPolicy, Policy, load_policy
from uplift_engine.decide.problem import Problem, Solution
from uplift_engine.decide.summary import Figures, Summary

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "CampaignPlan",
    "ColumnSource",
    "CompiledPolicy",
    "Decider",
    "Decision",
    "Economics",
    "Effects",
    "Figures",
    "Frontier",
    "FrontierPoint",
    "Guarded",
    "Holdout",
    "Policy",
    "Prepared",
    "Problem",
    "Rule",
    "Solution",
    "Summary",
    "apply_guardrails",
    "budget_frontier",
    "compile_rule",
    "draw_holdout",
    "load_economics",
    "load_policy",
    "offer_figures",
    "plan_campaign",
    "plan_table",
    "prepare_campaign",
    "read_id_list",
    "read_plan",
    "row_guardrails",
    "solve",
    "write_plan",
]
