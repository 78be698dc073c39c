"""Sliding windows over a customer's recent events: exact, half-open ``[t − w, t)``, in UTC µs.

Invariant: a customer's window of one source keeps its accepted events (time, type, id,
values) back to ``watermark − horizon``, where ``watermark`` is the latest kept event time and
``horizon`` = the longest stream window of the source + the allowed lateness. An arriving
event is

* a *duplicate* when its id is kept — ids are remembered exactly as long as their event is
  kept, which covers every redelivery that would otherwise be accepted: a copy of an accepted
  event has the original's time ``ts``, and a copy is only acceptable when
  ``ts ≥ watermark − lateness``, so its original is still within ``watermark − horizon``;
* *late* when its time is more than ``lateness`` before the watermark (it goes to the dead
  letters, never silently dropped);
* otherwise *accepted*: kept, in its place by time however out of order it arrived.

The online store applies these rules atomically where the window lives
(:meth:`~uplift_engine.features.online.store.OnlineStore.append_events`), one event at a time
in arrival order, so a batch and one-at-a-time give the same window. Events are stored as one
JSON row each, ``[ts, type, id, value…]`` (:func:`event_row`, made once when the event is
parsed), and read back as ``[watermark, [row, …]]`` in any row order (:class:`WindowState`
sorts by time). Values are computed when read, as of any ``t ≥ watermark − lateness``, with
exactly the offline engine's semantics (:mod:`uplift_engine.features.definitions`): only
events with ``t − w ≤ ts < t`` count, counts and sums are 0 and the others null over an empty
window.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote
from operator import itemgetter
from typing import Any

from uplift_engine.features.definitions import FeatureSpec

_loads: Callable[[str], Any]
try:  # the stores write the text, so it is valid JSON; orjson reads it twice as fast
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

US_PER_DAY = 86_400_000_000
DAY_FLOAT = float(US_PER_DAY)
_by_time = itemgetter(0)


class WindowState:
    """The kept events of one customer and source, in time order (see the module docstring).

    ``ts``, ``types``, ``ids`` and ``values`` (one list per value column) are the columns.
    """

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
        """The window stored as ``text`` (None: no window yet)."""
        if not text:
            return cls.empty(value_columns)
        watermark, rows = _loads(text)
        if not rows:
            return cls(watermark, [], [], [], [[] for _ in range(value_columns)])
        rows.sort(key=_by_time)  # stable: equal times keep their stored order
        ts, types, ids, *values = map(list, zip(*rows, strict=True))
        return cls(watermark, ts, types, ids, values)

    def __len__(self) -> int:
        return len(self.ts)


def event_row(ts: int, kind: str | None, event_id: str, values: Sequence[float | None]) -> str:
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
