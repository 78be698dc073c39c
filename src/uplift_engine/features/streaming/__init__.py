"""Streaming ingestion: JSON events keep the near-real-time windows in the online store.

One event schema (:class:`EventSchema`, derived from the declared source) validates every
input — JSON lines from a file or stdin (:func:`json_lines`), Lambda Kinesis batches
(:func:`kinesis_records`), single events from the HTTP service
(:meth:`StreamIngestor.ingest_one`); :class:`StreamIngestor` applies them at least once
(duplicates counted once, late events within the lateness put in place — decided by the
online store where the windows live) and gathers the rest as dead letters that
:func:`write_dead_letters` keeps in the lake.
"""

from uplift_engine.features.streaming.dead_letters import (
    DeadLetter,
    dead_letter_path,
    write_dead_letters,
)
from uplift_engine.features.streaming.ingest import (
    IngestSummary,
    Outcome,
    StreamIngestor,
    duration_us,
)
from uplift_engine.features.streaming.schema import Event, EventError, EventSchema
from uplift_engine.features.streaming.sources import (
    RawEvent,
    json_lines,
    kinesis_event,
    kinesis_records,
)
from uplift_engine.features.streaming.windows import (
    WindowPlan,
    WindowPolicy,
    WindowState,
    event_row,
)

__all__ = [
    "DeadLetter",
    "Event",
    "EventError",
    "EventSchema",
    "IngestSummary",
    "Outcome",
    "RawEvent",
    "StreamIngestor",
    "WindowPlan",
    "WindowPolicy",
    "WindowState",
    "dead_letter_path",
    "duration_us",
    "event_row",
    "json_lines",
    "kinesis_event",
    "kinesis_records",
    "write_dead_letters",
]
