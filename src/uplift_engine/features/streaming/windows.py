"""Sliding windows over a customer's recent events: exact, half-open ``[t − w, t)``, in UTC µs.

Invariant: a customer's window state of one source holds its accepted events (time, type, id,
values), sorted by time, back to ``watermark − horizon`` where ``watermark`` is the latest
accepted event time and ``horizon`` = the longest stream window of the source + the allowed
lateness. An event is

* a *duplicate* when its id is in the state — ids are remembered exactly as long as their
  event is kept, i.e. for ``horizon`` of event time behind the customer's latest event, which
  covers every redelivery that would otherwise be accepted (see :func:`merge`);
* *late* when its time is more than ``lateness`` before the watermark (it goes to the dead
  letters, never silently dropped);
* otherwise *accepted* and put in its place by time, however out of order it arrived.

Values are computed when read, as of any ``t ≥ watermark − lateness``, with exactly the offline
engine's semantics (:mod:`uplift_engine.features.definitions`): only events with
``t − w ≤ ts < t`` count, counts and sums are 0 and the others null over an empty window.
Processing events one at a time or in a batch gives the same state. The state is stored as
compact JSON ``[watermark, [ts…], [type…], [id…], [[value…] per value column]]``.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.streaming.schema import Event

US_PER_DAY = 86_400_000_000
DAY_FLOAT = float(US_PER_DAY)
ACCEPTED, DUPLICATE, LATE = "accepted", "duplicate", "late"


class WindowState:
    """The recent events of one customer and source (see the module docstring)."""

    __slots__ = ("ids", "ts", "types", "values", "watermark")

    def __init__(
        self,
        watermark: int | None,
        ts: list[int],
        types: list[str | None],
        ids: list[str],
        values: list[list[float | None]],
    ) -> None:
        self.watermark = watermark
        self.ts = ts
        self.types = types
        self.ids = ids
        self.values = values

    @classmethod
    def empty(cls, value_columns: int) -> WindowState:
        """A state without events."""
        return cls(None, [], [], [], [[] for _ in range(value_columns)])

    @classmethod
    def decode(cls, text: str | None, value_columns: int) -> WindowState:
        """The state stored as ``text`` (None: no state yet)."""
        if not text:
            return cls.empty(value_columns)
        watermark, ts, types, ids, values = json.loads(text)
        return cls(watermark, ts, types, ids, values)

    def encode(self) -> str:
        """The state as compact JSON."""
        return json.dumps(
            [self.watermark, self.ts, self.types, self.ids, self.values], separators=(",", ":")
        )

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True)
class WindowPolicy:
    """How long events are kept and how late they may arrive, in microseconds."""

    lateness_us: int
    longest_window_us: int

    @property
    def horizon_us(self) -> int:
        """How far behind the watermark events (and their ids) are kept."""
        return self.longest_window_us + self.lateness_us


def merge(state: WindowState, events: Sequence[Event], policy: WindowPolicy) -> list[str]:
    """Add ``events`` (in arrival order) to ``state`` in place; the outcome of each event.

    A redelivered event has its original's time ``ts``; if that was accepted, then when the
    copy arrives ``ts ≥ watermark − lateness`` (else the copy is late anyway), so the original
    is still within ``watermark − horizon`` and its id is found.
    """
    # a few ids are searched faster in their list than a set is built; more get a set
    small = len(state.ids) + len(events) <= 32
    seen: list[str] | set[str] = state.ids if small else set(state.ids)
    watermark = state.watermark
    lateness = policy.lateness_us
    ts, types, ids, values = state.ts, state.types, state.ids, state.values
    outcomes: list[str] = []
    unordered = False
    for event in events:
        if event.id in seen:
            outcomes.append(DUPLICATE)
            continue
        if watermark is not None and event.ts < watermark - lateness:
            outcomes.append(LATE)
            continue
        if seen is not ids:
            seen.add(event.id)  # type: ignore[union-attr]
        if watermark is None or event.ts >= watermark:
            watermark = event.ts
        else:
            unordered = True
        ts.append(event.ts)
        types.append(event.type)
        ids.append(event.id)
        for column, value in zip(values, event.values, strict=True):
            column.append(value)
        outcomes.append(ACCEPTED)
    if unordered:
        order = sorted(range(len(ts)), key=ts.__getitem__)
        state.ts = ts = [ts[i] for i in order]
        state.types = [types[i] for i in order]
        state.ids = [ids[i] for i in order]
        state.values = [[column[i] for i in order] for column in values]
    state.watermark = watermark
    if watermark is not None:
        cut = bisect_left(ts, watermark - policy.horizon_us)
        if cut:
            del state.ts[:cut], state.types[:cut], state.ids[:cut]
            for column in state.values:
                del column[:cut]
    return outcomes


class WindowPlan:
    """The stream specs of one source, ready to be computed from a state as of a time."""

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.specs = tuple(specs)
        if not self.specs:
            raise ValueError("a window plan needs at least one stream spec")
        source = self.specs[0].source
        self.source = source
        self._items = [
            (
                s.name,
                s.aggregation,
                s.window_us,
                s.event_type,
                source.values.index(s.value) if s.value else -1,
            )
            for s in self.specs
        ]
        self.longest_window_us = max(s.window_us for s in self.specs)

    def values(self, state: WindowState | None, at_us: int) -> dict[str, int | float | None]:
        """Every spec's value as of ``at_us`` (half-open windows ``[at − w, at)``)."""
        if state is None or not state.ts:
            return {s.name: s.empty_value for s in self.specs}
        ts, types, values = state.ts, state.types, state.values
        end = bisect_left(ts, at_us)
        starts: dict[int, int] = {}
        out: dict[str, int | float | None] = {}
        for name, aggregation, window, kind, column in self._items:
            start = starts.get(window)
            if start is None:
                start = starts[window] = bisect_left(ts, at_us - window, 0, end)
            rows = range(start, end)
            if kind is not None:
                rows = [i for i in rows if types[i] == kind]  # type: ignore[assignment]
            column_values = values[column] if column >= 0 else ()
            out[name] = _aggregate(aggregation, rows, ts, column_values, at_us)
        return out


def _aggregate(
    aggregation: str, rows: Sequence[int], ts: list[int], column: Sequence[float | None], at: int
) -> int | float | None:
    if aggregation == "count":
        return len(rows)
    if aggregation == "days_since":
        return (at - ts[rows[-1]]) / DAY_FLOAT if rows else None
    if aggregation == "active_days":
        mask = 0
        for i in rows:
            mask |= 1 << ((at - ts[i] - 1) // US_PER_DAY)
        return mask.bit_count()
    present = [v for v in (column[i] for i in rows) if v is not None]
    if aggregation == "sum":
        return float(sum(present)) if present else 0.0
    if not present:
        return None
    if aggregation == "avg":
        return sum(present) / len(present)
    return min(present) if aggregation == "min" else max(present)
