"""Real-time pacing: the batch plan's prices steered by the spend observed, under hard caps.

A batch plan prices the budget (``λ``) for the customers it expects; customers then arrive one
by one, in a daily pattern, more or fewer than expected. Pacing does two things, declared in the
economics file::

    pacing:
      campaign: xmas-2026              # the ledger's name, shared by every service and Lambda
      start: 2026-12-08T00:00:00+07:00
      end: 2026-12-09T00:00:00+07:00
      profile: [1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 7, 7, 8, 7, 6, 6, 6, 7, 8, 8, 6, 4, 2, 1]
                                       # expected arrivals by hour of the period (default flat)
      offer_expiry: 30m                # an offer not redeemed by then releases its hold
      gain: 0.5                        # how hard the price reacts to a spend off its curve
    offers:
      cashback: {contact_cost: 1, redemption_cost: 20, max_customers: 5000, min_customers: 1000}

1. **Hard caps, atomically** (:class:`Ledger`, in the online store): a decision *holds* its
   worst case — contact cost plus redemption cost as if redeemed (a continuous outcome: its
   expected cost) — against the campaign's budget and the offer's ``max_budget``, and one
   customer against ``max_customers``; the hold succeeds only if no cap would be passed, checked
   and written in one atomic step (a SQLite write transaction, a Redis Lua script), so however
   many requests race, a cap is never exceeded. A redemption (an ``accepted`` response) keeps
   the hold; an offer that expires unredeemed gives the redemption part back.
2. **A feedback controller on the prices** (:class:`PacingController`): the expected spend of the
   offers made (summed in the ledger) is compared with the target curve ``budget · F(t)``,
   ``F`` the share of the period's expected arrivals before ``t``: with ``r`` the budget left
   over the budget the curve leaves (``(B − spent) / (B · (1 − F(t)))``, 1 on the curve), the
   budget's price becomes ``λ · r^(−gain)`` — spending ahead raises it, lagging lowers it, and
   ever more firmly as the period runs out (for a small lead ``e`` it is
   ``λ · exp(gain · e / (1 − F))``): a proportional controller on the log of the dual price, as
   large coupon-allocation systems pace. It reads only the shared counters, so every worker
   and Lambda computes the same price with no state of its own.
   An offer whose customers lag ``min_customers · F(t)`` gets a subsidy on its per-customer
   price that grows with the lag, so minimum volumes are honoured where traffic allows.

When a hold fails the next best offer is tried; with none left the decision makes no offer and
each offer that was refused records ``{kind: "pacing", name: <cap>}``. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from annotated_types import Gt, MinLen

from uplift_engine.config.records import STRICT
from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import parse_window
from uplift_engine.features.streaming.schema import epoch_us

MICROS = 1_000_000
"""Money is counted in millionths in the ledger (integers: exact under any concurrency)."""
BUDGET, EXPECTED = "budget", "expected"
REASON_KIND = "pacing"
_RATIO_MIN, _RATIO_MAX = 1e-3, 1e3


def budget_counter(offer: str) -> str:
    """The ledger counter of an offer's committed spend (``max_budget``)."""
    return f"budget:{offer}"


def customers_counter(offer: str) -> str:
    """The ledger counter of an offer's customers (``max_customers``)."""
    return f"customers:{offer}"


def money(amount: float) -> int:
    """An amount in the ledger's integer millionths, rounded up (a hold never falls short)."""
    return math.ceil(amount * MICROS - 1e-6)


@dataclass(frozen=True)
class PacingSettings:
    """The economics file's ``pacing`` section (see the module docstring)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT
    campaign: Annotated[str, MinLen(1)]
    start: str
    end: str
    profile: list[float] | None = None
    offer_expiry: str = "30m"
    gain: Annotated[float, Gt(0)] = 0.5

    def __post_init__(self) -> None:
        if self.end_us <= self.start_us:
            raise ConfigError(
                f"pacing.end ({self.end}) must come after pacing.start ({self.start})",
                field="pacing.end",
            )
        if self.profile is not None:
            if not self.profile or any(not (w >= 0 and math.isfinite(w)) for w in self.profile):
                raise ConfigError(
                    "pacing.profile must be a non-empty list of finite weights ≥ 0",
                    field="pacing.profile",
                )
            if sum(self.profile) <= 0:
                raise ConfigError(
                    "pacing.profile has no weight: no arrivals are expected", field="pacing.profile"
                )
        try:
            parse_window(self.offer_expiry)
        except ConfigError as exc:
            raise ConfigError(
                f"pacing.offer_expiry: {exc.message}", field="pacing.offer_expiry"
            ) from None
        if not 0 < self.gain <= 10:
            raise ConfigError(
                f"pacing.gain must be in (0, 10], got {self.gain}", field="pacing.gain"
            )

    @property
    def start_us(self) -> int:
        """The period's start, epoch µs."""
        return _moment(self.start, "pacing.start")

    @property
    def end_us(self) -> int:
        """The period's end, epoch µs."""
        return _moment(self.end, "pacing.end")

    @property
    def expiry_us(self) -> int:
        """How long an offer's hold waits for a redemption."""
        return parse_window(self.offer_expiry)

    def share(self, at_us: int) -> float:
        """``F(t)``: the share of the period's expected arrivals before ``at_us`` (0 to 1)."""
        start, end = self.start_us, self.end_us
        x = min(max((at_us - start) / (end - start), 0.0), 1.0)
        weights = self.profile
        if not weights:
            return x
        position = x * len(weights)
        whole = min(int(position), len(weights))
        done = sum(weights[:whole])
        if whole < len(weights):
            done += weights[whole] * (position - whole)
        return done / sum(weights)


