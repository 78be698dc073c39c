"""Stream events sent to the service (``POST /v1/events``) into the online store's windows.

The body is one event (DESIGN.md's Event: ``event_id``, ``customer_id``, ``type``, ``ts`` and
its fields) or ``{"events": [...]}``; every event is validated by the one event schema the
Kinesis and JSON-lines inputs use, and applied by the same
:class:`~uplift_engine.features.streaming.StreamIngestor`. Invariant: the answer counts every
event (``received = accepted + duplicates + dead letters``) and returns each rejected one with
its index and reason, so the sender knows exactly what to fix; nothing is dropped silently.
Contact events (``offer_sent``, ``offer_response``) are routed by their type to the customers'
contact histories (:class:`~uplift_engine.features.contacts.ContactRecorder`), the others to
the stream windows; one body may mix them.
"""

from __future__ import annotations

from typing import Any

from uplift_engine.errors import UserInputError
from uplift_engine.features import FeatureReader
from uplift_engine.features.contacts import KEEP_US, RESPONSE, Contact, ContactRecorder, is_contact
from uplift_engine.features.streaming import IngestSummary, RawEvent, StreamIngestor
from uplift_engine.serve.pacing import Pacer

MAX_EVENTS = 1_000


def ingest_events(
    reader: FeatureReader,
    body: Any,
    contacts_horizon_us: int = KEEP_US,
    pacer: Pacer | None = None,
) -> dict[str, Any]:
    """Apply the events of one request body; the counts and the rejected events.

    ``contacts_horizon_us``: how long the contact history is kept (the contact policies'
    longest look back, when longer than the default); ``pacer``: the campaign whose holds an
    accepted response keeps (:func:`redeem_accepted`).
    """
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
    messages = [RawEvent(e, f"http[{i}]") for i, e in enumerate(events)]
    contacts = [m for m in messages if is_contact(m.payload)]
    others = [m for m in messages if not is_contact(m.payload)]
    summary = IngestSummary()
    letters = []
    if contacts:
        recorder = ContactRecorder(reader.store, contacts_horizon_us)
        summary.add(recorder.ingest_batch(contacts))
        letters += recorder.take_dead_letters()
        redeem_accepted(pacer, recorder.accepted)
    if others:
        ingestor = StreamIngestor(reader.store, reader.registry.stream)
        summary.add(ingestor.ingest_batch(others))
        letters += ingestor.take_dead_letters()
    found = sorted((int(letter.origin[5:-1]), letter.reason) for letter in letters)
    rejected = [{"index": index, "reason": reason} for index, reason in found]
    counts = summary.to_dict()
    return {
        "received": counts["received"],
        "accepted": counts["accepted"],
        "duplicates": counts["duplicates"],
        "rejected": rejected,
    }


def redeem_accepted(pacer: Pacer | None, accepted: list[tuple[str, Contact]]) -> int:
    """Keep the pacing holds of the offers these contacts accepted; how many were kept."""
    if pacer is None:
        return 0
    kept = 0
    for key, contact in accepted:
        if contact.type == RESPONSE and contact.response == "accepted":
            kept += pacer.redeem(key, contact.offer)
    return kept
