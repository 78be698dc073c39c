"""The campaign's economics: what each offer costs and what a conversion or revenue is worth.

Invariant: every figure is an *expectation per customer*, computed from the scores'
``pred_<arm>`` columns, and the same formulas serve a whole table (NumPy arrays) and a single
customer (floats):

- binary outcome (conversion), value ``v`` per conversion, ``p_k`` / ``p_0`` under offer /
  control (clipped to [0, 1]):
  cost = ``contact_cost + redemption_cost · p_k``;
  profit = ``p_k · (v − redemption_cost) − p_0 · v − contact_cost``;
- continuous outcome (revenue ``r``), campaign ``margin_rate``:
  cost = ``contact_cost + cost_rate · max(r_k, 0)``;
  profit = ``margin_rate · (r_k − r_0) − cost_rate · max(r_k, 0) − contact_cost``.

The budget constrains the expected cost; profit is *incremental* (against no offer).

The economics are records (:mod:`uplift_engine.config.records`): declared once here, validated
from a file by :func:`uplift_engine.decide.planning.load_economics`, rebuilt from a plan's
metadata on the request corridor (NumPy at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import numpy as np
from annotated_types import Ge, Le, MinLen

from uplift_engine.config.records import STRICT
from uplift_engine.decide.pacing import PacingSettings
from uplift_engine.errors import ConfigError
from uplift_engine.learn.scores import arm_name
from uplift_engine.limits import MAX_AMOUNT

ArrayOrFloat = TypeVar("ArrayOrFloat", np.ndarray, float)
Amount = Annotated[float, Ge(0), Le(MAX_AMOUNT)]
"""Money: a finite number from 0 to :data:`~uplift_engine.limits.MAX_AMOUNT`."""
Share = Annotated[float, Ge(0), Le(1)]


@dataclass(frozen=True)
class OfferEconomics:
    """One offer's costs and optional caps."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    contact_cost: Amount
    """Paid for every customer who gets the offer."""
    redemption_cost: Amount | None = None
    """Binary outcome: paid for every conversion under the offer."""
    cost_rate: Share | None = None
    """Continuous outcome: the share of revenue given back."""
    max_customers: Annotated[int, Ge(0)] | None = None
    max_budget: Amount | None = None
    min_customers: Annotated[int, Ge(0)] | None = None
    """Real-time pacing: customers the offer should reach over the period where traffic
    allows (:mod:`uplift_engine.decide.pacing`); the batch optimiser does not read it."""


@dataclass(frozen=True)
class ShareBounds:
    """Minimum and maximum share of the treated customers that a segment may take."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    min: Share = 0.0
    max: Share = 1.0

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise ValueError(f"min share {self.min} is above max share {self.max}")


@dataclass(frozen=True)
class SegmentShares:
    """Share limits per value of a segment column (e.g. ``segment: {priority: {max: 0.3}}``)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    column: str
    shares: dict[str, ShareBounds]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shares", {arm_name(k): v for k, v in self.shares.items()})


