"""One customer at a time: the same guardrails and economics, the batch plan's prices.

Invariant: a :class:`Decider` is built once (rules compiled, prices turned into per-offer
charges) and then decides a customer from a plain mapping of column to value — a scores row
plus whatever the rules read — with Python floats only (no Arrow, no NumPy arrays), so a
request costs microseconds. With the prices ``λ`` of a batch solution it gives the offer of
highest reduced value ``profit − charges`` when that is positive: the same rule the optimiser's
certificate uses, so on the batch's own customers it agrees with the plan (ties and the few
LP-fractional customers aside). Without prices it gives the most profitable allowed offer.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uplift_engine.config.records import from_mapping
from uplift_engine.decide.economics import Economics, offer_figures
from uplift_engine.decide.guardrails import label, reasons, row_rules
from uplift_engine.decide.pacing import Paced
from uplift_engine.decide.policy import CompiledPolicy, Policy
from uplift_engine.errors import ConfigError, DataError
from uplift_engine.features.contacts import Contact
from uplift_engine.learn.scores import pred_column


@dataclass(frozen=True)
class Decision:
    """The decision for one customer."""

    offer: str  # '' for none
    expected_profit: float
    expected_cost: float
    excluded_by: str  # '' unless the guardrails left no offer


@dataclass(frozen=True)
class OfferAssessment:
    """One offer for one customer: what it would earn and what, if anything, rules it out."""

    offer: str
    net_value: float
    """Expected profit of making the offer: the gain it causes less its expected costs."""
    cost: float
    excluded_by: str | None
    """The first guardrail that removes the offer (``harm``, ``suitability:<name>`` …), or None."""


@dataclass(frozen=True)
class Assessment:
    """The decision for one customer with every offer's figures behind it."""

    decision: Decision
    offers: tuple[OfferAssessment, ...]
    ranking: tuple[str, ...] = ()
    """The offers worth making, best first (the decision's offer first): what real-time pacing
    tries in turn when a cap refuses one."""
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Every guardrail and rule that ran, in order, with the offers it removed (none: passed)."""


class Decider:
    """Decide one customer at a time (see the module docstring)."""

    def __init__(
        self,
        economics: Economics,
        *,
        control: str,
        outcome_kind: str | None = None,
        value: float | None = None,
        value_col: str | None = None,
        policy: CompiledPolicy | None = None,
        dnc: Collection[object] = (),
        id_column: str = "customer_id",
        prices: Mapping[str, float] | None = None,
        budget: float | None = None,
    ) -> None:
        self.economics = economics
        self.budget = budget
        """The plan's budget (what real-time pacing holds the decisions to), if known."""
        self.offers = list(economics.offers)
        self.control = control
        self.kind = economics.outcome_kind(outcome_kind)
        if self.kind == "binary" and value is None and value_col is None:
            raise ConfigError("a binary outcome needs value or value_col", field="value")
        self.value = value
        self.value_col = value_col
        self.policy = policy
        self.dnc = frozenset(str(i) for i in dnc)
        self.id_column = id_column
        self.prices = dict(prices or {})
        self._cost_charge = [
            self.prices.get("budget", 0.0) + self.prices.get(f"max_budget:{o}", 0.0)
            for o in self.offers
        ]
        self._count_charge = [self.prices.get(f"max_customers:{o}", 0.0) for o in self.offers]

    @property
    def charges(self) -> tuple[list[float], list[float]]:
        """Per offer, the price charged per unit of cost and per customer (batch decisions)."""
        return list(self._cost_charge), list(self._count_charge)

    @classmethod
    def from_plan_meta(cls, meta: Mapping[str, Any], dnc: Collection[object] = ()) -> Decider:
        """A decider from a plan file's metadata (economics, policy, value and prices)."""
        policy = meta.get("policy")
        return cls(
            from_mapping(Economics, meta["economics"]),
            control=meta["control"],
            outcome_kind=meta.get("outcome_kind"),
            value=meta.get("value"),
            value_col=meta.get("value_col"),
            policy=None if policy is None else from_mapping(Policy, policy).compiled(),
            dnc=dnc,
            id_column=meta["id_column"],
            prices=meta["optimizer"]["prices"],
            budget=meta.get("budget"),
        )

    def _segment_charge(self, row: Mapping[str, Any]) -> float:
        spec = self.economics.segments
        if spec is None:
            return 0.0
        raw = row.get(spec.column)
        segment = "(missing)" if raw is None else str(raw)
        charge = 0.0
        for name, bounds in spec.shares.items():
            member = 1.0 if name == segment else 0.0
            charge += self.prices.get(f"max_share:{name}", 0.0) * (member - bounds.max)
            charge += self.prices.get(f"min_share:{name}", 0.0) * (bounds.min - member)
        return charge

    def decide(
        self,
        row: Mapping[str, Any],
        contacts: Sequence[Contact] = (),
        at_us: int | None = None,
    ) -> Decision:
        """The offer for one customer, given their scores and the columns the rules read.

        ``contacts``: the customer's contact history, which the contact policies read as of
        ``at_us`` (default: now).
        """
        return self.assess(row, contacts, at_us).decision

    def assess(
        self,
        row: Mapping[str, Any],
        contacts: Sequence[Contact] = (),
        at_us: int | None = None,
        paced: Paced | None = None,
    ) -> Assessment:
        """:meth:`decide` with every offer's net value and the guardrail that removes it.

        The offer chosen is the one :meth:`decide` chooses (the same reduced values, the same
        order of comparison); an offer's figures are given even when a guardrail removes it.
        ``paced``: real-time pacing's prices instead of the plan's, and the offers lagging their
        minimum volume, which come first when they earn anything.
        """
        cost_charge, count_charge = (
            (self._cost_charge, self._count_charge)
            if paced is None
            else (paced.cost_charge, paced.count_charge)
        )
        lagging = frozenset() if paced is None else paced.lagging
        blocks, ran = row_rules(
            self.offers, row, self.policy, self.dnc, self.id_column, contacts, at_us
        )
        base = _float(row, pred_column(self.control))
        value: float | None = self.value
        if self.value_col is not None:
            value = _float(row, self.value_col)
        shared = self._segment_charge(row)
        best = ("", 0.0, 0.0, 0.0)
        assessed = []
        worth: list[tuple[bool, float, int, str]] = []  # (not lagging, -value, order, offer)
        for j, offer in enumerate(self.offers):
            profit, cost = offer_figures(
                self.economics, self.kind, offer, _float(row, pred_column(offer)), base, value
            )
            assessed.append(OfferAssessment(offer, float(profit), float(cost), blocks[j]))
            if blocks[j] is not None:
                continue
            reduced = profit - cost_charge[j] * cost - count_charge[j] - shared
            if reduced > best[3]:
                best = (offer, float(profit), float(cost), reduced)
            if offer in lagging and profit > 0:  # a minimum volume behind: first if it earns
                worth.append((False, -float(profit), j, offer))
            elif reduced > 0:
                worth.append((True, -float(reduced), j, offer))
        if all(b is not None for b in blocks):
            names = reasons(self.policy)
            bits = 0
            for b in blocks:
                bits |= 1 << names.index(str(b))
            decision = Decision("", 0.0, 0.0, label(names, bits))
        else:
            decision = Decision(best[0], best[1], best[2], "")
        ranking = tuple(offer for *_, offer in sorted(worth))
        if ranking and ranking[0] != decision.offer:  # a lagging offer comes first
            first = next(a for a in assessed if a.offer == ranking[0])
            decision = Decision(first.offer, first.net_value, first.cost, "")
        rules = tuple((name, tuple(removed)) for name, removed in ran)
        return Assessment(decision, tuple(assessed), ranking, rules)


def _float(row: Mapping[str, Any], name: str) -> float:
    try:
        value = float(row[name])
    except KeyError as exc:
        raise DataError(f"the customer's data lacks {name!r}", field=name) from exc
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name!r} must be a number, got {row[name]!r}", field=name) from exc
    if math.isnan(value):
        raise DataError(f"{name!r} is missing for this customer", field=name)
    return value
