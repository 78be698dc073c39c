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
them — so a customer's second event costs one round trip, not two. The clock that tells
events from the future is read once per batch; cyclic garbage collection waits while a large
batch is applied (see :func:`_gc_paused`).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
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
        with _gc_paused() if len(messages) >= _GC_PAUSE_BATCH else nullcontext():
            parsed = self._parse(messages, summary)
            if parsed:
                self._apply(parsed, summary)
            del parsed  # freed before collections resume, so none of it has to be traversed
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
    ) -> dict[int, list[tuple[Event, RawEvent]]]:
        """The valid events of the batch by customer, in arrival order; the rest dead letters.

        The clock is read once for the batch: "from the future" means ahead of its start.
        """
        parse = self.schema.parse
        limit = None if self._skew_us is None else self.clock() + self._skew_us
        pending: dict[int, list[tuple[Event, RawEvent]]] = {}
        for message in messages:
            if message.error is not None:
                summary.malformed += 1
                self._dead(message, message.error, summary)
                continue
            try:
                event = parse(message.payload)
            except EventError as exc:
                summary.malformed += 1
                self._dead(message, exc.reason, summary)
                continue
            if limit is not None and event.ts > limit:
                summary.future += 1
                self._dead(message, self._future_reason, summary)
                continue
            items = pending.get(event.key)
            if items is None:
                pending[event.key] = [(event, message)]
            else:
                items.append((event, message))
        return pending

    def _apply(
        self, pending: dict[int, list[tuple[Event, RawEvent]]], summary: IngestSummary
    ) -> None:
        trust_cache = True
        field, policy = self.field, self.policy
        for _attempt in range(MAX_RETRIES):
            states = self._states(list(pending), trust_cache)
            swaps: list[Swap] = []
            written: list[tuple[int, WindowState, tuple[str, ...]]] = []
            for key, (old, state) in states.items():
                outcomes = tuple(merge(state, [e for e, _ in pending[key]], policy))
                if ACCEPTED in outcomes:
                    swaps.append(Swap(str(key), field, old, state.encode()))
                    written.append((key, state, outcomes))
                else:
                    self._count(pending.pop(key), outcomes, summary)
            try:
                applied = self.store.swap(swaps)
            except BaseException:
                self._cache.clear()  # cached states were merged into but not written
                raise
            retry: dict[int, list[tuple[Event, RawEvent]]] = {}
            for (key, state, outcomes), swap, done in zip(written, swaps, applied, strict=True):
                if done:
                    self._remember(key, swap.new, state)
                    self._count(pending[key], outcomes, summary)
                else:
                    summary.conflicts += 1
                    self._cache.pop(key, None)
                    retry[key] = pending[key]
            summary.customers += len(written) - len(retry)
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
        self,
        items: list[tuple[Event, RawEvent]],
        outcomes: tuple[str, ...],
        summary: IngestSummary,
    ) -> None:
        accepted = outcomes.count(ACCEPTED)
        duplicates = outcomes.count(DUPLICATE)
        summary.accepted += accepted
        summary.duplicates += duplicates
        if accepted + duplicates < len(outcomes):
            for (_, message), outcome in zip(items, outcomes, strict=True):
                if outcome == LATE:
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
    move them to the oldest generation and set off full collections that walk every cached
    state — about a third of the batch's time. Reference counting still frees memory as
    usual; the deferred collection runs after the batch.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _chunks(items: Iterator[RawEvent], size: int) -> Iterator[list[RawEvent]]:
    if size < 1:
        raise ConfigError(f"batch size must be at least 1, got {size}", field="batch_size")
    while batch := list(islice(items, size)):
        yield batch
