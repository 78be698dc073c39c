"""An evaluation report in a few plain sentences, for the CLI and the marketer.

Invariant: every sentence is built from numbers already in the :class:`UpliftReport`; nothing
is recomputed here. Binary outcomes are spoken of as conversion rates in percentage points,
continuous ones as outcome per customer.
"""

from __future__ import annotations

import math

from uplift_engine.evaluate.estimate import Estimate
from uplift_engine.evaluate.report import UpliftReport


def _amount(value: float, binary: bool) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{100 * value:+.2f} pts" if binary else f"{value:+,.4g}"


def _interval(e: Estimate, binary: bool) -> str:
    if not (math.isfinite(e.low) and math.isfinite(e.high)):
        return ""
    if binary:
        return f" (95% CI {100 * e.low:+.2f} to {100 * e.high:+.2f})"
    return f" (95% CI {e.low:+,.4g} to {e.high:+,.4g})"


def summarize(report: UpliftReport) -> list[str]:
    """A few sentences on what the model finds and what its targeting is worth."""
    binary = report.outcome_kind == "binary"
    unit = "conversion rate" if binary else "outcome per customer"
    lines = []
    for name, offer in report.per_offer.items():
        q = offer.qini_coefficient
        ci = (
            f" (95% CI {q.low:.3f} to {q.high:.3f})"
            if math.isfinite(q.low) and math.isfinite(q.high)
            else ""
        )
        top = min(offer.uplift_at_k) if offer.uplift_at_k else None
        line = (
            f"Offer {name!r}: on average it changes the {unit} by "
            f"{_amount(offer.observed_uplift.value, binary)}"
            f"{_interval(offer.observed_uplift, binary)}. Qini coefficient {q.value:.3f}{ci}"
        )
        if top is not None:
            e = offer.uplift_at_k[top]
            line += (
                f"; among the top {top:.0%} by predicted uplift it changes it by "
                f"{_amount(e.value, binary)}{_interval(e, binary)}"
            )
        lines.append(line + ".")
    policy = report.policy
    targeted = 1 - policy.share.get("control", 0.0)
    split = ", ".join(f"{k} {v:.0%}" for k, v in policy.share.items() if k != "control")
    lines.append(
        f"Targeting each customer with the offer of largest positive predicted uplift reaches "
        f"{targeted:.0%} of customers ({split}) and changes the {unit} by "
        f"{_amount(policy.gain_over_none.value, binary)}"
        f"{_interval(policy.gain_over_none, binary)} compared with no offer."
    )
    if policy.truth is not None and math.isfinite(policy.truth.fraction_of_oracle_gain):
        share = policy.truth.fraction_of_oracle_gain
        lines.append(
            f"Against the true effects, this targeting gets {share:.0%} of the gain of a "
            "perfect (oracle) targeting."
        )
    return lines
