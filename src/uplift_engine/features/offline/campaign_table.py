"""The campaign table: one row per validly assigned customer, features as of the assignment.

Invariant: the table has exactly one row per valid assignment of the campaign (a customer
without events gets 0 counts and null averages, never a missing row), in ``customer_id``
order, with the columns ``customer_id``, the customers' static attributes, the behavioural
features — the batch aggregates (:data:`~uplift_engine.features.definitions.CAMPAIGN_FEATURES`)
and the stream windows (:data:`~uplift_engine.features.definitions.STREAM_FEATURES`) — as of
the customer's ``assigned_at`` (events at or after it never count), the request-time features
(:data:`~uplift_engine.features.request_time.REQUEST_FEATURES`) computed by their one function
from the assignment's context as the service computes them from a request (the payload's
``ts`` is ``assigned_at``, its ``channel`` the assignment's channel: :data:`ASSIGNMENT_CONTEXT`),
``arm``, ``converted`` and ``revenue`` (0 for a non-converter). So a model trained on it reads
every tier, and the service builds the same row at the same moment (a test compares the
bits). Never in it: the simulator's truth, ``campaign_id`` (a
constant) and ``assigned_at`` (a datetime that training ignores and that would only invite
leakage). Only validated rows are used; the others are quarantined (see
:mod:`uplift_engine.lake.validate`) and counted in the summary. The engine (DuckDB in process
by default, or Spark; see :mod:`uplift_engine.features.offline.engine`) validates and aggregates the
events; everything else — the small datasets, the join, the order, the writer — is this
module's, so both engines write the same table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pyarrow as pa

from uplift_engine.config.settings import Settings
from uplift_engine.errors import (
    ConfigError,
    DataError,
    StorageError,
    UserInputError,
    quote_values,
)
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    STREAM_FEATURES,
    FeatureSpec,
    check_specs,
)
from uplift_engine.features.offline.duckdb_engine import AS_OF, DuckDBEngine, as_of_bounds
from uplift_engine.features.offline.engine import source_checks
from uplift_engine.features.request_time import REQUEST_FEATURES, RequestFeature, request_columns
from uplift_engine.lake import layout
from uplift_engine.lake.datasets import arrow_reader, replace_dataset
from uplift_engine.lake.generations import Generation, writing
from uplift_engine.lake.quality import CHECKS, quarantine_path
from uplift_engine.lake.sessions import duckdb_session
from uplift_engine.lake.validate import LakeValidator

if TYPE_CHECKING:
    import duckdb

    from uplift_engine.features.offline.engine import OfflineEngine

SCHEMA_VERSION = "uplift.campaign_table/1"
META_KEY = b"uplift"
MANIFEST = "_manifest.json"  # "_" so that Parquet readers skip it
ROWS_PER_PART = 500_000
OUTCOMES = ("converted", "revenue")
_STATIC = [f for f in layout.CUSTOMERS_SCHEMA if f.name != "customer_id"]
TABLE_FEATURES: tuple[FeatureSpec, ...] = (*CAMPAIGN_FEATURES, *STREAM_FEATURES)
"""The event features of a campaign table by default: every batch and stream spec."""
ASSIGNMENT_CONTEXT: dict[str, str] = {"ts": "assigned_at", "channel": "channel"}
"""Request payload field → the assignment column that plays it in training."""
_CONTEXT = "__context_"


@dataclass(frozen=True)
class CampaignTableSummary:
    """What a campaign-table build wrote: where, how big, how long, and what it quarantined."""

    campaign_id: str
    path: str
    rows: int
    columns: tuple[str, ...]
    features: tuple[str, ...]
    arms: tuple[str, ...]
    control: str
    seconds: float
    parts: int
    quarantined: Mapping[str, int] = field(default_factory=dict)
    engine: str = "duckdb"

    def to_dict(self) -> dict[str, object]:
        """The summary as plain JSON-ready values."""
        return {
            "campaign_id": self.campaign_id,
            "path": self.path,
            "rows": self.rows,
            "columns": list(self.columns),
            "features": list(self.features),
            "arms": list(self.arms),
            "control": self.control,
            "seconds": round(self.seconds, 3),
            "parts": self.parts,
            "quarantined": dict(self.quarantined),
            "engine": self.engine,
        }


def campaign_table_schema(
    specs: tuple[FeatureSpec, ...] = TABLE_FEATURES,
    request: tuple[RequestFeature, ...] = REQUEST_FEATURES,
) -> pa.Schema:
    """The columns of a campaign table built from ``specs`` and ``request``, in order, typed."""
    outcomes = layout.OUTCOMES_SCHEMA
    return pa.schema(
        [
            layout.CUSTOMERS_SCHEMA.field("customer_id"),
            *_STATIC,
            *(pa.field(s.name, s.dtype) for s in specs),
            *(pa.field(r.name, pa.type_for_alias(r.type_name)) for r in request),
            layout.ASSIGNMENTS_SCHEMA.field("arm"),
            *(outcomes.field(name) for name in OUTCOMES),
        ]
    )


def build_campaign_table(
    lake_uri: str,
    campaign_id: str,
    settings: Settings | None = None,
    *,
    out_uri: str | None = None,
    threads: int = 2,
    memory_limit: str = "4GB",
    features: tuple[FeatureSpec, ...] = TABLE_FEATURES,
    request: tuple[RequestFeature, ...] = REQUEST_FEATURES,
    engine: OfflineEngine | None = None,
    generation: Generation | None = None,
) -> CampaignTableSummary:
    """Validate the lake's raw datasets and write the campaign table of ``campaign_id``.

    The table goes to ``out_uri`` or ``LAKE/curated/campaign_table/<campaign_id>/`` as
    ``part-NNNNN.parquet`` files plus a ``_manifest.json`` (written last), replacing what was
    there atomically. Invalid raw rows go to ``LAKE/quarantine/<dataset>/``. Raises
    :class:`DataError` for a campaign that is not in the lake (naming those that are), one
    without exactly one control arm, or one without valid assignments.
    """
    (summary,) = build_campaign_tables(
        lake_uri,
        [campaign_id],
        settings,
        out_uris=[out_uri] if out_uri else None,
        threads=threads,
        memory_limit=memory_limit,
        features=features,
        request=request,
        engine=engine,
        generation=generation,
    )
    return summary


def build_campaign_tables(
    lake_uri: str,
    campaign_ids: Sequence[str],
    settings: Settings | None = None,
    *,
    out_uris: Sequence[str] | None = None,
    threads: int = 2,
    memory_limit: str = "4GB",
    features: tuple[FeatureSpec, ...] = TABLE_FEATURES,
    request: tuple[RequestFeature, ...] = REQUEST_FEATURES,
    engine: OfflineEngine | None = None,
    generation: Generation | None = None,
) -> list[CampaignTableSummary]:
    """Like :func:`build_campaign_table` for several campaigns, validating the lake once.

    Every campaign is checked before any work starts; ``seconds`` of each summary counts from
    the start of the whole call. ``engine`` validates and aggregates the events (default: a
    :class:`~uplift_engine.features.offline.duckdb_engine.DuckDBEngine`); ``request``: the
    request-time features, computed from :data:`ASSIGNMENT_CONTEXT`. The quarantine and the
    tables are written as one generation of the lake (``generation``'s, when given), so readers
    see all of them or none.
    """
    started = time.perf_counter()
    specs = check_specs(features)
    request = _check_request(specs, request)
    engine = engine or DuckDBEngine()
    declared = source_checks(specs)
    sources = {source: check.name for source, check in declared.items()}
    event_sets = sorted(set(sources.values()))
    checks = {**CHECKS, **{check.name: check for check in declared.values()}}
    lake_uri = lake_uri.rstrip("/")
    if out_uris is not None and len(out_uris) != len(campaign_ids):
        raise UserInputError(
            f"got {len(out_uris)} output paths for {len(campaign_ids)} campaigns",
            field="out_uri",
        )
    outs = list(out_uris or [f"{lake_uri}/{layout.campaign_table_path(c)}" for c in campaign_ids])
    summaries = []
    with (
        writing(lake_uri, settings, command="build campaign tables", within=generation) as gen,
        duckdb_session(threads, memory_limit) as con,
    ):
        validator = LakeValidator(con, lake_uri, settings, checks, generation=gen)
        validator.check("campaigns")
        arms = {c: _arms(con, c) for c in campaign_ids}
        counts = {n: validator.validate(n).quarantined for n in CHECKS if n not in event_sets}
        counts.update(engine.prepare(validator, event_sets))
        quarantined = {name: counts[name] for name in checks}
        for campaign_id, out in zip(campaign_ids, outs, strict=True):
            feats = _features(con, engine, campaign_id, specs, sources, quarantined, lake_uri)
            summary = _build_one(
                con, campaign_id, arms[campaign_id], out, (specs, request), feats, quarantined,
                settings, engine.name, gen,
            )  # fmt: skip
            summaries.append(replace(summary, seconds=time.perf_counter() - started))
    return summaries


def _features(
    con: duckdb.DuckDBPyConnection,
    engine: OfflineEngine,
    campaign_id: str,
    specs: tuple[FeatureSpec, ...],
    sources: Mapping[str, str],
    quarantined: Mapping[str, int],
    lake_uri: str,
) -> str:
    """The campaign's entities as ``entities`` in ``con``, and the engine's feature relation."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE entities AS SELECT customer_id, assigned_at AS {AS_OF}, "
        "arm, channel FROM valid_campaign_assignments WHERE campaign_id = ?",
        [campaign_id],
    )
    if _count(con, "entities") == 0:
        raise DataError(
            f"campaign {campaign_id!r} has no valid assignment in {layout.ASSIGNMENTS}; "
            f"{quarantined['campaign_assignments']} rows are quarantined under "
            f"{lake_uri}/{quarantine_path('campaign_assignments')}",
            field="campaign_id",
        )
    bounds = as_of_bounds(con, "entities")
    carry = ("arm", "channel")
    return engine.features(con, specs, "entities", sources, carry=carry, bounds=bounds)


