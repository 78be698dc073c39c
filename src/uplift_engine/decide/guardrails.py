"""Do-no-harm guardrails, applied before the optimiser, each block recorded with its reason.

Invariant: guardrails only *remove* (customer, offer) options; they run in a fixed order and
each option remembers the first guardrail that removed it:

0. ``holdout:universal`` — the customer is in the policy's universal holdout while it runs
   (:mod:`uplift_engine.decide.universal_holdout`): no offer at all;
1. ``dnc`` — the customer is on the do-not-contact list;
2. ``contact:<name>`` — a contact policy (:mod:`uplift_engine.decide.contact_policy`) holds
   on the customer's contact history as of the decision's moment;
3. ``contact_cap:<column>`` — the customer's recent contacts are already at the cap
   (a missing count is read as no contacts);
4. ``protected`` — a protected customer gets an offer only where the lower end of that offer's
   effect interval is above zero, so none when the model gives no interval (a missing answer to
   the protected rule counts as protected);
5. ``harm`` — an offer whose effect interval lies wholly below zero (upper end < 0), or whose
   point estimate is below zero when there is no interval, is never given (Sleeping Dogs);
6. ``eligibility:<name>``, then ``applicability:<name>``, then ``suitability:<name>`` — an
   engagement rule of that kind does not hold (a missing answer counts as not holding).

A customer left with no option is *excluded*; ``excluded_by`` lists the reasons that removed
their options (``;``-separated, in the order above). The same logic runs over one customer here
(:func:`row_guardrails`, the request corridor: standard library) and over whole columns
(:func:`uplift_engine.decide.planning.apply_guardrails`), with equal results; contact policies
run per customer in both (:meth:`~uplift_engine.decide.contact_policy.ContactPolicies.blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.decide.universal_holdout import REASON as UNIVERSAL
from uplift_engine.features.contacts import Contact
from uplift_engine.features.streaming.schema import now_us
from uplift_engine.learn.scores import uplift_column

DNC, PROTECTED, HARM = "dnc", "protected", "harm"
MAX_RULES = 60  # reasons are bits of one int64 per customer


def reasons(policy: CompiledPolicy | None) -> list[str]:
    """Every guardrail that runs under ``policy``, in order (a reason's bit is its index)."""
    names = [UNIVERSAL] if policy is not None and policy.universal is not None else []
    names.append(DNC)
    if policy is not None:
        names += policy.contacts.reasons
        names += [f"contact_cap:{cap.column}" for cap in policy.contact_caps]
    names += [PROTECTED, HARM]
    if policy is not None:
        names += [f"{kind}:{entry.name}" for kind, entry, _ in policy.rules]
    return names


def reason_parts(reason: str) -> tuple[str, str]:
    """A reason's kind and name: ``eligibility:active`` → (eligibility, active).

    A bare reason (``dnc``, ``protected``, ``harm``) is a guardrail's: ``harm`` → (guardrail, harm).
    """
    kind, _, name = reason.partition(":")
    return (kind, name) if name else ("guardrail", kind)


def label(names: list[str], bits: int) -> str:
    """The ``excluded_by`` text of a set of reasons (bit ``r`` = ``names[r]``)."""
    return ";".join(name for r, name in enumerate(names) if bits >> r & 1)


def row_guardrails(
    offers: list[str],
    row: Mapping[str, Any],
    policy: CompiledPolicy | None = None,
    dnc: Collection[str] = (),
    id_column: str | None = None,
    contacts: Sequence[Contact] = (),
    at_us: int | None = None,
) -> tuple[list[bool], str]:
    """Run every guardrail for one customer: allowed per offer, and ``excluded_by``.

    ``contacts``: the customer's contact history, read by the contact policies as of
    ``at_us`` (default: now).
    """
    names = reasons(policy)
    first = _first_blocks(names, offers, row, policy, dnc, id_column, contacts, at_us)
    allowed = [f is None for f in first]
    if any(allowed):
        return allowed, ""
    bits = 0
    for f in first:
        bits |= 1 << (f or 0)  # every offer is blocked here, so f is never None
    return allowed, label(names, bits)


def row_blocks(
    offers: list[str],
    row: Mapping[str, Any],
    policy: CompiledPolicy | None = None,
    dnc: Collection[str] = (),
    id_column: str | None = None,
    contacts: Sequence[Contact] = (),
    at_us: int | None = None,
) -> list[str | None]:
    """For each offer, the first guardrail that removes it for this customer (None: allowed)."""
    return row_rules(offers, row, policy, dnc, id_column, contacts, at_us)[0]


def row_rules(
    offers: list[str],
    row: Mapping[str, Any],
    policy: CompiledPolicy | None = None,
    dnc: Collection[str] = (),
    id_column: str | None = None,
    contacts: Sequence[Contact] = (),
    at_us: int | None = None,
) -> tuple[list[str | None], list[tuple[str, list[str]]]]:
    """:func:`row_blocks`, and every guardrail that ran with every offer it removes.

    The audit's view: a rule that removes nothing passed; an offer may be removed by several
    (the first is its ``excluded_by``).
    """
    names = reasons(policy)
    hits: dict[str, list[str]] = {}
    first = _first_blocks(names, offers, row, policy, dnc, id_column, contacts, at_us, hits)
    blocks = [None if f is None else names[f] for f in first]
    return blocks, [(name, hits.get(name, [])) for name in names]


def _first_blocks(
    names: list[str],
    offers: list[str],
    row: Mapping[str, Any],
    policy: CompiledPolicy | None,
    dnc: Collection[str],
    id_column: str | None,
    contacts: Sequence[Contact],
    at_us: int | None,
    hits: dict[str, list[str]] | None = None,
) -> list[int | None]:
    first: list[int | None] = [None] * len(offers)

    def block(reason: str, which: list[bool]) -> None:
        r = names.index(reason)
        for j, hit in enumerate(which):
            if hit and first[j] is None:
                first[j] = r
        if hits is not None:
            hits[reason] = [o for o, hit in zip(offers, which, strict=True) if hit]

    every = [True] * len(offers)
    held = None if policy is None else policy.universal
    if held is not None and id_column is not None and held.holds(row.get(id_column)):
        block(UNIVERSAL, every)
    if id_column is not None and str(row.get(id_column)) in dnc:
        block(DNC, every)
    if policy is not None:
        if policy.contacts:
            at = now_us() if at_us is None else at_us
            found = policy.contacts.blocks(offers, contacts, row.get("channel"), at)
            for reason, which in zip(policy.contacts.reasons, found, strict=True):
                block(reason, which)
        for cap in policy.contact_caps:
            capped = (_number(row.get(cap.column)) or 0.0) >= cap.max
            block(
                f"contact_cap:{cap.column}",
                [capped and (cap.offers is None or o in cap.offers) for o in offers],
            )
        if policy.protected is not None and policy.protected.evaluate_row(row, unknown=True):
            lows = [_number(row.get(uplift_column(o, "lower"))) for o in offers]
            block(PROTECTED, [low is None or not low > 0 for low in lows])
    harm = []
    for o in offers:
        upper = _number(row.get(uplift_column(o, "upper")))
        point = _number(row.get(uplift_column(o)))
        harm.append(upper < 0 if upper is not None else point is not None and point < 0)
    block(HARM, harm)
    if policy is not None:
        for kind, entry, rule in policy.rules:
            if not rule.evaluate_row(row, unknown=False):
                block(
                    f"{kind}:{entry.name}",
                    [entry.offers is None or o in entry.offers for o in offers],
                )
    return first


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
