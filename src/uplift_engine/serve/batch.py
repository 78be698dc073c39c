"""Batch decisions: a whole population decided at once, as the service decides each customer.

``decide_table`` scores a table of customers (their features by name, and the columns the rules
read) with the bundle, in batches, and applies the same guardrails, economics and plan prices as
:meth:`~uplift_engine.decide.Decider.assess` — over columns, with NumPy, in the same order of
operations, so that every customer's offer, net values and exclusions equal what
``POST /v1/decide`` answers for the same inputs (a test checks a sample both ways, to the bit).

Columns of the decisions: the id, ``offer`` (null for none), per offer ``uplift_<offer>``
(``_lower`` / ``_upper`` when the model bounds its effects), ``net_value_<offer>`` and
``excluded_by_<offer>`` (``kind:name``, e.g. ``eligibility:active``, or null), and
``model_version`` / ``plan_version``. Without economics the offers' values and the offer are
null (effects only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from uplift_engine.decide import Decider
from uplift_engine.decide.economics import offer_figures
from uplift_engine.decide.planning import ColumnSource, Effects, apply_guardrails
from uplift_engine.features.contacts import Contact
from uplift_engine.learn.data import score_table
from uplift_engine.learn.scores import pred_column, uplift_column
from uplift_engine.serve.release import Served

DECISIONS_SCHEMA_VERSION = "uplift.decisions/1"
CHUNK_ROWS = 500_000


def decide_table(
    served: Served,
    table: pa.Table,
    *,
    chunk_rows: int = CHUNK_ROWS,
    contacts: Mapping[str, Sequence[Contact]] | None = None,
    at_us: int | None = None,
) -> pa.Table:
    """Decide every row of ``table`` (see the module docstring).

    ``contacts`` (customer key → contact history) and ``at_us`` (the decisions' moment) are
    what the policy's contact policies read, as the service reads them from the online store.
    """
    parts = [
        _decide_chunk(served, table.slice(start, chunk_rows), contacts, at_us)
        for start in range(0, max(table.num_rows, 1), chunk_rows)
    ]
    return pa.concat_tables(parts)


def _decide_chunk(
    served: Served,
    table: pa.Table,
    contacts: Mapping[str, Sequence[Contact]] | None,
    at_us: int | None,
) -> pa.Table:
    bundle, decider = served.bundle, served.decider
    keep: tuple[str, ...] = ()
    if decider is not None:
        wanted = set(decider.policy.columns()) if decider.policy is not None else set()
        if decider.value_col is not None:
            wanted.add(decider.value_col)
        if decider.economics.segments is not None:
            wanted.add(decider.economics.segments.column)
        wanted.add("channel")  # the decision's channel, which contact policies read
        keep = tuple(sorted(c for c in wanted if c in table.column_names))
    scores, meta = score_table(bundle, table, keep)
    offers = bundle.offers
    columns: dict[str, Any] = {meta.id_column: scores.column(meta.id_column)}
    n = scores.num_rows
    net = np.full((len(offers), n), np.nan)
    excluded: list[pa.Array] = [pa.nulls(n, pa.string()) for _ in offers]
    offer = pa.nulls(n, pa.string())
    if decider is not None:
        net, excluded, offer = _assess(
            decider, offers, scores, table, meta.id_column, contacts, at_us
        )
    columns["offer"] = offer
    for k, name in enumerate(offers):
        columns[uplift_column(name)] = scores.column(uplift_column(name))
        for bound in ("lower", "upper"):
            if uplift_column(name, bound) in scores.column_names:
                columns[uplift_column(name, bound)] = scores.column(uplift_column(name, bound))
        columns[f"net_value_{name}"] = pa.array(net[k], pa.float64(), mask=np.isnan(net[k]))
        columns[f"excluded_by_{name}"] = excluded[k]
    columns["model_version"] = pa.array([served.model_version] * n, pa.string())
    columns["plan_version"] = pa.array([served.plan_version] * n, pa.string())
    return pa.table(columns)


def _assess(
    decider: Decider,
    offers: list[str],
    scores: pa.Table,
    table: pa.Table,
    id_column: str,
    contacts: Mapping[str, Sequence[Contact]] | None,
    at_us: int | None,
) -> tuple[np.ndarray, list[pa.Array], pa.Array]:
    """:meth:`Decider.assess` over columns: net values, exclusions and the offer chosen."""
    n = scores.num_rows

    def floats(name: str) -> np.ndarray:
        return scores.column(name).to_numpy(zero_copy_only=False).astype(float)

    effects = Effects.from_scores(scores, offers)
    source = ColumnSource(scores, id_column, customers=table)
    dnc = None
    if decider.dnc:
        ids = scores.column(id_column).cast(pa.string()).to_pylist()
        dnc = np.array([i in decider.dnc for i in ids], bool)
    guarded = apply_guardrails(offers, effects, source, decider.policy, dnc, contacts, at_us)
    base = floats(pred_column(decider.control))
    value: np.ndarray | float | None = decider.value
    if decider.value_col is not None:
        value = source.get(decider.value_col).cast(pa.float64()).to_numpy(zero_copy_only=False)
    shared = _segment_charge(decider, source, n)
    cost_charge, count_charge = decider.charges
    net = np.empty((len(offers), n))
    reduced = np.full((len(offers), n), -np.inf)
    for j, name in enumerate(offers):
        profit, cost = offer_figures(
            decider.economics, decider.kind, name, floats(pred_column(name)), base, value
        )
        net[j] = profit
        charged = profit - cost_charge[j] * cost - count_charge[j] - shared
        reduced[j] = np.where(guarded.allowed[j], charged, -np.inf)
    best = np.argmax(reduced, axis=0)  # the first offer of the highest value, as assess
    chosen = reduced[best, np.arange(n)] > 0
    names = pa.array([*offers, None], pa.string())
    codes = np.where(chosen, best, len(offers)).astype(np.int32)
    offer = pa.DictionaryArray.from_arrays(pa.array(codes), names).cast(pa.string())
    labels = pa.array([None, *guarded.reasons], pa.string())
    excluded = [
        pa.DictionaryArray.from_arrays(
            pa.array(guarded.first[j].astype(np.int32) + 1), labels
        ).cast(pa.string())
        for j in range(len(offers))
    ]
    return net, excluded, offer


def _segment_charge(decider: Decider, source: ColumnSource, n: int) -> np.ndarray | float:
    spec = decider.economics.segments
    if spec is None or not decider.prices:
        return 0.0
    raw = source.get(spec.column).cast(pa.string()).fill_null("(missing)").to_pylist()
    segment = np.array(raw, dtype=object)
    charge = np.zeros(n)
    for name, bounds in spec.shares.items():
        member = (segment == name).astype(float)
        charge += decider.prices.get(f"max_share:{name}", 0.0) * (member - bounds.max)
        charge += decider.prices.get(f"min_share:{name}", 0.0) * (bounds.min - member)
    return charge