def _build_one(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    arms: tuple[tuple[str, ...], str],
    out: str,
    definitions: tuple[tuple[FeatureSpec, ...], tuple[RequestFeature, ...]],
    feats: str,
    quarantined: dict[str, int],
    settings: Settings | None,
    engine: str,
    generation: Generation,
) -> CampaignTableSummary:
    specs, request = definitions
    rows = _count(con, "entities")
    relation = con.sql(_table_sql(specs, feats), params=[campaign_id])
    schema = campaign_table_schema(specs, request)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "campaign_id": campaign_id,
        "arms": list(arms[0]),
        "control": arms[1],
        "roles": table_roles(),
        "rows": rows,
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
        "as_of": f"{layout.ASSIGNMENTS}.assigned_at",
        "windows": "half-open [as_of - window, as_of), UTC",
        "features": [_spec_dict(s) for s in specs],
        "request_features": [_request_dict(r) for r in request],
        "quarantined": quarantined,
        "engine": engine,
    }
    metadata = {META_KEY: json.dumps({k: manifest[k] for k in _META_KEYS}).encode()}
    reader = arrow_reader(relation, ROWS_PER_PART)
    written = _Rows(reader, schema.with_metadata(metadata), request)
    parts = replace_dataset(
        out,
        written,
        settings,
        generation=generation,
        rows_per_part=ROWS_PER_PART,
        extra_files={MANIFEST: json.dumps(manifest, indent=2).encode()},
    )
    if written.rows != rows:
        raise StorageError(  # pragma: no cover - an invariant of the query
            f"campaign table {out!r} has {written.rows} rows for {rows} assignments"
        )
    return CampaignTableSummary(
        campaign_id=campaign_id,
        path=out,
        rows=rows,
        columns=tuple(schema.names),
        features=(*(s.name for s in specs), *(r.name for r in request)),
        arms=arms[0],
        control=arms[1],
        seconds=0.0,
        parts=len(parts),
        quarantined=dict(quarantined),
        engine=engine,
    )


