"""Materialisation: the latest batch feature values of every customer, into the online store.

Invariant: after :func:`materialize` every valid customer of the lake has, in the store, the
value of every batch-tier feature as of one time ``as_of``, computed by the
offline engine from the lake (so a customer without events gets 0 counts and null averages,
exactly as in a training set), plus ``_as_of`` (that time in epoch microseconds); the key
``_meta`` records the run. Beside them go the customer's attributes from the lake's customers
dataset (``segment``, ``age``, VIP flags …: what the rules read, and what a model trained on
them reads), as ``a:<name>`` fields, so that a rule and a model see the same values in batch
and in real time. Batch fields are overwritten, window states are left alone (they belong to
the stream). Values are written in batches of 50,000 customers.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.offline.duckdb_engine import AS_OF
from uplift_engine.features.offline.lake_values import KEY, lake_features
from uplift_engine.features.online.codec import (
    AS_OF_FIELD,
    META_KEY,
    attribute_field,
    encode_value,
)
from uplift_engine.features.online.store import OnlineStore
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.streaming.schema import epoch_us, iso_utc

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = "uplift.online_materialization/1"
ROWS_PER_BATCH = 50_000


@dataclass(frozen=True)
class MaterializeSummary:
    """What a materialisation wrote."""

    customers: int
    features: tuple[str, ...]
    as_of: str
    store: str
    version: str
    seconds: float
    quarantined: dict[str, int] = field(default_factory=dict)
    as_of_from: str = "given"
    """Where ``as_of`` came from: ``given``, ``latest event`` (the lake's last event, the
    default: a lake of past events would otherwise give every window 0) or ``now`` (no event)."""

    def to_dict(self) -> dict[str, object]:
        """The summary as plain JSON-ready values."""
        return {
            "schema_version": SCHEMA_VERSION,
            "customers": self.customers,
            "features": list(self.features),
            "as_of": self.as_of,
            "as_of_from": self.as_of_from,
            "store": self.store,
            "version": self.version,
            "seconds": round(self.seconds, 3),
            "quarantined": dict(self.quarantined),
        }


def materialize(
    lake_uri: str,
    store: OnlineStore,
    registry: FeatureRegistry | None = None,
    *,
    as_of: datetime | None = None,
    settings: Settings | None = None,
    threads: int = 2,
    memory_limit: str = "2GB",
) -> MaterializeSummary:
    """Compute every valid customer's batch features as of ``as_of`` and put them in ``store``.

    Without ``as_of``: just after the lake's latest valid event, so that every event counts
    (the clock's now, for a lake that holds no event).
    """
    started = time.perf_counter()
    registry = registry or default_registry()
    specs = registry.batch
    if not specs:
        raise ConfigError("the definitions hold no batch feature to materialise", field="features")
    if as_of is not None and as_of.tzinfo is None:
        raise ConfigError(f"as_of needs a time zone, got {as_of.isoformat()}", field="as_of")
    version = uuid.uuid4().hex[:12]
    sources = tuple({s.source: None for s in specs})
    with lake_features(
        lake_uri, sources, settings, threads=threads, memory_limit=memory_limit
    ) as lake:
        origin = "given"
        if as_of is not None:
            at = epoch_us(as_of)
        else:
            latest = lake.latest_event_us(sources)
            origin = "now" if latest is None else "latest event"
            at = epoch_us(datetime.now(UTC)) if latest is None else latest + 1
        lake.con.execute(
            f"CREATE TEMP TABLE entities AS SELECT {KEY}, CAST(? AS TIMESTAMPTZ) AS {AS_OF} "
            f"FROM {lake.customers()}",
            [iso_utc(at)],
        )
        reader = lake.batches(specs, "entities")
        customers = store.put(_rows(reader, specs, str(at)))
        attributes = lake.con.sql(f"SELECT * FROM {lake.customers()}").to_arrow_reader(
            ROWS_PER_BATCH
        )
        store.put(_attribute_rows(attributes))
        quarantined = dict(lake.quarantined)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "as_of": iso_utc(at),
        "as_of_us": str(at),
        "features": json.dumps([s.name for s in specs]),
        "version": version,
        "customers": str(customers),
        "materialized_at": datetime.now(UTC).isoformat(),
    }
    store.put([(META_KEY, meta)])
    return MaterializeSummary(
        customers=customers,
        features=tuple(s.name for s in specs),
        as_of=iso_utc(at),
        store=repr(store),
        version=version,
        seconds=time.perf_counter() - started,
        quarantined=quarantined,
        as_of_from=origin,
    )


def _attribute_rows(reader: pa.RecordBatchReader) -> Iterator[tuple[str, dict[str, str]]]:
    """Each customer's attributes (``segment``, ``age`` …) as ``a:<name>`` fields (JSON text)."""
    for batch in reader:
        keys = batch.column(KEY).to_pylist()
        names = [n for n in batch.schema.names if n != KEY]
        columns = [batch.column(n).to_pylist() for n in names]
        for key, *values in zip(keys, *columns, strict=True):
            yield (
                str(key),
                {
                    attribute_field(n): json.dumps(v, default=str)
                    for n, v in zip(names, values, strict=True)
                },
            )


def _rows(
    reader: pa.RecordBatchReader, specs: Sequence[FeatureSpec], as_of_text: str
) -> Iterator[tuple[str, dict[str, str]]]:
    names = [s.name for s in specs]
    for batch in reader:
        keys = batch.column(KEY).to_pylist()
        columns = [batch.column(name).to_pylist() for name in names]
        for key, *values in zip(keys, *columns, strict=True):
            fields = {name: encode_value(v) for name, v in zip(names, values, strict=True)}
            fields[AS_OF_FIELD] = as_of_text
            yield str(key), fields