def _moment(text: str, where: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where} must be an ISO time with a zone, got {text!r}", field=where
        ) from None
    if moment.tzinfo is None:
        raise ConfigError(f"{where} needs a time zone (Z or +07:00), got {text!r}", field=where)
    return epoch_us(moment)


class Hold(NamedTuple):
    """What one decision holds: the counters it adds to, and what returns if unredeemed."""

    amounts: dict[str, int]
    refundable: dict[str, int]


@runtime_checkable
class Ledger(Protocol):
    """Counters with caps and holds, changed atomically (the online store's; see stores)."""

    def reserve(
        self,
        ledger: str,
        hold: str,
        tag: str,
        amounts: Mapping[str, int],
        refundable: Mapping[str, int],
        caps: Mapping[str, int],
        expires_us: int,
    ) -> str | None:
        """Add ``amounts`` and keep the hold, unless a capped counter would pass its cap.

        Returns None when held (also when ``hold`` is held already: a retry), else the first
        counter that would pass its cap, with nothing changed.
        """
        ...

    def settle(self, ledger: str, hold: str | None, tag: str | None, redeemed: bool) -> bool:
        """End a hold (by id, or the oldest with ``tag``).

        A redeemed hold is kept; otherwise its refundable part goes back. False when there is
        no such hold (settled already).
        """
        ...

    def expire(self, ledger: str, now_us: int, limit: int = 1000) -> int:
        """Settle as unredeemed up to ``limit`` holds that expired by ``now_us``; how many."""
        ...

    def counters(self, ledger: str) -> dict[str, int]:
        """Every counter of the ledger (absent: 0)."""
        ...


@dataclass
class PacingController:
    """Prices and holds of one campaign's decisions (see the module docstring).

    ``prices`` are the batch plan's (``budget``, ``max_budget:<offer>``,
    ``max_customers:<offer>``), ``budget`` the plan's, in money.
    """

    settings: PacingSettings
    offers: Sequence[str]
    budget: float
    prices: Mapping[str, float]
    caps: dict[str, int] = field(default_factory=dict)
    minimums: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.budget > 0 or not math.isfinite(self.budget):
            raise ConfigError(
                "pacing needs the plan's budget (a plan made with --budget)", field="pacing"
            )
        self.caps.setdefault(BUDGET, money(self.budget))

    @classmethod
    def of(
        cls,
        settings: PacingSettings,
        economics: Any,
        budget: float,
        prices: Mapping[str, float],
    ) -> PacingController:
        """A controller with the caps and minimums of the economics' offers."""
        caps: dict[str, int] = {}
        minimums: dict[str, int] = {}
        for name, terms in economics.offers.items():
            if terms.max_budget is not None:
                caps[budget_counter(name)] = money(terms.max_budget)
            if terms.max_customers is not None:
                caps[customers_counter(name)] = int(terms.max_customers)
            if getattr(terms, "min_customers", None):
                minimums[name] = int(terms.min_customers)
        least = sum(n * economics.offers[o].contact_cost for o, n in minimums.items())
        if least > budget:
            raise ConfigError(
                f"the offers' min_customers cannot be met: their contact costs alone ({least:g}) "
                f"pass the plan's budget ({budget:g})",
                field="min_customers",
            )
        return cls(settings, list(economics.offers), budget, prices, caps, minimums)

    def pace(self, counters: Mapping[str, int], at_us: int) -> Paced:
        """The prices of a decision at ``at_us``, given the ledger's counters."""
        share = self.settings.share(at_us)
        remaining = max(self.budget - counters.get(EXPECTED, 0) / MICROS, 0.0) / self.budget
        left = max(1.0 - share, 1e-9)
        ratio = min(max(remaining / left, _RATIO_MIN), _RATIO_MAX)  # 1: spending on the curve
        factor = ratio ** -self.settings.gain
        budget_price = self.prices.get("budget", 0.0) * factor
        cost = [budget_price + self.prices.get(f"max_budget:{o}", 0.0) for o in self.offers]
        count = [self.prices.get(f"max_customers:{o}", 0.0) for o in self.offers]
        lagging = frozenset(
            o
            for o, minimum in self.minimums.items()
            if counters.get(customers_counter(o), 0) < minimum * share
        )
        return Paced(cost, count, lagging, factor)

    def hold(self, offer: str, contact_cost: float, worst_cost: float, expected: float) -> Hold:
        """What a decision making ``offer`` holds: its worst case, refundable but its contact."""
        committed = money(max(worst_cost, expected))
        back = max(committed - money(contact_cost), 0)
        amounts = {
            BUDGET: committed,
            budget_counter(offer): committed,
            customers_counter(offer): 1,
            EXPECTED: money(expected),
        }
        return Hold(amounts, {BUDGET: back, budget_counter(offer): back, EXPECTED: 0})


class Paced(NamedTuple):
    """A decision's prices, paced.

    Per offer the price per unit of cost and per customer; the offers lagging their minimum
    volume (made first when they earn); the budget price's factor over the plan's.
    """

    cost_charge: list[float]
    count_charge: list[float]
    lagging: frozenset[str]
    factor: float


def refused(counter: str) -> str:
    """The exclusion reason of an offer refused by a cap.

    ``pacing:budget``, ``pacing:max_customers:<offer>`` or ``pacing:max_budget:<offer>``.
    """
    if counter.startswith("customers:"):
        return f"{REASON_KIND}:max_customers:{counter.split(':', 1)[1]}"
    if counter.startswith("budget:"):
        return f"{REASON_KIND}:max_budget:{counter.split(':', 1)[1]}"
    return f"{REASON_KIND}:{counter}"
