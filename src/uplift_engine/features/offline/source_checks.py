"""Lake validation of a declared event source: a new source brings its own rules.

Invariant: the raw rows of any :class:`~uplift_engine.features.definitions.EventSource` are
validated like the lake's ``raw/events`` (:data:`~uplift_engine.lake.validate.CHECKS`
``["events"]``, which the built-in source uses as is): a row is quarantined when its id, entity
key, time or type is missing, its type is not one of the source's types, its time is outside
``[2000-01-01, 2100-01-01)``, a value column is missing for a valued type, negative or not
finite, or its id repeats (one row kept). These are the rules the stream's event schema
(:mod:`~uplift_engine.features.streaming.schema`) applies to a single event, so the offline and
online sides accept the same events. Ids and entity keys are integers in the lake.
"""

from __future__ import annotations

from collections.abc import Sequence

from uplift_engine.features.definitions import EVENTS, EventSource
from uplift_engine.lake.quality import CHECKS, TS_MAX, TS_MIN, Check, QualityRule


def check_name(source: EventSource) -> str:
    """The validation name of a source's dataset (``events`` for the lake's own events)."""
    return "events" if source == EVENTS else f"src_{source.name}"


def source_check(source: EventSource) -> Check:
    """The lake validation of a declared source's raw rows (``events``: the lake's check)."""
    import pyarrow as pa

    from uplift_engine.lake import layout

    if source == EVENTS:
        return CHECKS["events"]
    fields = [
        pa.field(source.id, pa.int64()),
        pa.field(source.entity, pa.int64()),
        pa.field(source.timestamp, layout.TIMESTAMP),
    ]
    if source.event_type:
        fields.append(pa.field(source.event_type, pa.string()))
    fields.extend(pa.field(v, pa.float64()) for v in source.values)
    ts = _q(source.timestamp)
    rules = [QualityRule(c, "missing", f"{_q(c)} IS NULL") for c in (source.id, source.entity)]
    rules.append(QualityRule(source.timestamp, "missing", f"{ts} IS NULL"))
    if source.event_type:
        kind = _q(source.event_type)
        rules.append(QualityRule(source.event_type, "missing", f"{kind} IS NULL"))
        if source.types:
            known = _list(source.types)
            rules.append(
                QualityRule(source.event_type, "unknown event type", f"{kind} NOT IN ({known})")
            )
    rules.append(
        QualityRule(
            source.timestamp,
            f"outside [{TS_MIN[:10]}, {TS_MAX[:10]})",
            f"{ts} < TIMESTAMPTZ '{TS_MIN}' OR {ts} >= TIMESTAMPTZ '{TS_MAX}'",
        )
    )
    valued = (
        f"{_q(source.event_type)} IN ({_list(source.valued_types)})"
        if source.event_type and source.valued_types
        else "false"
    )
    for value in source.values:
        column = _q(value)
        rules.append(QualityRule(value, "missing for its type", f"{valued} AND {column} IS NULL"))
        rules.append(QualityRule(value, "negative", f"{column} < 0"))
        rules.append(QualityRule(value, "not finite", f"NOT isfinite({column})"))
    return Check(
        name=check_name(source),
        path=source.dataset,
        schema=pa.schema(fields),
        key=(source.id,),
        duplicate=QualityRule(source.id, "duplicate event (one row kept)", ""),
        rules=tuple(rules),
        materialize=False,
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
