"""Do-no-harm guardrails, applied before the optimiser, each block recorded with its reason.

Invariant: guardrails only *remove* (customer, offer) options; they run in a fixed order and
each option remembers the first guardrail that removed it:

1. ``dnc`` — the customer is on the do-not-contact list;
2. ``contact_cap:<column>`` — the customer's recent contacts are already at the cap
   (a missing count is read as no contacts);
3. ``protected`` — a protected customer gets an offer only where the lower end of that offer's
   effect interval is above zero, so none when the model gives no interval (a missing answer to
   the protected rule counts as protected);
4. ``harm`` — an offer whose effect interval lies wholly below zero (upper end < 0), or whose
   point estimate is below zero when there is no interval, is never given (Sleeping Dogs);
5. ``rule:<name>`` — an eligibility rule does not hold (a missing answer counts as not holding).

A customer left with no option is *excluded*; ``excluded_by`` lists the reasons that removed
their options (``;``-separated, in the order above). The same logic runs over whole columns
(:func:`apply_guardrails`) and over one customer (:func:`row_guardrails`), with equal results.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from uplift_engine.decide.columns import ColumnSource
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.errors import ConfigError
from uplift_engine.learn.scores import uplift_column

DNC, PROTECTED, HARM = "dnc", "protected", "harm"
MAX_RULES = 60  # reasons are bits of one int64 per customer


@dataclass(frozen=True)
class Effects:
    """Estimated effects per offer, ``(K, n)``; ``lower``/``upper`` NaN where there is none."""

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def from_scores(cls, scores: pa.Table, offers: list[str]) -> Effects:
        """Read ``uplift_<offer>`` and, when present, ``uplift_<offer>_lower`` / ``_upper``."""
        n, k = scores.num_rows, len(offers)
        out = np.empty((3, k, n))
        for j, offer in enumerate(offers):
            for i, bound in enumerate((None, "lower", "upper")):
                name = uplift_column(offer, bound)
                if name in scores.column_names:
                    column = scores.column(name).combine_chunks().cast(pa.float64())
                    out[i, j] = column.to_numpy(zero_copy_only=False)
                else:
                    out[i, j] = np.nan
        return cls(point=out[0], lower=out[1], upper=out[2])


@dataclass(frozen=True)
class Guarded:
    """What the guardrails left: allowed options and, per customer, why they were excluded."""

    allowed: np.ndarray  # (K, n) bool
    excluded_code: np.ndarray  # (n,) int32 index into ``labels``; 0 = not excluded
    labels: tuple[str, ...]  # labels[0] == ''
    reasons: tuple[str, ...]  # every guardrail that ran, in order
    customers_excluded: dict[str, int]  # excluded customers per reason
    options_blocked: dict[str, int]  # (customer, offer) pairs removed first by each reason

    @property
    def excluded_by(self) -> pa.Array:
        """Per customer, the reasons that excluded them ('' when an option is left)."""
        labels = pa.array(self.labels, pa.string())
        return pa.DictionaryArray.from_arrays(self.excluded_code, labels).cast(pa.string())


def _reasons(policy: CompiledPolicy | None) -> list[str]:
    names = [DNC]
    if policy is not None:
        names += [f"contact_cap:{cap.column}" for cap in policy.contact_caps]
    names += [PROTECTED, HARM]
    if policy is not None:
        names += [f"rule:{rule.name}" for rule, _ in policy.eligibility]
    return names


def _offer_mask(offers: list[str], listed: list[str] | None) -> np.ndarray:
    return np.array([listed is None or o in listed for o in offers])[:, None]


def apply_guardrails(
    offers: list[str],
    effects: Effects,
    source: ColumnSource,
    policy: CompiledPolicy | None = None,
    dnc: np.ndarray | None = None,
) -> Guarded:
    """Run every guardrail over all customers."""
    k, n = effects.point.shape
    if policy is not None and len(policy.eligibility) + len(policy.contact_caps) > MAX_RULES:
        raise ConfigError(f"a policy may hold at most {MAX_RULES} eligibility rules and caps")
    blocks: list[np.ndarray] = [
        np.zeros((1, n), bool) if dnc is None else np.asarray(dnc, bool)[None, :]
    ]
    if policy is not None:
        for cap in policy.contact_caps:
            contacts = source.get(cap.column).cast(pa.float64()).to_numpy(zero_copy_only=False)
            capped = np.nan_to_num(np.asarray(contacts, dtype=float), nan=0.0) >= cap.max
            blocks.append(capped[None, :] & _offer_mask(offers, cap.offers))
    if policy is not None and policy.protected is not None:
        rule = policy.protected
        protected = rule.evaluate(source.gather(rule.columns), n, unknown=True)
        with np.errstate(invalid="ignore"):
            blocks.append(protected[None, :] & ~(effects.lower > 0))
    else:
        blocks.append(np.zeros((1, n), bool))
    with np.errstate(invalid="ignore"):
        has_interval = ~np.isnan(effects.upper)
        blocks.append(np.where(has_interval, effects.upper < 0, effects.point < 0))
    if policy is not None:
        for entry, rule in policy.eligibility:
            holds = rule.evaluate(source.gather(rule.columns), n, unknown=False)
            blocks.append(~holds[None, :] & _offer_mask(offers, entry.offers))
    return _summarise(_reasons(policy), blocks, k, n)


def _summarise(reasons: list[str], blocks: list[np.ndarray], k: int, n: int) -> Guarded:
    first = np.full((k, n), -1, dtype=np.int8)
    for r, block in enumerate(blocks):
        if block.any():
            first[np.broadcast_to(block, (k, n)) & (first < 0)] = r
    allowed = first < 0
    excluded = np.flatnonzero(~allowed.any(axis=0))
    bits = np.zeros(excluded.size, dtype=np.int64)
    for row in first[:, excluded].astype(np.int64):
        bits |= np.left_shift(1, row)  # every offer of an excluded customer is blocked
    codes, inverse = np.unique(bits, return_inverse=True)
    code = np.zeros(n, dtype=np.int32)
    code[excluded] = inverse + 1
    labels = ("", *(_label(reasons, int(c)) for c in codes))
    customers = {name: int(((bits >> r) & 1).sum()) for r, name in enumerate(reasons)}
    counts = np.zeros(len(reasons), dtype=np.int64)
    for row in first:
        counts += np.bincount(row[row >= 0], minlength=len(reasons))[: len(reasons)]
    options = {name: int(c) for name, c in zip(reasons, counts, strict=True)}
    return Guarded(allowed, code, labels, tuple(reasons), customers, options)


def _label(reasons: list[str], bits: int) -> str:
    return ";".join(name for r, name in enumerate(reasons) if bits >> r & 1)


def row_guardrails(
    offers: list[str],
    row: Mapping[str, Any],
    policy: CompiledPolicy | None = None,
    dnc: Collection[str] = (),
    id_column: str | None = None,
) -> tuple[list[bool], str]:
    """Run every guardrail for one customer: allowed per offer, and ``excluded_by``."""
    reasons = _reasons(policy)
    first: list[int | None] = [None] * len(offers)

    def block(reason: str, which: list[bool]) -> None:
        r = reasons.index(reason)
        for j, hit in enumerate(which):
            if hit and first[j] is None:
                first[j] = r

    every = [True] * len(offers)
    if id_column is not None and str(row.get(id_column)) in dnc:
        block(DNC, every)
    if policy is not None:
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
        for entry, rule in policy.eligibility:
            if not rule.evaluate_row(row, unknown=False):
                block(
                    f"rule:{entry.name}",
                    [entry.offers is None or o in entry.offers for o in offers],
                )
    allowed = [f is None for f in first]
    if any(allowed):
        return allowed, ""
    bits = 0
    for f in first:
        bits |= 1 << (f or 0)  # every offer is blocked here, so f is never None
    return allowed, _label(reasons, bits)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
