"""Bounds on the numbers a user gives: amounts, budgets and outcomes stay in a sane range.

An amount of money or an outcome beyond :data:`MAX_AMOUNT` (10^15: more than the yearly GDP of
Vietnam in VND, and far more than any campaign's budget in any currency) is a unit mistake or a
broken file, not a campaign; accepting it would overflow the statistics (squares of 1e300 are
infinite) and print 300-digit figures. Every boundary checks with :func:`check_amount`.
"""

from __future__ import annotations

import math

from uplift_engine.errors import UserInputError

MAX_AMOUNT = 1e15


def check_amount(
    value: float, what: str, *, field: str, positive: bool = False, allow_zero: bool = True
) -> float:
    """``value`` when it is a finite number within ±:data:`MAX_AMOUNT`; else a clear error.

    ``positive``: it must also be > 0 (``allow_zero=False``) or ≥ 0.
    """
    if not math.isfinite(value):
        raise UserInputError(f"{what} must be a finite number, got {value}", field=field)
    if abs(value) > MAX_AMOUNT:
        raise UserInputError(
            f"{what} is {value:.3g}, beyond {MAX_AMOUNT:.0e}: check the unit", field=field
        )
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        bound = "≥ 0" if allow_zero else "> 0"
        raise UserInputError(f"{what} must be {bound}, got {value:g}", field=field)
    return value
