"""Stream events sent to the service (``POST /v1/events``) into the online store's windows.

The body is one event (DESIGN.md's Event: ``event_id``, ``customer_id``, ``type``, ``ts`` and
its fields) or ``{"events": [...]}``; every event is validated by the one event schema the
Kinesis and JSON-lines inputs use, and applied by the same
:class:`~uplift_engine.features.streaming.StreamIngestor`. Invariant: the answer counts every
event (``received = accepted + duplicates + dead letters``) and returns each rejected one with
its index and reason, so the sender knows exactly what to fix; nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

from uplift_engine.errors import UserInputError
from uplift_engine.features import FeatureReader
from uplift_engine.features.streaming import RawEvent, StreamIngestor

MAX_EVENTS = 1_000


def ingest_events(reader: FeatureReader, body: Any) -> dict[str, Any]:
    """Apply the events of one request body; the counts and the rejected events."""
    if isinstance(body, dict) and set(body) == {"events"}:
        events = body["events"]
        if not isinstance(events, list):
            raise UserInputError('"events" must be a list of event objects', field="events")
    elif isinstance(body, dict):
        events = [body]
    else:
        raise UserInputError(
            'the body must be one event object or {"events": [event, ...]}', field="events"
        )
    if len(events) > MAX_EVENTS:
        raise UserInputError(
            f"at most {MAX_EVENTS} events a request, got {len(events)}", field="events"
        )
    ingestor = StreamIngestor(reader.store, reader.registry.stream)
    summary = ingestor.ingest_batch([RawEvent(e, f"http[{i}]") for i, e in enumerate(events)])
    rejected = [
        {"index": int(letter.origin[5:-1]), "reason": letter.reason}
        for letter in ingestor.take_dead_letters()
    ]
    counts = summary.to_dict()
    return {
        "received": counts["received"],
        "accepted": counts["accepted"],
        "duplicates": counts["duplicates"],
        "rejected": rejected,
    }
