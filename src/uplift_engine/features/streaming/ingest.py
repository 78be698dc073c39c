"""Stream ingestion: events update the customers' window states in the online store.

Invariant: every message received is counted exactly once as accepted, duplicate (same event
id as one already counted for the customer: delivery is at-least-once, so copies are expected
and are not errors), or dead letter — malformed (the one event schema of
:mod:`.schema` says why), late (more than the allowed lateness behind the customer's latest
event) or from the future (more than the allowed clock skew ahead of the clock). Nothing is
dropped silently: ``received = accepted + duplicates + dead letters``. A batch reads the states
of all its customers in one round trip, merges each customer's events in arrival order
(:func:`.windows.merge`, so a batch and one-at-a-time give the same state) and writes them back
with compare-and-set; a state changed meanwhile by another writer (a service, a Lambda) is read
again and the merge redone, so no update is lost. The states this ingestor wrote last (up to
``cache_size`` customers) are kept and used without a read — the compare-and-set still checks
them — so a customer's second event costs one round trip, not two.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from uplift_engine.config.settings import StreamingSettings
from uplift_engine.errors import ConfigError, StorageError
from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.online.codec import window_field
from uplift_engine.features.online.store import OnlineStore, Swap
from uplift_engine.features.streaming.dead_letters import DeadLetter, as_text
from uplift_engine.features.streaming.schema import Event, EventError, EventSchema, now_us
from uplift_engine.features.streaming.sources import RawEvent
from uplift_engine.features.streaming.windows import (
    ACCEPTED,
    DUPLICATE,
    LATE,
    WindowPlan,
    WindowPolicy,
    WindowState,
    merge,
)

_UNIT_US = {"d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}
MAX_RETRIES = 50


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
    conflicts: int = 0
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
        self.conflicts += other.conflicts
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
            "conflicts_retried": self.conflicts,
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
        cache_size: int = 20_000,
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
        self.cache_size = cache_size
        self._cache: dict[int, tuple[str, WindowState]] = {}
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
        total = IngestSummary()
        for batch in _chunks(iter(messages), batch_size):
            total.add(self.ingest_batch(batch))
        return total

    def ingest_batch(self, messages: Sequence[RawEvent]) -> IngestSummary:
        """Apply a batch of messages with one read and one compare-and-set write round trip."""
        started = time.perf_counter()
        summary = IngestSummary(received=len(messages))
        parsed = [item for m in messages if (item := self._parse(m, summary)) is not None]
        if parsed:
            self._apply(parsed, summary)
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

    def _parse(self, message: RawEvent, summary: IngestSummary) -> tuple[Event, RawEvent] | None:
        if message.error is not None:
            summary.malformed += 1
            self._dead(message, message.error, summary)
            return None
        try:
            event = self.schema.parse(message.payload)
        except EventError as exc:
            summary.malformed += 1
            self._dead(message, exc.reason, summary)
            return None
        if self._skew_us is not None and event.ts > self.clock() + self._skew_us:
            summary.future += 1
            self._dead(message, self._future_reason, summary)
            return None
        return event, message

    def _apply(self, parsed: list[tuple[Event, RawEvent]], summary: IngestSummary) -> None:
        pending: dict[int, list[tuple[Event, RawEvent]]] = {}
        for item in parsed:
            pending.setdefault(item[0].key, []).append(item)
        trust_cache = True
        for _attempt in range(MAX_RETRIES):
            states = self._states(list(pending), trust_cache)
            swaps: list[Swap] = []
            written: list[tuple[int, list[str], WindowState]] = []
            for key, (old, state) in states.items():
                outcomes = merge(state, [e for e, _ in pending[key]], self.policy)
                if ACCEPTED in outcomes:
                    swaps.append(Swap(str(key), self.field, old, state.encode()))
                    written.append((key, outcomes, state))
                else:
                    self._count(pending.pop(key), outcomes, summary)
            retry: dict[int, list[tuple[Event, RawEvent]]] = {}
            try:
                applied = self.store.swap(swaps)
            except BaseException:
                self._cache.clear()  # cached states were merged into but not written
                raise
            for (key, outcomes, state), swap, done in zip(written, swaps, applied, strict=True):
                if done:
                    summary.customers += 1
                    self._remember(key, swap.new, state)
                    self._count(pending[key], outcomes, summary)
                else:
                    summary.conflicts += 1
                    self._cache.pop(key, None)
                    retry[key] = pending[key]
            if not retry:
                return
            pending, trust_cache = retry, False
        raise StorageError(
            f"the window states of {len(pending)} customers kept changing under "
            f"{MAX_RETRIES} attempts to update them; is another writer looping?"
        )

    def _states(
        self, keys: list[int], trust_cache: bool
    ) -> dict[int, tuple[str | None, WindowState]]:
        """Each customer's stored state text and a state to merge into.

        A state this ingestor wrote last is taken from its cache without a read (and merged
        into in place: if the write fails, the entry is dropped): if another writer changed it
        since, the compare-and-set fails and the state is read again.
        """
        out: dict[int, tuple[str | None, WindowState]] = {}
        missing = []
        for key in keys:
            hit = self._cache.get(key) if trust_cache else None
            if hit is None:
                missing.append(key)
            else:
                out[key] = hit
        if missing:
            texts = self.store.get_state([str(k) for k in missing], self.field)
            columns = len(self.source.values)
            for key, text in zip(missing, texts, strict=True):
                out[key] = (text, WindowState.decode(text, columns))
        return out

    def _remember(self, key: int, text: str, state: WindowState) -> None:
        cache = self._cache
        cache.pop(key, None)
        cache[key] = (text, state)
        if len(cache) > self.cache_size:
            del cache[next(iter(cache))]  # the least recently written

    def _count(
        self, items: list[tuple[Event, RawEvent]], outcomes: list[str], summary: IngestSummary
    ) -> None:
        for (_, message), outcome in zip(items, outcomes, strict=True):
            if outcome == ACCEPTED:
                summary.accepted += 1
            elif outcome == DUPLICATE:
                summary.duplicates += 1
            elif outcome == LATE:
                summary.late += 1
                self._dead(message, self._late_reason, summary)

    def _dead(self, message: RawEvent, reason: str, summary: IngestSummary) -> None:
        summary.reasons[reason] += 1
        self.dead_letters.append(
            DeadLetter(as_text(message.payload), reason, message.origin, self.clock())
        )


def _chunks(items: Iterator[RawEvent], size: int) -> Iterator[list[RawEvent]]:
    if size < 1:
        raise ConfigError(f"batch size must be at least 1, got {size}", field="batch_size")
    while batch := list(islice(items, size)):
        yield batch
