"""The consistency check: online values against the offline engine at the same time.

Invariant: for a seeded sample of the lake's valid customers, every batch feature read from the
online store is compared with the offline engine's value as of the time it was materialised
for (the customer's ``_as_of``), and every stream feature — computed from the stored window
state as of ``at`` — with the offline engine's value as of ``at`` over the lake's events. Both
sides use the one set of definitions; the offline side is the engine that builds training sets.
A pair matches when both are null or ``|online − offline| ≤ 1e-9 · max(|online|, |offline|)``
(counts must be equal; sums of the same amounts may differ in the last bits when added in
another order). A sampled customer without materialised values is reported as missing, and
its batch features are not compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError, UserInputError
from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.offline.duckdb_engine import AS_OF
from uplift_engine.features.offline.lake_values import KEY, LakeFeatures, lake_features
from uplift_engine.features.online.codec import AS_OF_FIELD, decode_value, window_field
from uplift_engine.features.online.store import OnlineStore
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.streaming.schema import epoch_us, iso_utc
from uplift_engine.features.streaming.windows import WindowPlan, WindowState

SCHEMA_VERSION = "uplift.feature_skew/1"
RELATIVE_TOLERANCE = 1e-9
MAX_EXAMPLES = 5

Value = int | float | None


@dataclass(frozen=True)
class FeatureSkew:
    """How one feature's online values compare with the offline ones."""

    name: str
    tier: str
    compared: int
    mismatches: int
    max_abs_diff: float | None
    examples: tuple[dict[str, object], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The comparison as plain JSON-ready values."""
        return {
            "feature": self.name,
            "tier": self.tier,
            "compared": self.compared,
            "mismatches": self.mismatches,
            "max_abs_diff": self.max_abs_diff,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class SkewReport:
    """The outcome of a consistency check."""

    customers: int
    missing: int
    at: str
    features: tuple[FeatureSkew, ...] = field(default_factory=tuple)

    @property
    def mismatches(self) -> int:
        """Mismatching values over all features."""
        return sum(f.mismatches for f in self.features)

    @property
    def ok(self) -> bool:
        """No skew and no sampled customer missing from the store."""
        return self.mismatches == 0 and self.missing == 0

    def to_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready values."""
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": self.ok,
            "customers": self.customers,
            "missing_online": self.missing,
            "stream_at": self.at,
            "mismatches": self.mismatches,
            "relative_tolerance": RELATIVE_TOLERANCE,
            "features": [f.to_dict() for f in self.features],
        }


def check_consistency(
    lake_uri: str,
    store: OnlineStore,
    registry: FeatureRegistry | None = None,
    *,
    sample: int = 1000,
    at: datetime | None = None,
    seed: int = 0,
    settings: Settings | None = None,
    threads: int = 2,
    memory_limit: str = "2GB",
) -> SkewReport:
    """Compare a sample of customers' online features with the offline computation."""
    if sample < 1:
        raise UserInputError(f"sample must be at least 1, got {sample}", field="sample")
    registry = registry or default_registry()
    moment = at or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ConfigError(f"at needs a time zone, got {moment.isoformat()}", field="at")
    at_us = epoch_us(moment)
    sources = tuple({s.source: None for s in registry.features})
    with lake_features(
        lake_uri, sources, settings, threads=threads, memory_limit=memory_limit
    ) as lake:
        ids = [
            int(row[0])
            for row in lake.con.execute(
                f"SELECT {KEY} FROM {lake.customers()} "
                f"ORDER BY hash({KEY} + ?::BIGINT), {KEY} LIMIT ?",
                [seed, sample],
            ).fetchall()
        ]
        rows = store.get_many([str(i) for i in ids])
        present = [(i, r) for i, r in zip(ids, rows, strict=True) if AS_OF_FIELD in r]
        skews: list[FeatureSkew] = []
        if registry.batch and present:
            entities = [(i, int(r[AS_OF_FIELD])) for i, r in present]
            offline = _offline(lake, registry.batch, entities)
            online = {i: r for i, r in present}
            skews += _compare(
                registry.batch,
                {
                    i: {s.name: decode_value(online[i].get(s.name), s) for s in registry.batch}
                    for i in online
                },
                offline,
            )
        stream_online: dict[int, dict[str, Value]] = {i: {} for i in ids}
        for source, specs in registry.groups("stream").items():
            plan = WindowPlan(specs)
            name = window_field(source.name)
            for i, r in zip(ids, rows, strict=True):
                state = WindowState.decode(r[name], len(source.values)) if name in r else None
                stream_online[i].update(plan.values(state, at_us))
        if registry.stream and ids:
            offline = _offline(lake, registry.stream, [(i, at_us) for i in ids])
            skews += _compare(registry.stream, stream_online, offline)
    order = {name: index for index, name in enumerate(registry.names)}
    skews.sort(key=lambda s: order[s.name])
    return SkewReport(len(ids), len(ids) - len(present), iso_utc(at_us), tuple(skews))


def _offline(
    lake: LakeFeatures, specs: tuple[FeatureSpec, ...], entities: list[tuple[int, int]]
) -> dict[int, dict[str, Value]]:
    import pyarrow as pa

    from uplift_engine.lake import layout

    table = pa.table(
        {
            KEY: pa.array([e[0] for e in entities], pa.int64()),
            AS_OF: pa.array([e[1] for e in entities], pa.int64()).cast(layout.TIMESTAMP),
        }
    )
    lake.con.register("check_input", table)
    lake.con.execute("CREATE OR REPLACE TEMP TABLE check_entities AS SELECT * FROM check_input")
    lake.con.unregister("check_input")
    query = f'SELECT * EXCLUDE ("{AS_OF}") FROM ({lake.query(specs, "check_entities")})'
    names = [s.name for s in specs]
    return {int(r[0]): dict(zip(names, r[1:], strict=True)) for r in lake.con.sql(query).fetchall()}


def _compare(
    specs: tuple[FeatureSpec, ...],
    online: dict[int, dict[str, Value]],
    offline: dict[int, dict[str, Value]],
) -> list[FeatureSkew]:
    skews = []
    for spec in specs:
        mismatches = 0
        worst: float | None = None
        examples: list[dict[str, object]] = []
        for customer, values in online.items():
            mine, theirs = values[spec.name], offline[customer][spec.name]
            diff = _difference(mine, theirs)
            if diff is not None and not math.isinf(diff):
                worst = diff if worst is None else max(worst, diff)
            if not _matches(mine, theirs):
                mismatches += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append({"customer_id": customer, "online": mine, "offline": theirs})
        skews.append(
            FeatureSkew(spec.name, spec.tier, len(online), mismatches, worst, tuple(examples))
        )
    return skews


def _difference(a: Value, b: Value) -> float | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        return math.inf
    return abs(float(a) - float(b))


def _matches(a: Value, b: Value) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= RELATIVE_TOLERANCE * max(abs(float(a)), abs(float(b)))
