"""Explaining a bundle on a table: global importance, and named customers' top drivers.

The use case behind ``uplift explain`` (and the dashboard's drivers): every input is checked
(feature columns, id column, customer ids) before any model work; the global importance is
averaged over a seeded sample of rows; each named customer gets the top drivers of each offer.
:meth:`Explanation.to_dict` is the JSON shape (schema ``uplift.explanations/1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uplift_engine.errors import DataError, quote_values
from uplift_engine.learn.bundle import Bundle
from uplift_engine.learn.data.roles import ROW_ID
from uplift_engine.learn.explain.contributions import (
    FeatureImportance,
    OfferDrivers,
    explain_bundle,
    global_importance,
    top_drivers,
)
from uplift_engine.learn.explain.files import EXPLANATIONS_SCHEMA_VERSION, ExplanationsMeta


@dataclass(frozen=True)
class Explanation:
    """What drives the uplift: global importance, and the named customers' top drivers."""

    meta: ExplanationsMeta
    importance: list[FeatureImportance]
    drivers: list[OfferDrivers]
    customers: list[str]
    """The customers asked for, in order (``drivers[i].row`` indexes this list)."""

    def to_dict(self, out: str | None = None) -> dict[str, Any]:
        """Plain JSON-ready data (``out``: where the importance file was written)."""
        by_offer: dict[str, list[dict[str, Any]]] = {}
        for item in self.importance:
            by_offer.setdefault(item.offer, []).append(
                {
                    "feature": item.feature,
                    "mean_abs": item.mean_abs,
                    "mean_signed": item.mean_signed,
                    "rank": item.rank,
                }
            )
        return {
            "schema_version": EXPLANATIONS_SCHEMA_VERSION,
            "rows": self.meta.rows,
            "methods": self.meta.methods,
            "effect": self.meta.effect,
            "model": self.meta.model,
            "importance": by_offer,
            "drivers": [
                {
                    "customer": self.customers[d.row],
                    "offer": d.offer,
                    "effect": d.effect,
                    "base": d.base,
                    "drivers": [
                        {"feature": x.feature, "contribution": x.contribution, "value": x.value}
                        for x in d.drivers
                    ],
                }
                for d in self.drivers
            ],
            "out": out,
        }


def explain_table(
    bundle: Bundle,
    table: pa.Table,
    *,
    id_column: str,
    customers: list[str] | None = None,
    top: int = 5,
    sample: int = 5_000,
    seed: int = 0,
    source: str = "data",
    model_uri: str = "",
) -> Explanation:
    """Explain ``bundle`` on ``table``: its importance, and ``customers``' top drivers."""
    _check_features(bundle, table)
    if table.num_rows == 0:
        raise DataError(f"{source!r} has no rows to explain")
    wanted = list(dict.fromkeys(customers or []))
    customer_rows = _customer_rows(table, id_column, wanted, source) if wanted else []
    rows = _sample_rows(table.num_rows, sample, seed)
    contributions = explain_bundle(bundle, _features(bundle, table.take(rows)))
    drivers: list[OfferDrivers] = []
    if customer_rows:
        named = explain_bundle(bundle, _features(bundle, table.take(customer_rows)))
        drivers = top_drivers(named, top)
    meta = ExplanationsMeta(
        rows=int(rows.size),
        methods=list(contributions.methods),
        outcome_kind=bundle.outcome_kind,
        model={
            "learner": bundle.manifest["learner"]["name"],
            "created_at": bundle.manifest["created_at"],
            "bundle": model_uri,
        },
    )
    return Explanation(meta, global_importance(contributions), drivers, wanted)


def _check_features(bundle: Bundle, table: pa.Table) -> None:
    missing = [n for n in bundle.encoder.names if n not in table.column_names]
    if missing:
        raise DataError(
            f"the data lacks feature column(s) {', '.join(map(repr, missing))} that the model "
            "was trained with",
            field=missing[0],
        )


def _features(bundle: Bundle, table: pa.Table) -> dict[str, Any]:
    return {name: table.column(name) for name in bundle.encoder.names}


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def _customer_rows(table: pa.Table, id_name: str, wanted: list[str], data: str) -> list[int]:
    """Row of each wanted id (its first occurrence), in the order asked."""
    if id_name in table.column_names:
        ids = pc.cast(table.column(id_name), pa.string())
    elif id_name == ROW_ID:
        ids = pa.chunked_array([pa.array(np.arange(table.num_rows).astype(str))])
    else:
        raise DataError(
            f"the customers asked for need the id column {id_name!r}, which {data!r} lacks; "
            "name the id column",
            field="id_col",
        )
    hits = np.flatnonzero(
        pc.is_in(ids, value_set=pa.array(wanted, pa.string())).to_numpy(zero_copy_only=False)
    )
    first: dict[str, int] = {}
    for row, value in zip(hits.tolist(), ids.take(hits).to_pylist(), strict=True):
        first.setdefault(value, row)
    unknown = [w for w in wanted if w not in first]
    if unknown:
        raise DataError(
            f"customer id(s) {quote_values(unknown)} are not in column {id_name!r} of {data!r}",
            field="customer",
        )
    return [first[w] for w in wanted]