_META_KEYS = ("schema_version", "campaign_id", "arms", "control", "roles", "as_of", "windows")


def table_roles() -> dict[str, object]:
    """The column roles a campaign table declares, which ``uplift train`` takes by default.

    ``outcomes`` are every column measured after the assignment: whichever one a model learns,
    the others must never be its features (they would leak the answer).
    """
    return {
        "id": "customer_id",
        "treatment": "arm",
        "outcomes": list(OUTCOMES),
        "assigned_at": f"{layout.ASSIGNMENTS}.assigned_at",
    }


class _Rows:
    """The table's batches, counted as they pass to the writer.

    Request-time features are added from the assignment's context, the context is dropped and
    the columns are cast to the table's schema.
    """

    def __init__(
        self,
        reader: pa.RecordBatchReader,
        schema: pa.Schema,
        request: tuple[RequestFeature, ...],
    ) -> None:
        self.reader = reader
        self.schema = schema
        self.request = request
        self.rows = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        rename = {field: _CONTEXT + field for field in ASSIGNMENT_CONTEXT}
        for batch in self.reader:
            self.rows += batch.num_rows
            columns = dict(zip(batch.schema.names, batch.columns, strict=True))
            if self.request:
                computed = request_columns(self.request, pa.Table.from_batches([batch]), rename)
                for name, column in zip(computed.column_names, computed.columns, strict=True):
                    columns[name] = column.combine_chunks()
            arrays = [columns[f.name] for f in self.schema]
            yield pa.RecordBatch.from_arrays(arrays, names=self.schema.names).cast(self.schema)


