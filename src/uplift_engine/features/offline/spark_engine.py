"""The Spark offline engine: the point-in-time feature plan generated from the feature specs.

Invariant (the same as :mod:`~uplift_engine.features.offline.duckdb_engine`, so both tiers give the
same table): the result has exactly one row per row of the entities frame (``key``,
``as_of``) — a customer without events gets the specs' empty values (0 or null), never a
missing row — and only events with ``as_of − w ≤ ts < as_of`` reach a feature of window
``w``. Time arithmetic is in integer microseconds since the epoch (``unix_micros``), so the
half-open window has no calendar or time-zone edge. Every aggregate is derived from a
:class:`~uplift_engine.features.definitions.FeatureSpec`; there is no per-feature code.

PySpark is imported only by the functions that need it (an optional extra).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from uplift_engine.features.definitions import EventSource, FeatureSpec, check_specs
from uplift_engine.features.offline.duckdb_engine import AS_OF, US_PER_DAY

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_KEY, _AS_OF, _D, _TYPE = "__key", "__as_of", "__d", "__type"


def feature_frame(
    specs: Iterable[FeatureSpec],
    entities: DataFrame,
    sources: Mapping[str, DataFrame],
    *,
    key: str = "customer_id",
    carry: tuple[str, ...] = (),
    bounds: tuple[int, int] | None = None,
) -> DataFrame:
    """The features of ``specs`` as of each row of ``entities`` (``key``, ``as_of``), in Spark.

    ``sources`` maps each spec's source name to a DataFrame of its (validated) rows.
    ``bounds`` (``min``/``max`` of ``as_of`` in epoch microseconds), when given, adds a
    constant time filter that the scan can push down. The result has the columns ``key``,
    ``as_of``, the ``carry`` columns of ``entities``, and one per spec in order — the columns
    and types of :func:`~uplift_engine.features.offline.duckdb_engine.feature_query`.
    """
    from pyspark.sql import functions as F

    specs = check_specs(specs)
    by_source: dict[EventSource, list[FeatureSpec]] = {}
    for spec in specs:
        by_source.setdefault(spec.source, []).append(spec)
    result = entities.select(key, AS_OF, *carry)
    for index, (source, group) in enumerate(by_source.items()):
        if source.name not in sources:
            raise KeyError(f"no DataFrame given for source {source.name!r}")
        agg = _aggregate(source, group, sources[source.name], entities, key, bounds)
        agg = agg.select(
            F.col(_KEY).alias(f"{_KEY}{index}"),
            F.col(_AS_OF).alias(f"{_AS_OF}{index}"),
            *(F.col(s.name) for s in group),
        )
        on = (F.col(key) == F.col(f"{_KEY}{index}")) & (F.col(AS_OF) == F.col(f"{_AS_OF}{index}"))
        result = result.join(agg, on, "left").drop(f"{_KEY}{index}", f"{_AS_OF}{index}")
    return result.select(key, AS_OF, *carry, *(_output(s) for s in specs))


def _aggregate(
    source: EventSource,
    specs: list[FeatureSpec],
    events: DataFrame,
    entities: DataFrame,
    key: str,
    bounds: tuple[int, int] | None,
) -> DataFrame:
    from pyspark.sql import functions as F

    widest = max(s.window_us for s in specs)
    scan = events
    ts = F.col(source.timestamp)
    if bounds is not None:
        scan = scan.where(
            (ts >= F.timestamp_micros(F.lit(bounds[0] - widest)))
            & (ts < F.timestamp_micros(F.lit(bounds[1])))
        )
    types = {s.event_type for s in specs}
    if source.event_type and None not in types:
        scan = scan.where(F.col(source.event_type).isin(sorted(t for t in types if t)))
    columns = [F.col(c) for c in source.values]
    if source.event_type:
        columns.append(F.col(source.event_type).alias(_TYPE))
    scan = scan.select(F.col(source.entity).alias(_KEY), F.unix_micros(ts).alias("__ts"), *columns)
    q = entities.select(F.col(key).alias("__qkey"), F.col(AS_OF).alias(_AS_OF))
    joined = scan.join(q, F.col(_KEY) == F.col("__qkey"), "inner")
    joined = joined.withColumn(_D, F.unix_micros(F.col(_AS_OF)) - F.col("__ts"))
    joined = joined.where((F.col(_D) > 0) & (F.col(_D) <= F.lit(widest)))
    aggregates = [_aggregate_column(s, widest).alias(s.name) for s in specs]
    return joined.groupBy(_KEY, _AS_OF).agg(*aggregates)


def _aggregate_column(spec: FeatureSpec, widest: int) -> Column:
    from pyspark.sql import functions as F

    condition = F.lit(True)
    if spec.event_type is not None:
        condition = condition & (F.col(_TYPE) == F.lit(spec.event_type))
    if spec.window_us < widest:
        condition = condition & (F.col(_D) <= F.lit(spec.window_us))

    def kept(value: Column) -> Column:
        return F.when(condition, value)

    match spec.aggregation:
        case "count":
            return F.count(kept(F.lit(1)))
        case "sum":
            return F.sum(kept(F.col(str(spec.value))))
        case "avg":
            return F.avg(kept(F.col(str(spec.value))))
        case "min":
            return F.min(kept(F.col(str(spec.value))))
        case "max":
            return F.max(kept(F.col(str(spec.value))))
        case "days_since":
            return F.min(kept(F.col(_D))) / F.lit(float(US_PER_DAY))
        case "active_days":
            period = f"CAST((`{_D}` - 1) div {US_PER_DAY} AS INT)"
            bit = F.expr(f"shiftleft(CAST(1 AS BIGINT), {period})")
            return F.bit_count(F.bit_or(kept(bit)))
    raise ValueError(f"no Spark plan for aggregation {spec.aggregation!r}")  # pragma: no cover


def _output(spec: FeatureSpec) -> Column:
    from pyspark.sql import functions as F

    column = F.col(spec.name)
    if spec.aggregation in ("count", "active_days"):
        return F.coalesce(column, F.lit(0)).cast("int").alias(spec.name)
    if spec.aggregation == "sum":
        return F.coalesce(column.cast("double"), F.lit(0.0)).alias(spec.name)
    return column.cast("double").alias(spec.name)
