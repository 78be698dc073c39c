"""The DuckDB offline engine: point-in-time feature SQL generated from the feature specs.

Invariant: one query gives exactly one row per row of the entities relation (``key``,
``as_of``) — a customer without events gets the specs' empty values (0 or null), never a
missing row — and only events with ``as_of − w ≤ ts < as_of`` reach a feature of window
``w``. Time arithmetic is in integer microseconds since the epoch (UTC), so the half-open
window has no calendar or time-zone edge. :mod:`~uplift_engine.features.offline.spark_engine`
generates the same aggregates from the same specs for the Spark tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from uplift_engine.features.definitions import EventSource, FeatureSpec, check_specs

if TYPE_CHECKING:
    import duckdb

    from uplift_engine.lake.validate import LakeValidator

US_PER_DAY = 86_400_000_000
AS_OF = "as_of"


def feature_query(
    specs: Iterable[FeatureSpec],
    entities: str,
    sources: Mapping[str, str],
    *,
    key: str = "customer_id",
    carry: tuple[str, ...] = (),
    bounds: tuple[int, int] | None = None,
) -> str:
    """SQL for the features of ``specs`` as of each row of ``entities`` (``key``, ``as_of``).

    ``sources`` maps each spec's source name to the DuckDB relation holding its (validated)
    rows. ``bounds`` (``min``/``max`` of ``as_of`` in epoch microseconds), when given, adds a
    constant time filter that the scan of a large source can use. The result has the columns
    ``key``, ``as_of``, the ``carry`` columns of ``entities``, and one per spec in order.
    """
    specs = check_specs(specs)
    by_source: dict[EventSource, list[FeatureSpec]] = {}
    for spec in specs:
        by_source.setdefault(spec.source, []).append(spec)
    ctes: list[str] = []
    joins: list[str] = []
    outputs: dict[str, str] = {}
    for index, (source, group) in enumerate(by_source.items()):
        if source.name not in sources:
            raise KeyError(f"no relation given for source {source.name!r}")
        alias = f"agg_{index}"
        body = _aggregate_sql(source, group, sources[source.name], entities, key, bounds)
        ctes.append(f"{alias} AS ({body})")
        joins.append(
            f"LEFT JOIN {alias} ON {alias}.__key = q.{_id(key)} AND {alias}.__as_of = q.{AS_OF}"
        )
        for spec in group:
            outputs[spec.name] = _output(alias, spec)
    columns = ", ".join(
        [f"q.{_id(c)}" for c in (key, AS_OF, *carry)]
        + [f"{outputs[s.name]} AS {_id(s.name)}" for s in specs]
    )
    return f"WITH {', '.join(ctes)} SELECT {columns} FROM {entities} q {' '.join(joins)}"


class DuckDBEngine:
    """The in-process engine (the default tier): events validated and aggregated by DuckDB."""

    name = "duckdb"

    def prepare(self, validator: LakeValidator, datasets: Sequence[str]) -> dict[str, int]:
        """Validate the event datasets with the lake's validator; rows quarantined per name."""
        return {name: validator.validate(name).quarantined for name in datasets}

    def features(
        self,
        con: duckdb.DuckDBPyConnection,
        specs: tuple[FeatureSpec, ...],
        entities: str,
        sources: Mapping[str, str],
        *,
        carry: tuple[str, ...],
        bounds: tuple[int, int] | None,
    ) -> str:
        """The feature query over the validated relations ``valid_<dataset>``, parenthesised."""
        relations = {source: f"valid_{check}" for source, check in sources.items()}
        return f"({feature_query(specs, entities, relations, carry=carry, bounds=bounds)})"


def as_of_bounds(con: duckdb.DuckDBPyConnection, entities: str) -> tuple[int, int] | None:
    """The earliest and latest ``as_of`` of ``entities`` in epoch microseconds (None if empty)."""
    rows = con.execute(
        f"SELECT epoch_us(min({AS_OF})), epoch_us(max({AS_OF})) FROM {entities}"
    ).fetchall()
    low, high = rows[0] if rows else (None, None)
    return (int(low), int(high)) if low is not None and high is not None else None


def _aggregate_sql(
    source: EventSource,
    specs: list[FeatureSpec],
    relation: str,
    entities: str,
    key: str,
    bounds: tuple[int, int] | None,
) -> str:
    widest = max(s.window_us for s in specs)
    ts = f"e.{_id(source.timestamp)}"
    where = ["_d > 0", f"_d <= {widest}"]
    scan = [f"e.{_id(source.entity)} = q.{_id(key)}"]
    if bounds is not None:
        scan.append(f"{ts} >= {_timestamp(bounds[0] - widest)}")
        scan.append(f"{ts} < {_timestamp(bounds[1])}")
    types = {s.event_type for s in specs}
    if source.event_type and None not in types:
        listed = ", ".join(_literal(t) for t in sorted(t for t in types if t is not None))
        scan.append(f"e.{_id(source.event_type)} IN ({listed})")
    columns = [f"e.{_id(c)}" for c in source.values]
    if source.event_type:
        columns.append(f"e.{_id(source.event_type)} AS _type")
    aggregates = ", ".join(f"{_aggregate(s, widest)} AS {_id(s.name)}" for s in specs)
    return (
        f"SELECT __key, __as_of, {aggregates} FROM ("
        f"SELECT q.{_id(key)} AS __key, q.{AS_OF} AS __as_of, "
        f"epoch_us(q.{AS_OF}) - epoch_us({ts}) AS _d, {', '.join(columns) or 'NULL AS _none'} "
        f"FROM {relation} e JOIN {entities} q ON {' AND '.join(scan)}"
        f") WHERE {' AND '.join(where)} GROUP BY __key, __as_of"
    )


def _aggregate(spec: FeatureSpec, widest: int) -> str:
    conditions = []
    if spec.event_type is not None:
        conditions.append(f"_type = {_literal(spec.event_type)}")
    if spec.window_us < widest:
        conditions.append(f"_d <= {spec.window_us}")
    where = f" FILTER (WHERE {' AND '.join(conditions)})" if conditions else ""
    value = _id(spec.value) if spec.value else ""
    match spec.aggregation:
        case "count":
            return f"count(*){where}"
        case "sum" | "avg" | "min" | "max":
            return f"{spec.aggregation}({value}){where}"
        case "days_since":
            return f"min(_d){where} / {float(US_PER_DAY)}"
        case "active_days":
            return f"bit_count(bit_or(1::BIGINT << (((_d - 1) // {US_PER_DAY})::INTEGER)){where})"
    raise ValueError(f"no SQL for aggregation {spec.aggregation!r}")  # pragma: no cover


def _output(alias: str, spec: FeatureSpec) -> str:
    column = f"{alias}.{_id(spec.name)}"
    if spec.aggregation in ("count", "active_days"):
        return f"CAST(coalesce({column}, 0) AS INTEGER)"
    if spec.aggregation == "sum":
        return f"CAST(coalesce({column}, 0) AS DOUBLE)"
    return f"CAST({column} AS DOUBLE)"


def _timestamp(epoch_us: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us)
    return f"TIMESTAMPTZ '{moment.isoformat(sep=' ')}'"


def _id(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