def _arms(con: duckdb.DuckDBPyConnection, campaign_id: str) -> tuple[tuple[str, ...], str]:
    found = con.execute(
        "SELECT arm, is_control FROM checked_campaigns WHERE campaign_id = ? ORDER BY arm",
        [campaign_id],
    ).fetchall()
    if not found:
        sql = "SELECT DISTINCT campaign_id FROM checked_campaigns"
        present = [row[0] for row in con.execute(sql).fetchall()]
        raise DataError(
            f"campaign {campaign_id!r} is not in {layout.CAMPAIGNS}; campaigns present: "
            + (quote_values(present) if present else "none"),
            field="campaign_id",
        )
    controls = [arm for arm, is_control in found if is_control]
    if len(controls) != 1:
        raise DataError(
            f"campaign {campaign_id!r} has {len(controls)} control arms in {layout.CAMPAIGNS} "
            f"({quote_values(controls) if controls else 'none'}); expected exactly one",
            field="is_control",
        )
    return tuple(arm for arm, _ in found), controls[0]


def _check_request(
    specs: tuple[FeatureSpec, ...], request: tuple[RequestFeature, ...]
) -> tuple[RequestFeature, ...]:
    """The request-time features, if every one reads a field the assignment's context has."""
    request = tuple(request)
    taken = {s.name for s in specs} | {f.name for f in _STATIC} | {"customer_id", "arm"}
    for feature in request:
        if feature.field not in ASSIGNMENT_CONTEXT:
            raise ConfigError(
                f"request feature {feature.name!r} reads the payload field {feature.field!r}, "
                f"which a campaign's assignment does not record; it records: "
                f"{', '.join(ASSIGNMENT_CONTEXT)}",
                field="field",
            )
        if feature.name in taken:
            raise ConfigError(
                f"request feature {feature.name!r} is named like another column of the table",
                field="name",
            )
        taken.add(feature.name)
    return request


def _table_sql(specs: tuple[FeatureSpec, ...], features_sql: str) -> str:
    static = ", ".join(f'c."{f.name}"' for f in _STATIC)
    feats = ", ".join(f'f."{s.name}"' for s in specs)
    context = ", ".join(
        f'{"f." + AS_OF if column == "assigned_at" else "f." + column} AS "{_CONTEXT}{field}"'
        for field, column in ASSIGNMENT_CONTEXT.items()
    )
    return (
        f"SELECT f.customer_id, {static}, {feats}, {context}, f.arm, o.converted, "
        "CAST(coalesce(o.revenue, 0) AS DOUBLE) AS revenue "
        f"FROM {features_sql} f "
        "JOIN valid_customers c ON c.customer_id = f.customer_id "
        "JOIN valid_campaign_outcomes o ON o.campaign_id = ? AND o.customer_id = f.customer_id "
        "ORDER BY f.customer_id"
    )


def _spec_dict(spec: FeatureSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "source": spec.source.dataset,
        "event_type": spec.event_type,
        "aggregation": spec.aggregation,
        "value": spec.value,
        "window": spec.window,
        "type": str(spec.dtype),
        "description": spec.description,
    }


def _request_dict(feature: RequestFeature) -> dict[str, object]:
    return {
        "name": feature.name,
        "function": feature.function,
        "field": feature.field,
        "from": f"{layout.ASSIGNMENTS}.{ASSIGNMENT_CONTEXT[feature.field]}",
        "type": feature.type_name,
        "description": feature.description,
    }


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0])
