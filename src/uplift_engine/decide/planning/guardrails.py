"""The guardrails over whole columns: every customer of a scores table at once.

The rules, their order and what they block are :mod:`uplift_engine.decide.guardrails`'s; here
they run over NumPy arrays and Arrow columns, with the same results as one customer at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from uplift_engine.decide.guardrails import MAX_RULES, label, reasons
from uplift_engine.decide.planning.columnar_rules import evaluate_columns
from uplift_engine.decide.planning.columns import ColumnSource
from uplift_engine.decide.policy import CompiledPolicy
from uplift_engine.decide.universal_holdout import id_text
from uplift_engine.errors import ConfigError
from uplift_engine.features.contacts import Contact
from uplift_engine.learn.scores import uplift_column


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
    first: np.ndarray  # (K, n) int8: the reason that removed each option first, or -1
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


def _offer_mask(offers: list[str], listed: list[str] | None) -> np.ndarray:
    return np.array([listed is None or o in listed for o in offers])[:, None]


def apply_guardrails(
    offers: list[str],
    effects: Effects,
    source: ColumnSource,
    policy: CompiledPolicy | None = None,
    dnc: np.ndarray | None = None,
    contacts: Mapping[str, Sequence[Contact]] | None = None,
    at_us: int | None = None,
) -> Guarded:
    """Run every guardrail over all customers.

    ``contacts``: the contact history by customer key (the online store's, see
    :func:`~uplift_engine.decide.universal_holdout.id_text`), which the contact policies read
    as of ``at_us``; required when the policy has contact policies.
    """
    k, n = effects.point.shape
    if policy is not None and len(policy.rules) + len(policy.contact_caps) > MAX_RULES:
        raise ConfigError(f"a policy may hold at most {MAX_RULES} rules and caps in all")
    blocks: list[np.ndarray] = []
    held = None if policy is None else policy.universal
    if held is not None:
        ids = source.ids().to_pylist()
        members = {v: held.holds(v) for v in set(ids)}  # each distinct id hashed once
        blocks.append(np.fromiter((members[v] for v in ids), bool, len(ids))[None, :])
    blocks.append(np.zeros((1, n), bool) if dnc is None else np.asarray(dnc, bool)[None, :])
    if policy is not None and policy.contacts:
        blocks += _contact_blocks(offers, source, policy, contacts, at_us)
    if policy is not None:
        for cap in policy.contact_caps:
            contacts = source.get(cap.column).cast(pa.float64()).to_numpy(zero_copy_only=False)
            capped = np.nan_to_num(np.asarray(contacts, dtype=float), nan=0.0) >= cap.max
            blocks.append(capped[None, :] & _offer_mask(offers, cap.offers))
    if policy is not None and policy.protected is not None:
        rule = policy.protected
        protected = evaluate_columns(rule, source.gather(rule.columns), n, unknown=True)
        with np.errstate(invalid="ignore"):
            blocks.append(protected[None, :] & ~(effects.lower > 0))
    else:
        blocks.append(np.zeros((1, n), bool))
    with np.errstate(invalid="ignore"):
        has_interval = ~np.isnan(effects.upper)
        blocks.append(np.where(has_interval, effects.upper < 0, effects.point < 0))
    if policy is not None:
        for _, entry, rule in policy.rules:
            holds = evaluate_columns(rule, source.gather(rule.columns), n, unknown=False)
            blocks.append(~holds[None, :] & _offer_mask(offers, entry.offers))
    return _summarise(reasons(policy), blocks, k, n)


def _contact_blocks(
    offers: list[str],
    source: ColumnSource,
    policy: CompiledPolicy,
    contacts: Mapping[str, Sequence[Contact]] | None,
    at_us: int | None,
) -> list[np.ndarray]:
    """Each contact policy's (K, n) block: the one per-customer evaluation.

    Only customers with a history are evaluated: one without is never blocked (a cap's max is
    ≥ 1, a suppression needs responses).
    """
    if contacts is None or at_us is None:
        raise ConfigError(
            "the policy has contact_policies: give the contact history and the decision's "
            "moment (uplift optimize --contact-history LAKE --at TIME)",
            field="contact_history",
        )
    k, n = len(offers), source.n
    out = [np.zeros((k, n), bool) for _ in policy.contacts.policies]
    if not contacts:
        return out
    ids = source.ids()
    if pa.types.is_integer(ids.type):  # an integer's key is its decimal text
        keys = ids.cast(pa.string()).to_pylist()
    else:
        keys = [id_text(v) for v in ids.to_pylist()]
    channels = source.get("channel") if source.has("channel") else None
    for i, key in enumerate(keys):
        history = contacts.get(key)
        if not history:
            continue
        channel = None if channels is None else channels[i].as_py()
        found = policy.contacts.blocks(offers, history, channel, at_us)
        for p, which in enumerate(found):
            out[p][:, i] = which
    return out


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
    labels = ("", *(label(reasons, int(c)) for c in codes))
    customers = {name: int(((bits >> r) & 1).sum()) for r, name in enumerate(reasons)}
    counts = np.zeros(len(reasons), dtype=np.int64)
    for row in first:
        counts += np.bincount(row[row >= 0], minlength=len(reasons))[: len(reasons)]
    options = {name: int(c) for name, c in zip(reasons, counts, strict=True)}
    return Guarded(allowed, first, code, labels, tuple(reasons), customers, options)
