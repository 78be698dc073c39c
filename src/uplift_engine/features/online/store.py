"""The online store's one interface: named string fields by key, read in one round trip.

Invariant: a store maps a key (a customer id as text, or a reserved key starting with ``_``)
to a flat set of named string fields, and nothing else. ``get`` returns every field of one key
in one round trip (the scoring path); ``get_many`` does the same for many keys, still in one
round trip. Fields are of two kinds, and a field is always of the same kind:

* *values* (feature values) are written by ``put``, which merges fields into keys (batched:
  one transaction in SQLite, one pipeline in Redis);
* *states* (stream window states) are read by ``get_state`` (one field of many keys, in one
  round trip) and written by ``swap``, which sets a state only where it still holds the
  expected text (compare-and-set: what lets several writers — the HTTP service and Lambdas —
  share the windows without losing an update).

``delete`` removes keys with both kinds. A backend may keep the two kinds apart where that is
cheaper (SQLite does). Everything is text; the feature layer encodes it (:mod:`.codec`). A
failing backend raises :class:`~uplift_engine.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol, runtime_checkable


class Swap(NamedTuple):
    """Set ``key``'s state ``field`` to ``new`` only if it holds ``expected`` (None: absent)."""

    key: str
    field: str
    expected: str | None
    new: str


@runtime_checkable
class OnlineStore(Protocol):
    """Latest feature values and window states by key (SQLite embedded, Redis in production)."""

    def get(self, key: str) -> dict[str, str]:
        """Every field of ``key`` (empty when the key is absent), in one round trip."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every field of each key, in the order of ``keys``, in one round trip."""
        ...

    def get_state(self, keys: Sequence[str], field: str) -> list[str | None]:
        """State ``field`` of each key (None where absent), in the order of ``keys``."""
        ...

    def put(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> int:
        """Merge each row's value fields into its key (others stay); returns rows written."""
        ...

    def swap(self, swaps: Sequence[Swap]) -> list[bool]:
        """Apply each compare-and-set of a state atomically; True where it was applied."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the keys and all their fields; returns how many were there."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
