"""The online store's one interface: named string fields by key, read in one round trip.

Invariant: a store maps a key (a customer id as text, or a reserved key starting with ``_``)
to a flat set of named string fields, and nothing else. ``get`` returns every field of one key
in one round trip (the scoring path); ``get_many`` does the same for many keys, still in one
round trip. Fields are of two kinds:

* *values* (feature values) are written by ``put``, which merges fields into keys (batched:
  one transaction in SQLite, one pipeline in Redis);
* *windows* (stream window states, field ``_w:<source>``) are written only by
  ``append_events``, which adds events to the customers' windows with the exact rules of
  :mod:`uplift_engine.features.streaming.windows` — an id already kept is a duplicate, an event
  more than the lateness behind the customer's latest one is late, anything else is kept, and
  events more than the horizon behind the latest are forgotten — atomically, in one round trip
  and without reading the windows first (SQLite: one write transaction; Redis: one Lua call
  per 2,000 events). Several writers (the HTTP service, Lambdas) can share the windows: the
  decision for each event is taken inside the store, so no update is lost and nothing needs
  to be retried. ``get`` returns a window as the text ``[watermark,[row,…]]`` that
  :meth:`~uplift_engine.features.streaming.windows.WindowState.decode` reads.

``delete`` removes keys with both kinds. Everything is text; the feature layer encodes it
(:mod:`.codec`). A failing backend raises :class:`~uplift_engine.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

ACCEPTED, DUPLICATE, LATE = "a", "d", "l"
"""The outcome codes of :meth:`OnlineStore.append_events`, one character per event."""


class WindowEvent(NamedTuple):
    """One event for a customer's window: its id, UTC time in µs and its row's JSON text.

    ``row`` is ``[ts,type,id,value…]`` as :func:`~uplift_engine.features.streaming.windows.
    event_row` writes it (it starts with ``[<ts>,``; the stores rely on that).
    """

    key: str
    id: str
    ts: int
    row: str


@runtime_checkable
class OnlineStore(Protocol):
    """Latest feature values and window states by key (SQLite embedded, Redis in production)."""

    def get(self, key: str) -> dict[str, str]:
        """Every field of ``key`` (empty when the key is absent), in one round trip."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every field of each key, in the order of ``keys``, in one round trip."""
        ...

    def put(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Merge each row's value fields into its key (others stay); returns rows written."""
        ...

    def append_events(
        self, field: str, events: Sequence[WindowEvent], lateness_us: int, horizon_us: int
    ) -> str:
        """Add ``events`` (in arrival order) to window ``field``; one outcome code per event.

        ``"a"`` accepted, ``"d"`` duplicate (its id is kept already), ``"l"`` late (more than
        ``lateness_us`` behind the customer's latest kept event). Events more than
        ``horizon_us`` behind the latest are forgotten, ids included.
        """
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the keys and all their fields; returns how many were there."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
