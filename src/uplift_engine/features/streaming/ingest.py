"""Stream ingestion: events update the customers' window states in the online store.

Invariant: every message received is counted exactly once as accepted, duplicate (same event
id as one already counted for the customer: delivery is at-least-once, so copies are expected
and are not errors), or dead letter — malformed (the one event schema of
:mod:`.schema` says why), late (more than the allowed lateness behind the customer's latest
event) or from the future (more than the allowed clock skew ahead of the clock). Nothing is
dropped silently: ``received = accepted + duplicates + dead letters``. A batch is parsed here
and handed to the store in arrival order in one call
(:meth:`~uplift_engine.features.online.store.OnlineStore.append_events`), which decides
accepted / duplicate / late where the windows live, atomically, by the rules of
:mod:`.windows` — so a batch and one-at-a-time give the same windows, and several writers (a
service, Lambdas) share them without reading them first, without compare-and-set and without
retries. The clock that tells events from the future is read once per batch; cyclic garbage
collection waits while a large batch is applied (see :func:`_gc_paused`).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import islice
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from uplift_engine.config.settings import StreamingSettings

from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.online.codec import window_field
from uplift_engine.features.online.store import LATE, OnlineStore, WindowEvent
from uplift_engine.features.streaming.dead_letters import DeadLetter, as_text
from uplift_engine.features.streaming.schema import EventError, EventSchema, now_us
from uplift_engine.features.streaming.sources import RawEvent
from uplift_engine.features.streaming.windows import WindowPlan, WindowPolicy, event_row

ACCEPTED, DUPLICATE = "accepted", "duplicate"
_key_of = itemgetter(0)
_UNIT_US = {"d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}
_GC_PAUSE_BATCH = 100  # smaller batches allocate too little for collections to matter


def duration_us(text: str) -> int:
    """A duration like ``"10m"`` (``"0s"`` allowed) in microseconds."""
    if not isinstance(text, str) or len(text) < 2 or not text[:-1].isdigit():
        raise ConfigError(f"expected a duration like '10m', got {text!r}", field="lateness")
    if text[-1] not in _UNIT_US:
        raise ConfigError(f"expected a duration in d, h, m or s, got {text!r}", field="lateness")
    return int(text[:-1]) * _UNIT_US[text[-1]]


class Outcome(NamedTuple):
    """What became of one message, with the dead letter's reason when it is one.

    ``status`` is ``accepted``, ``duplicate``, ``late``, ``future`` or ``malformed``.
    """

    status: str
    reason: str | None = None


@dataclass
class IngestSummary:
    """Counts of one ingestion; ``received = accepted + duplicates + late + future + malformed``."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    future: int = 0
    malformed: int = 0
    customers: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    dead_letters_uri: str | None = None

    @property
    def dead_letters(self) -> int:
        """Messages that went to the dead letters."""
        return self.late + self.future + self.malformed

    def add(self, other: IngestSummary) -> None:
        """Add another summary's counts to this one."""
        for name in ("received", "accepted", "duplicates", "late", "future", "malformed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.customers += other.customers
        self.seconds += other.seconds
        self.reasons.update(other.reasons)

    def to_dict(self) -> dict[str, object]:
        """The counts as plain JSON-ready values."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "dead_letters": self.dead_letters,
            "late": self.late,
            "future": self.future,
            "malformed": self.malformed,
            "customers_updated": self.customers,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.received / self.seconds) if self.seconds else None,
            "reasons": dict(self.reasons.most_common()),
            "dead_letters_uri": self.dead_letters_uri,
        }


class StreamIngestor:
    """Applies one source's events to its customers' window states in an online store."""

    def __init__(
        self,
        store: OnlineStore,
        specs: Sequence[FeatureSpec],
        *,
        lateness: str = "10m",
        max_clock_skew: str | None = "5m",
        clock: Callable[[], int] = now_us,
    ) -> None:
        stream = [s for s in specs if s.tier == "stream"]
        if not stream:
            raise ConfigError("the stream has no near-real-time (tier stream) features to keep")
        sources = {s.source for s in stream}
        if len(sources) != 1:
            names = ", ".join(sorted(s.name for s in sources))
            raise ConfigError(f"one stream feeds one source, got several: {names}")
        self.plan = WindowPlan(stream)
        self.source = self.plan.source
        self.schema = EventSchema(self.source)
        self.field = window_field(self.source.name)
        self.policy = WindowPolicy(duration_us(lateness), self.plan.longest_window_us)
        self.lateness = lateness
        self.max_clock_skew = max_clock_skew
        self._skew_us = None if max_clock_skew is None else duration_us(max_clock_skew)
        self.store = store
        self.clock = clock
        self.dead_letters: list[DeadLetter] = []
        self._quoted_types: dict[str | None, str] = {None: "null"}
        self._quoted_types.update((t, encode_basestring_ascii(t)) for t in self.source.types)
        self._late_reason = (
            f"{self.source.timestamp}: more than {lateness} behind the customer's latest event"
        )
        self._future_reason = (
            f"{self.source.timestamp}: more than {max_clock_skew} ahead of the clock"
        )

    @classmethod
    def from_settings(
        cls,
        store: OnlineStore,
        specs: Sequence[FeatureSpec],
        settings: StreamingSettings,
        *,
        clock: Callable[[], int] = now_us,
    ) -> StreamIngestor:
        """An ingestor with the lateness and clock skew of the settings."""
        return cls(
            store,
            specs,
            lateness=settings.lateness,
            max_clock_skew=settings.max_clock_skew,
            clock=clock,
        )

    def ingest(self, messages: Iterable[RawEvent], batch_size: int = 10_000) -> IngestSummary:
        """Apply every message, ``batch_size`` at a time; the summary of them all."""
        if batch_size < 1:
            raise ConfigError(
                f"batch size must be at least 1, got {batch_size}", field="batch_size"
            )
        items = iter(messages)
        total = IngestSummary()
        pause = _gc_paused if batch_size >= _GC_PAUSE_BATCH else nullcontext
        while True:
            with pause():  # the batch's messages are made while collections wait too
                batch = list(islice(items, batch_size))
                if not batch:
                    return total
                total.add(self.ingest_batch(batch))

    def ingest_batch(self, messages: Sequence[RawEvent]) -> IngestSummary:
        """Apply a batch of messages with one store call (one round trip or transaction)."""
        started = time.perf_counter()
        summary = IngestSummary(received=len(messages))
        with _gc_paused() if len(messages) >= _GC_PAUSE_BATCH else nullcontext():
            events, sent = self._parse(messages, summary)
            if events:
                codes = self.store.append_events(
                    self.field, events, self.policy.lateness_us, self.policy.horizon_us
                )
                self._count(codes, events, sent, summary)
            del events, sent  # freed before collections resume
        summary.seconds = time.perf_counter() - started
        return summary

    def ingest_one(
        self, payload: str | bytes | Mapping[str, object], origin: str = "http"
    ) -> Outcome:
        """Apply one message (e.g. from the HTTP event endpoint); what became of it."""
        summary = self.ingest_batch([RawEvent(payload, origin)])
        if summary.accepted:
            return Outcome(ACCEPTED)
        if summary.duplicates:
            return Outcome(DUPLICATE)
        reason = self.dead_letters[-1].reason
        for status in ("late", "future", "malformed"):
            if getattr(summary, status):
                return Outcome(status, reason)
        raise AssertionError("unreachable: every message has an outcome")  # pragma: no cover

    def take_dead_letters(self) -> list[DeadLetter]:
        """The dead letters gathered so far, handed over once (the caller writes them)."""
        letters, self.dead_letters = self.dead_letters, []
        return letters

    def _parse(
        self, messages: Sequence[RawEvent], summary: IngestSummary
    ) -> tuple[list[WindowEvent], list[RawEvent]]:
        """The valid events of the batch in arrival order, and their messages.

        The rest are dead letters. The clock is read once for the batch: "from the future"
        means ahead of its start.
        """
        parse = self.schema.parse
        limit = None if self._skew_us is None else self.clock() + self._skew_us
        events: list[WindowEvent] = []
        sent: list[RawEvent] = []
        add_event, add_message = events.append, sent.append
        new = tuple.__new__  # a WindowEvent without the keyword layer of its __new__
        quoted, quote = self._quoted_types, encode_basestring_ascii
        for message in messages:
            if message[2] is not None:  # the envelope was broken
                summary.malformed += 1
                self._dead(message, message[2], summary)
                continue
            try:
                event_id, key, kind, ts, values = parse(message[0])
            except EventError as exc:
                summary.malformed += 1
                self._dead(message, exc.reason, summary)
                continue
            if limit is not None and ts > limit:
                summary.future += 1
                self._dead(message, self._future_reason, summary)
                continue
            kind_text = quoted.get(kind)  # event_row, inlined for one value of a known type
            if kind_text is not None and len(values) == 1:
                value = values[0]
                tail = "null" if value is None else repr(value)
                row = f"[{ts},{kind_text},{quote(event_id)},{tail}]"
            else:
                row = event_row(ts, kind, event_id, values)
            add_event(new(WindowEvent, (str(key), event_id, ts, row)))
            add_message(message)
        return events, sent

    def _count(
        self,
        codes: str,
        events: list[WindowEvent],
        sent: list[RawEvent],
        summary: IngestSummary,
    ) -> None:
        accepted = codes.count("a")
        summary.accepted += accepted
        summary.duplicates += codes.count("d")
        if accepted == len(codes):
            summary.customers += len(set(map(_key_of, events)))
        else:
            summary.customers += len({e[0] for e, c in zip(events, codes, strict=True) if c == "a"})
        if LATE in codes:
            for message, code in zip(sent, codes, strict=True):
                if code == LATE:
                    summary.late += 1
                    self._dead(message, self._late_reason, summary)

    def _dead(self, message: RawEvent, reason: str, summary: IngestSummary) -> None:
        summary.reasons[reason] += 1
        self.dead_letters.append(
            DeadLetter(as_text(message.payload), reason, message.origin, self.clock())
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is applied (unless it was off already).

    A batch allocates containers that all live until it ends; collections in between would
    move them to the oldest generation and set off full collections that walk every object
    the process holds (the SQLite store's cached window heads among them) — a large share of
    the batch's time. Reference counting still frees memory as usual; the deferred collection
    runs after the batch.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
