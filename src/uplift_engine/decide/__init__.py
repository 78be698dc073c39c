"""decide layer: do-no-harm guardrails, economics, and deciding one customer.

This face is the request corridor's (NumPy at most): the economics and policy records
(:class:`Economics`, :class:`Policy`), the rule language (:func:`compile_rule`), the guardrails
for one customer (:func:`row_guardrails`) and :class:`Decider`, which applies them with the
prices of a batch plan. Planning a whole campaign over a scores table — the guardrails over
columns, the random holdout, the plan and its files, the budget frontier — is
:mod:`uplift_engine.decide.planning`'s; the optimiser (a MILP on HiGHS, or a certified
Lagrangian) is :mod:`uplift_engine.decide.solver`'s.
"""

from uplift_engine.decide.decider import Assessment, Decider, Decision, OfferAssessment
from uplift_engine.decide.economics import (
    Economics,
    OfferEconomics,
    SegmentShares,
    ShareBounds,
    offer_figures,
)
from uplift_engine.decide.guardrails import (
    DNC,
    HARM,
    PROTECTED,
    reasons,
    row_blocks,
    row_guardrails,
)
from uplift_engine.decide.policy import CompiledPolicy, ContactCap, EligibilityRule, Policy
from uplift_engine.decide.rules import Rule, compile_rule

__all__ = [
    "DNC",
    "HARM",
    "PROTECTED",
    "Assessment",
    "CompiledPolicy",
    "ContactCap",
    "Decider",
    "Decision",
    "Economics",
    "EligibilityRule",
    "OfferAssessment",
    "OfferEconomics",
    "Policy",
    "Rule",
    "SegmentShares",
    "ShareBounds",
    "compile_rule",
    "offer_figures",
    "reasons",
    "row_blocks",
    "row_guardrails",
]
