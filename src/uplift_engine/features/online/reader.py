"""The scoring path's read: all of a customer's features in one online-store round trip.

Invariant: :meth:`FeatureReader.read` does one ``get`` (one SQLite point read or one Redis
HGETALL) and returns every feature of the registry by name: batch values as materialised
(a customer never materialised gets the specs' empty values, as offline), stream windows as
of ``at`` (default: now) computed from the stored window state, and request-time features from
the request payload by the same functions as in training (a request without its time, ``ts``,
is taken at ``at``, as a training row's time is its assignment's). Plain Python on the way:
no Arrow, no pandas, no DuckDB per read. :meth:`FeatureReader.values` also says where each
value came from (:data:`STORE`, :data:`STREAM`, :data:`REQUEST` or :data:`DEFAULT`), for a
caller that reads the store itself (the decision core, which decides without the store when
it is down).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from uplift_engine.features.online.codec import (
    ATTRIBUTE_PREFIX,
    FeatureValue,
    customer_key,
    decode_attribute,
    window_field,
)
from uplift_engine.features.online.store import OnlineStore
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.request_time import REQUEST_TIME_FIELD
from uplift_engine.features.streaming.schema import moment, now_us
from uplift_engine.features.streaming.windows import WindowPlan, WindowState

STORE, STREAM, REQUEST, DEFAULT = "store", "stream", "request", "default"
ATTRIBUTE_CUT = len(ATTRIBUTE_PREFIX)
"""Where a feature value came from: the materialised batch value, the stream window state,
the request (computed from its fields, or given by name), or the value of a customer unknown
to the store (the spec's empty value, as offline)."""


class FeatureReader:
    """Reads the online features of customers from a store, as the registry declares them."""

    def __init__(
        self,
        store: OnlineStore,
        registry: FeatureRegistry | None = None,
        *,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.clock = clock
        self._batch = [  # (name, int or float, value of an absent field): decode_value inlined
            (s.name, int if s.is_integer else float, s.empty_value) for s in self.registry.batch
        ]
        self._windows = [
            (window_field(source.name), len(source.values), WindowPlan(specs))
            for source, specs in self.registry.groups("stream").items()
        ]
        self._request = self.registry.request
        self._timed = any(f.field == REQUEST_TIME_FIELD for f in self._request)

    @property
    def names(self) -> tuple[str, ...]:
        """The features every read returns, in order."""
        return self.registry.names

    def read(
        self,
        customer_id: int | str,
        *,
        at_us: int | None = None,
        request: Mapping[str, object] | None = None,
    ) -> dict[str, FeatureValue]:
        """Every feature of one customer; stream windows as of ``at_us`` (default now)."""
        fields = self.store.get(customer_key(customer_id))
        return self._values(fields, self.clock() if at_us is None else at_us, request or {})

    def read_many(
        self, customer_ids: Sequence[int | str], *, at_us: int | None = None
    ) -> list[dict[str, FeatureValue]]:
        """The features of many customers in one round trip (no request payload)."""
        rows = self.store.get_many([customer_key(c) for c in customer_ids])
        at = self.clock() if at_us is None else at_us
        return [self._values(fields, at, {}) for fields in rows]

    def values(
        self,
        fields: Mapping[str, str],
        at_us: int,
        request: Mapping[str, object],
        given: Mapping[str, FeatureValue] | None = None,
    ) -> tuple[dict[str, FeatureValue], dict[str, str]]:
        """The features from a customer's store ``fields``, and where each came from.

        ``given``: feature values sent with the request by name; they replace the store's.
        """
        sources: dict[str, str] = {}
        out = self._values(fields, at_us, request, sources)
        for name, value in (given or {}).items():
            out[name] = value
            sources[name] = REQUEST
        return out, sources

    @staticmethod
    def attributes(fields: Mapping[str, str]) -> dict[str, object]:
        """The customer's attributes kept beside the features (``a:segment`` → ``segment``)."""
        return {
            name[ATTRIBUTE_CUT:]: decode_attribute(text)
            for name, text in fields.items()
            if name.startswith(ATTRIBUTE_PREFIX)
        }

    def _values(
        self,
        fields: Mapping[str, str],
        at_us: int,
        request: Mapping[str, object],
        sources: dict[str, str] | None = None,
    ) -> dict[str, FeatureValue]:
        out: dict[str, FeatureValue] = {}
        get = fields.get
        for name, convert, empty in self._batch:
            text = get(name)
            out[name] = empty if text is None else (convert(text) if text else None)
        for name, columns, plan in self._windows:
            text = fields.get(name)
            state = WindowState.decode(text, columns) if text else None
            values = plan.values(state, at_us)
            out.update(values)
            if sources is not None:
                sources.update(dict.fromkeys(values, STREAM if text else DEFAULT))
        if self._timed and request.get(REQUEST_TIME_FIELD) is None:
            request = {**request, REQUEST_TIME_FIELD: moment(at_us)}
        for feature in self._request:
            out[feature.name] = feature.compute(request)
        if sources is not None:
            for name, _, _ in self._batch:
                sources[name] = STORE if name in fields else DEFAULT
            for feature in self._request:
                sources[feature.name] = REQUEST
        return out