@dataclass(frozen=True)
class Economics:
    """The economics file: offers with costs and caps, optional segment shares."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    offers: Annotated[dict[str, OfferEconomics], MinLen(1)]
    control: str | None = None
    outcome: Literal["binary", "continuous"] | None = None
    margin_rate: Annotated[float, Ge(0)] | None = None
    segments: SegmentShares | None = None
    pacing: PacingSettings | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "offers", {arm_name(k): v for k, v in self.offers.items()})
        for name, terms in self.offers.items():
            low, high = terms.min_customers, terms.max_customers
            if low is not None and high is not None and low > high:
                raise ConfigError(
                    f"offers.{name}.min_customers ({low}) is above its max_customers ({high})",
                    field=f"offers.{name}.min_customers",
                )
            least = (low or 0) * terms.contact_cost
            if terms.max_budget is not None and least > terms.max_budget:
                raise ConfigError(
                    f"offers.{name}.min_customers ({low}) cannot be met: their contact costs "
                    f"alone ({least:g}) pass its max_budget ({terms.max_budget:g})",
                    field=f"offers.{name}.min_customers",
                )
            if low and self.pacing is None:
                raise ConfigError(
                    f"offers.{name}.min_customers is honoured by real-time pacing: add a "
                    "pacing section (campaign, start, end)",
                    field=f"offers.{name}.min_customers",
                )
        if self.control is not None:
            object.__setattr__(self, "control", arm_name(self.control))

    def outcome_kind(self, scores_kind: str | None) -> str:
        """``"binary"`` or ``"continuous"``, checked against what the scores say."""
        uses_rates = self.margin_rate is not None or any(
            o.cost_rate is not None for o in self.offers.values()
        )
        kind = self.outcome or scores_kind or ("continuous" if uses_rates else "binary")
        if self.outcome and scores_kind and self.outcome != scores_kind:
            raise ConfigError(
                f"economics say outcome {self.outcome!r} but the scores are for a "
                f"{scores_kind!r} outcome",
                field="outcome",
            )
        if kind == "binary":
            bad = [k for k, o in self.offers.items() if o.cost_rate is not None]
            if bad or self.margin_rate is not None:
                field = f"offers.{bad[0]}.cost_rate" if bad else "margin_rate"
                raise ConfigError(
                    f"{field} is for a continuous outcome; for a binary outcome give "
                    "contact_cost and redemption_cost (and the value of a conversion)",
                    field=field,
                )
        else:
            bad = [k for k, o in self.offers.items() if o.redemption_cost is not None]
            if bad:
                raise ConfigError(
                    f"offers.{bad[0]}.redemption_cost is for a binary outcome; for a continuous "
                    "outcome give contact_cost and cost_rate per offer and a margin_rate",
                    field=f"offers.{bad[0]}.redemption_cost",
                )
            if self.margin_rate is None:
                raise ConfigError(
                    "a continuous outcome needs margin_rate (the share of revenue that is "
                    "profit) in the economics file",
                    field="margin_rate",
                )
        return kind


def binary_cost(p_k: ArrayOrFloat, contact: float, redemption: float) -> ArrayOrFloat:
    """Expected cost of an offer for a binary outcome."""
    return contact + redemption * p_k


def binary_profit(
    p_k: ArrayOrFloat,
    p_0: ArrayOrFloat,
    value: ArrayOrFloat | float,
    contact: float,
    redemption: float,
) -> ArrayOrFloat:
    """Expected incremental profit of an offer for a binary outcome."""
    return p_k * (value - redemption) - p_0 * value - contact


def continuous_cost(r_k: ArrayOrFloat, contact: float, cost_rate: float) -> ArrayOrFloat:
    """Expected cost of an offer for a continuous outcome (revenue given back on r_k ≥ 0)."""
    return contact + cost_rate * _clip(r_k, 0.0, None)


def continuous_profit(
    r_k: ArrayOrFloat, r_0: ArrayOrFloat, margin: float, contact: float, cost_rate: float
) -> ArrayOrFloat:
    """Expected incremental profit of an offer for a continuous outcome."""
    return margin * (r_k - r_0) - cost_rate * _clip(r_k, 0.0, None) - contact


def _clip(x: ArrayOrFloat, lo: float, hi: float | None) -> ArrayOrFloat:
    if isinstance(x, np.ndarray):
        return np.clip(x, lo, hi)
    return max(lo, x) if hi is None else min(hi, max(lo, x))  # a float: no NumPy on this path


def offer_figures(
    economics: Economics,
    kind: str,
    offer: str,
    pred_offer: ArrayOrFloat,
    pred_control: ArrayOrFloat,
    value: ArrayOrFloat | float | None,
) -> tuple[ArrayOrFloat, ArrayOrFloat]:
    """``(expected profit, expected cost)`` of one offer, for arrays or single floats."""
    terms = economics.offers[offer]
    if kind == "binary":
        if value is None:
            raise ConfigError(
                "a binary outcome needs the value of a conversion, or a column with each "
                "customer's value",
                field="value",
            )
        p_k = _clip(pred_offer, 0.0, 1.0)
        p_0 = _clip(pred_control, 0.0, 1.0)
        red = terms.redemption_cost or 0.0
        return (
            binary_profit(p_k, p_0, value, terms.contact_cost, red),
            binary_cost(p_k, terms.contact_cost, red),
        )
    rate = terms.cost_rate or 0.0
    margin = float(economics.margin_rate or 0.0)
    return (
        continuous_profit(pred_offer, pred_control, margin, terms.contact_cost, rate),
        continuous_cost(pred_offer, terms.contact_cost, rate),
    )
