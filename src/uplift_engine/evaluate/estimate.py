"""A number with its interval, and how it is written to JSON.

Invariant: an undefined number (no rows to estimate it from, a zero denominator) is ``NaN`` in
memory and ``null`` in JSON — never a made-up 0. ``low``/``high`` are NaN when no interval was
computed (e.g. ``n_boot=0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

NAN = float("nan")


def json_number(value: float) -> float | None:
    """``value`` as a JSON-safe number: NaN and infinities become ``None``."""
    value = float(value)
    return value if math.isfinite(value) else None


def z_value(level: float) -> float:
    """The two-sided standard-normal quantile for a ``level`` interval (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided interval (``low``, ``high``)."""

    value: float
    low: float = NAN
    high: float = NAN

    @classmethod
    def normal(cls, value: float, se: float, level: float) -> Estimate:
        """``value ± z·se`` (a normal-approximation interval); NaN bounds when se is NaN."""
        if not (math.isfinite(value) and math.isfinite(se)):
            return cls(float(value))
        half = z_value(level) * se
        return cls(float(value), float(value - half), float(value + half))

    def covers(self, target: float) -> bool:
        """Whether the interval contains ``target`` (False when it has no bounds)."""
        return bool(self.low <= target <= self.high)

    def to_dict(self) -> dict[str, float | None]:
        """``{"value", "low", "high"}`` with ``None`` for undefined numbers."""
        return {
            "value": json_number(self.value),
            "low": json_number(self.low),
            "high": json_number(self.high),
        }
