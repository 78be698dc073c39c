"""The optimiser: at most one offer per customer, the most expected profit within the limits.

A :class:`Problem` (profit, cost and lift per customer and offer, a budget, caps and segment
shares) is solved exactly as a MILP on HiGHS (:mod:`.milp`) or, for large populations, by a
certified Lagrangian method whose dual bound proves the gap (:mod:`.lagrangian`);
:func:`solve` picks between them.
"""

from uplift_engine.decide.solver.optimizer import METHODS, solve
from uplift_engine.decide.solver.problem import NONE, Problem, Solution, chosen

__all__ = ["METHODS", "NONE", "Problem", "Solution", "chosen", "solve"]
