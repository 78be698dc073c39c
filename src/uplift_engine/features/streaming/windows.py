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
compact JSON, one row per event: ``[watermark, [[ts, type, id, value…], …]]``. Each row's text
is made once, when its event is accepted, and kept beside the columns, so writing a state back
is a string join — not a re-encoding of every event it holds. (The first format,
``[watermark, [ts…], [type…], [id…], [[value…] per column]]``, is still read.)
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote

from uplift_engine.features.definitions import FeatureSpec
from uplift_engine.features.streaming.schema import Event

US_PER_DAY = 86_400_000_000
DAY_FLOAT = float(US_PER_DAY)
ACCEPTED, DUPLICATE, LATE = "accepted", "duplicate", "late"


class WindowState:
    """The recent events of one customer and source (see the module docstring).

    ``ts``, ``types``, ``ids`` and ``values`` (one list per value column) are the columns;
    ``rows`` holds each event's JSON text once a state is merged into (None until then).
    """

    __slots__ = ("ids", "rows", "ts", "types", "values", "watermark")

    def __init__(
        self,
        watermark: int | None,
        ts: list[int],
        types: list[str | None],
        ids: list[str],
        values: list[list[float | None]],
        rows: list[str] | None = None,
    ) -> None:
        self.watermark = watermark
        self.ts = ts
        self.types = types
        self.ids = ids
        self.values = values
        self.rows = rows

    @classmethod
    def empty(cls, value_columns: int) -> WindowState:
        """A state without events."""
        return cls(None, [], [], [], [[] for _ in range(value_columns)], [])

    @classmethod
    def decode(cls, text: str | None, value_columns: int) -> WindowState:
        """The state stored as ``text`` (None: no state yet)."""
        if not text:
            return cls.empty(value_columns)
        data = json.loads(text)
        if len(data) == 5:  # the first format: columns
            watermark, ts, types, ids, values = data
            return cls(watermark, ts, types, ids, values)
        watermark, rows = data
        if not rows:
            return cls(watermark, [], [], [], [[] for _ in range(value_columns)])
        ts, types, ids, *values = map(list, zip(*rows, strict=True))
        return cls(watermark, ts, types, ids, values)

    def encode(self) -> str:
        """The state as compact JSON (the rows' texts joined)."""
        rows = self.rows
        if rows is None:
            rows = self.rows = self._row_texts()
        watermark = "null" if self.watermark is None else self.watermark
        return f"[{watermark},[{','.join(rows)}]]"

    def _row_texts(self) -> list[str]:
        columns = zip(self.ts, self.types, self.ids, *self.values, strict=True)
        return [_row(ts, kind, id_, values) for ts, kind, id_, *values in columns]

    def __len__(self) -> int:
        return len(self.ts)


def _row(ts: int, kind: str | None, event_id: str, values: Sequence[float | None]) -> str:
    """One event's row as JSON text (floats by ``repr``: they read back bit for bit)."""
    kind_text = "null" if kind is None else _quote(kind)
    if len(values) == 1:
        value = values[0]
        tail = ",null" if value is None else f",{value!r}"
    else:
        tail = "".join(["," + ("null" if v is None else repr(v)) for v in values])
    return f"[{ts},{kind_text},{_quote(event_id)}{tail}]"


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
    if state.rows is None:
        state.rows = state._row_texts()
    # a few ids are searched faster in their list than a set is built; more get a set
    small = len(state.ids) + len(events) <= 32
    seen: list[str] | set[str] = state.ids if small else set(state.ids)
    watermark = state.watermark
    lateness = policy.lateness_us
    ts, types, ids, values, rows = state.ts, state.types, state.ids, state.values, state.rows
    single = values[0] if len(values) == 1 else None
    outcomes: list[str] = []
    unordered = False
    for event_id, _key, kind, at, event_values in events:
        if event_id in seen:
            outcomes.append(DUPLICATE)
            continue
        if watermark is None or at >= watermark:
            watermark = at
        elif at < watermark - lateness:
            outcomes.append(LATE)
            continue
        else:
            unordered = True
        if seen is not ids:
            seen.add(event_id)  # type: ignore[union-attr]
        ts.append(at)
        types.append(kind)
        ids.append(event_id)
        if single is not None:
            single.append(event_values[0])
        else:
            for column, value in zip(values, event_values, strict=True):
                column.append(value)
        rows.append(_row(at, kind, event_id, event_values))
        outcomes.append(ACCEPTED)
    if unordered:
        _sort(state)
    state.watermark = watermark
    if watermark is not None and state.ts and state.ts[0] < watermark - policy.horizon_us:
        cut = bisect_left(state.ts, watermark - policy.horizon_us)
        del state.ts[:cut], state.types[:cut], state.ids[:cut], state.rows[:cut]
        for column in state.values:
            del column[:cut]
    return outcomes


def _sort(state: WindowState) -> None:
    """Put the state's events in time order (stable: equal times keep their arrival order)."""
    ts = state.ts
    order = sorted(range(len(ts)), key=ts.__getitem__)
    state.ts = [ts[i] for i in order]
    state.types = [state.types[i] for i in order]
    state.ids = [state.ids[i] for i in order]
    state.rows = [state.rows[i] for i in order]  # type: ignore[index]
    state.values = [[column[i] for i in order] for column in state.values]


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
