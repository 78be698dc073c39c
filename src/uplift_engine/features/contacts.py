"""Contact history: the offers a customer was sent and how they responded, as a source.

Two event types (DESIGN.md's Event, one JSON object each)::

    {"event_id": "…", "customer_id": 42, "type": "offer_sent", "ts": "2026-12-01T09:00:00+07:00",
     "offer": "cashback", "channel": "sms"}
    {"event_id": "…", "customer_id": 42, "type": "offer_response", "ts": "…",
     "offer": "cashback", "channel": "sms", "response": "ignored"}

``channel`` is optional (one of :data:`~uplift_engine.vocabulary.CONTACT_CHANNELS`),
``response`` is required for a response (``accepted``, ``declined`` or ``ignored``) and refused
for a sending. They come from the lake (``raw/contact_history``, validated with quarantine like
every raw dataset), from stream events (``POST /v1/events``, routed here by their type) and from
the service itself: an offer the service makes is recorded as an ``offer_sent`` whose id is the
decision's request id, so replaying the decision log adds nothing twice.

Invariant: a customer's contacts live in the online store as one window, field
``_w:contacts``, written only by :meth:`~uplift_engine.features.online.store.OnlineStore.
append_events` — the stream windows' atomic rules: an id already kept is a duplicate, an event
more than the lateness behind the customer's latest contact is late (a dead letter), contacts
older than the horizon are forgotten. A row is ``[ts,type,id,offer,channel,response]``
(JSON); :func:`decode_contacts` reads the store's ``[watermark,[row,…]]`` back in time order.
Materialising the lake's history is appending its rows: idempotent by the ids. Standard
library only (the request corridor reads it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from uplift_engine.errors import UserInputError
from uplift_engine.features.online.codec import customer_key, window_field
from uplift_engine.features.online.store import ACCEPTED, DUPLICATE, LATE, OnlineStore, WindowEvent
from uplift_engine.features.streaming.dead_letters import DeadLetter, as_text
from uplift_engine.features.streaming.ingest import IngestSummary
from uplift_engine.features.streaming.schema import (
    EventError,
    _entity,
    _event_id,
    _json_object,
    _timestamp,
    now_us,
)
from uplift_engine.features.streaming.sources import RawEvent
from uplift_engine.vocabulary import CONTACT_CHANNELS, CONTACT_TYPES, RESPONSES

CONTACTS_FIELD = window_field("contacts")
SENT, RESPONSE = CONTACT_TYPES
MAX_OFFER_LENGTH = 64
DAY_US = 86_400_000_000
KEEP_US = 180 * DAY_US
"""The least time a contact is kept (longer when a contact policy looks further back)."""
DEFAULT_LATENESS_US = 7 * DAY_US
"""How far behind a customer's latest contact a contact may arrive (a response often comes
days after the sending it answers; an ``ignored`` one when the offer expires)."""


class Contact(NamedTuple):
    """One contact event: UTC time in µs, type, id, offer, channel (or None), response."""

    ts: int
    type: str
    id: str
    offer: str
    channel: str | None
    response: str | None

    def row(self) -> str:
        """The window row the store keeps (starts with ``[<ts>,``, as the stores rely on)."""
        return json.dumps(list(self), separators=(",", ":"))


def parse_contact(raw: str | bytes | Mapping[str, object]) -> tuple[str, Contact]:
    """The customer's store key and the contact in one event; :class:`EventError` if invalid."""
    data = raw if isinstance(raw, Mapping) else _json_object(raw)
    event_id = _event_id(data, "event_id")
    customer = data.get("customer_id")
    if isinstance(customer, str):  # DESIGN.md's Id: an integer ≥ 0 or a string
        try:
            key = customer_key(customer)
        except UserInputError as exc:
            raise EventError("customer_id", exc.message) from None
    else:
        key = str(_entity(data, "customer_id"))
    kind = data.get("type")
    if kind not in CONTACT_TYPES:
        problem = "missing" if kind is None else f"not one of {', '.join(CONTACT_TYPES)}"
        raise EventError("type", problem)
    ts = _timestamp(data, "ts")
    offer = data.get("offer")
    if isinstance(offer, int | float) and not isinstance(offer, bool):
        offer = str(int(offer)) if float(offer).is_integer() else str(offer)
    if not isinstance(offer, str) or not 0 < len(offer) <= MAX_OFFER_LENGTH:
        problem = "missing" if offer is None else f"not a name of 1–{MAX_OFFER_LENGTH} characters"
        raise EventError("offer", problem)
    channel = data.get("channel")
    if channel is not None and channel not in CONTACT_CHANNELS:
        raise EventError("channel", f"not one of {', '.join(CONTACT_CHANNELS)}")
    response = data.get("response")
    if kind == RESPONSE and response not in RESPONSES:
        problem = "missing" if response is None else f"not one of {', '.join(RESPONSES)}"
        raise EventError("response", problem)
    if kind == SENT and response is not None:
        raise EventError("response", "given for an offer_sent (responses are their own events)")
    return key, Contact(ts, str(kind), event_id, offer, channel, response)  # type: ignore[arg-type]


def decode_contacts(text: str | None) -> tuple[Contact, ...]:
    """A customer's contacts from the store's window text, oldest first (empty for None)."""
    if not text:
        return ()
    _, rows = json.loads(text)
    return tuple(sorted(Contact(*row) for row in rows))


def contact_event(key: str, contact: Contact) -> WindowEvent:
    """The store's window event for one contact of the customer keyed ``key``."""
    return WindowEvent(key, contact.id, contact.ts, contact.row())


class ContactRecorder:
    """Adds contacts to the customers' histories in an online store (see the module docstring).

    ``horizon`` is how long a contact is kept (the contact policies' longest look back,
    :attr:`~uplift_engine.decide.contact_policy.ContactPolicies.horizon_us`), ``lateness`` how
    far behind a customer's latest contact another may still arrive.
    """

    def __init__(
        self, store: OnlineStore, horizon_us: int, *, lateness_us: int = DEFAULT_LATENESS_US
    ) -> None:
        self.store = store
        self.lateness_us = lateness_us
        self.horizon_us = max(horizon_us, KEEP_US) + lateness_us
        self.dead_letters: list[DeadLetter] = []
        self.accepted: list[tuple[str, Contact]] = []
        """The contacts the last :meth:`ingest_batch` kept (an accepted response settles a
        pacing hold)."""

    def record(self, contacts: Sequence[tuple[str, Contact]]) -> str:
        """Append (key, contact) pairs in order, atomically; one outcome code per contact."""
        if not contacts:
            return ""
        events = [contact_event(key, c) for key, c in contacts]
        return self.store.append_events(CONTACTS_FIELD, events, self.lateness_us, self.horizon_us)

    def ingest_batch(self, messages: Sequence[RawEvent]) -> IngestSummary:
        """Validate and append contact events; every message counted once (see ingestion)."""
        summary = IngestSummary(received=len(messages))
        valid: list[tuple[str, Contact]] = []
        sent: list[RawEvent] = []
        for message in messages:
            if message.error is not None:
                self._dead(message, message.error, summary)
                summary.malformed += 1
                continue
            try:
                valid.append(parse_contact(message.payload))
            except EventError as exc:
                self._dead(message, exc.reason, summary)
                summary.malformed += 1
                continue
            sent.append(message)
        codes = self.record(valid)
        summary.accepted = codes.count(ACCEPTED)
        summary.duplicates = codes.count(DUPLICATE)
        self.accepted = [v for v, code in zip(valid, codes, strict=True) if code == ACCEPTED]
        summary.customers = len({key for key, _ in self.accepted})
        days = self.lateness_us / DAY_US
        late = f"ts: more than {days:g} days behind the customer's latest contact"
        for message, code in zip(sent, codes, strict=True):
            if code == LATE:
                summary.late += 1
                self._dead(message, late, summary)
        return summary

    def take_dead_letters(self) -> list[DeadLetter]:
        """The dead letters gathered so far, handed over once (the caller writes them)."""
        letters, self.dead_letters = self.dead_letters, []
        return letters

    def _dead(self, message: RawEvent, reason: str, summary: IngestSummary) -> None:
        summary.reasons[reason] += 1
        letter = DeadLetter(as_text(message.payload), reason, message.origin, now_us())
        self.dead_letters.append(letter)


def is_contact(payload: object) -> bool:
    """Whether a stream message is a contact event (by its ``type``), to route it here."""
    if isinstance(payload, str | bytes):
        try:
            payload = _json_object(payload)
        except EventError:
            return False
    return isinstance(payload, Mapping) and payload.get("type") in CONTACT_TYPES
