"""The one event schema: every stream input (file, stdin, HTTP, Kinesis) is validated by it.

Invariant: an event is one JSON object with the source's id (``event_id``: an integer or a
non-empty string of at most 128 characters), entity key (``customer_id``: an integer ≥ 0 that
fits 64 bits, as the ids the rest of the product keys),
event type (``type``: one of the source's types), time (``ts``: ISO 8601 *with* a zone, in
``[2000-01-01, 2100-01-01)``, converted to UTC microseconds) and, for the source's valued types,
every value column (``amount``: a finite number ≥ 0; optional for other types, and checked when
present). Other fields are allowed and ignored. :meth:`EventSchema.parse` returns an
:class:`Event` or raises :class:`EventError` whose ``reason`` is ``"field: problem"`` — the
same shape as the lake's quarantine ``_reason``. The schema is derived from the declared
:class:`~uplift_engine.features.definitions.EventSource`, so a new source brings its own.

JSON is read by ``orjson`` when it is installed (about 3× faster than ``json`` on an event) and
by ``json`` otherwise or when ``orjson`` refuses the text: only ``json`` decides what is
invalid and says why, so the accepted events and the reasons are the same with or without it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from uplift_engine.features.definitions import EventSource

_fast_loads: Callable[[str | bytes], object] | None
try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; json alone gives the same
    _fast_loads = None

MAX_ID_LENGTH = 128
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
TS_MIN_US = (datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH) // _US
TS_MAX_US = (datetime(2100, 1, 1, tzinfo=UTC) - _EPOCH) // _US
_INT64 = 1 << 63


class Event(NamedTuple):
    """A valid event: its id as text, entity key, type, UTC time in µs and values in order."""

    id: str
    key: int
    type: str | None
    ts: int
    values: tuple[float | None, ...]


class EventError(ValueError):
    """An event that breaks the schema; ``reason`` is ``"field: problem"``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    @property
    def reason(self) -> str:
        """The text written to a dead letter's ``_reason``."""
        return f"{self.field}: {self.problem}"


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware time (exact integer arithmetic)."""
    return (moment - _EPOCH) // _US


def now_us() -> int:
    """The wall clock in epoch microseconds."""
    return time.time_ns() // 1000


def moment(micros: int) -> datetime:
    """The aware UTC time of epoch microseconds, exactly (no float on the way)."""
    return _EPOCH + timedelta(microseconds=micros)


def iso_utc(micros: int) -> str:
    """An epoch-microsecond time as ISO 8601 in UTC (``…+00:00``)."""
    return moment(micros).isoformat()


class EventSchema:
    """The event schema of one source."""

    def __init__(self, source: EventSource) -> None:
        self.source = source
        self._types: frozenset[object] = frozenset(source.types)
        self._valued = frozenset(source.valued_types)
        self._names = (source.id, source.entity, source.event_type, source.timestamp)
        self._single = source.values[0] if len(source.values) == 1 else None

    def parse(self, raw: str | bytes | Mapping[str, object]) -> Event:
        """The event in ``raw`` (JSON text, UTF-8 bytes or an already parsed object).

        The common valid case is checked inline; anything unusual goes to the field's own
        check, which returns the value or raises with the reason.
        """
        data: object = raw
        if type(raw) is str or isinstance(raw, bytes):
            try:  # the common case inline: one JSON object that orjson reads
                data = _fast_loads(raw)  # type: ignore[misc]
            except (TypeError, ValueError):  # TypeError: no orjson
                data = None
            if type(data) is not dict:
                data = _json_object(raw)
        if type(data) is not dict and not isinstance(data, Mapping):
            raise EventError("event", f"not a JSON object (got a {type(data).__name__})")
        id_name, entity, type_name, ts_name = self._names
        get = data.get
        event_id = get(id_name)
        if type(event_id) is int:
            event_id = str(event_id)
        elif type(event_id) is not str or not 0 < len(event_id) <= MAX_ID_LENGTH:
            event_id = _event_id(data, id_name)
        key = get(entity)
        if type(key) is not int or not 0 <= key < _INT64:
            key = _entity(data, entity)
        kind = None
        if type_name is not None:
            kind = get(type_name)
            if type(kind) is not str or kind not in self._types:
                kind = _event_type(data, type_name, self._types)
        try:
            moment = _fromisoformat(get(ts_name))  # type: ignore[arg-type]
            if moment.tzinfo is None:
                raise ValueError
            ts = (moment - _EPOCH) // _US
            if not TS_MIN_US <= ts < TS_MAX_US:
                raise ValueError
        except (TypeError, ValueError):
            ts = _timestamp(data, ts_name)  # raises with the reason
        valued = kind in self._valued
        name = self._single
        if name is not None:
            value = get(name)
            if not (
                (type(value) is float and 0 <= value < math.inf) or (value is None and not valued)
            ):
                value = _value(data, name, valued)
            values: tuple[float | None, ...] = (value,)
        else:
            values = tuple(
                [
                    v
                    if (type(v := get(n)) is float and 0 <= v < math.inf)
                    or (v is None and not valued)
                    else _value(data, n, valued)
                    for n in self.source.values
                ]
            )
        return _new_event(Event, (event_id, key, kind, ts, values))


_fromisoformat = datetime.fromisoformat
_new_event = tuple.__new__  # an Event without the keyword layer of its generated __new__
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads without its Python layers


def _json_object(raw: str | bytes) -> Mapping[str, object]:
    # fast path: orjson (or the C scanner) on a text that is exactly one JSON object;
    # anything else (leading or trailing space, a BOM, NaN, broken JSON) takes json.loads,
    # which gives the same value or the reason
    if _fast_loads is not None:
        try:
            data = _fast_loads(raw)
            if type(data) is dict:
                return data
        except ValueError:
            pass
    else:  # pragma: no cover
        try:
            text = raw if isinstance(raw, str) else raw.decode()
            if text[:1] == "{":
                data, end = _scan(text, 0)
                if end == len(text):
                    return data
        except (ValueError, StopIteration):
            pass
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise EventError("event", "not UTF-8 text") from None
    except ValueError as exc:
        raise EventError("event", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EventError("event", f"not a JSON object (got a {type(data).__name__})")
    return data


def _event_id(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise EventError(name, "missing")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    raise EventError(name, f"not an integer or a string of 1–{MAX_ID_LENGTH} characters")


def _entity(data: Mapping[str, object], name: str) -> int:
    value = data.get(name)
    if value is None:
        raise EventError(name, "missing")
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventError(name, f"not an integer (got {value!r})")
    if value < 0:
        raise EventError(name, f"negative (got {value}); ids are integers ≥ 0")
    if value >= _INT64:
        raise EventError(name, "outside the 64-bit integer range")
    return value


def _event_type(
    data: Mapping[str, object], name: str | None, types: frozenset[object]
) -> str | None:
    if name is None:
        return None
    value = data.get(name)
    if value is None:
        raise EventError(name, "missing")
    if not isinstance(value, str) or not value:
        raise EventError(name, f"not a non-empty string (got {value!r})")
    if types and value not in types:
        raise EventError(name, f"unknown event type {value!r}")
    return value


def _timestamp(data: Mapping[str, object], name: str) -> int:
    value = data.get(name)
    try:
        moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except TypeError:
        if value is None:
            raise EventError(name, "missing") from None
        raise EventError(name, f"not an ISO 8601 string (got {value!r})") from None
    except ValueError:
        raise EventError(name, f"not an ISO 8601 time ({value!r})") from None
    if moment.tzinfo is None:
        raise EventError(name, f"no time zone ({value!r}); add Z or an offset like +07:00")
    micros = (moment - _EPOCH) // _US
    if not TS_MIN_US <= micros < TS_MAX_US:
        raise EventError(name, "outside [2000-01-01, 2100-01-01)")
    return micros


def _value(data: Mapping[str, object], name: str, required: bool) -> float | None:
    value = data.get(name)
    if type(value) is float and 0 <= value < math.inf:
        return value
    if value is None:
        if required:
            raise EventError(name, "missing for its type")
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise EventError(name, f"not a number (got {value!r})")
    number = float(value)
    if not math.isfinite(number):
        raise EventError(name, "not finite")
    if number < 0:
        raise EventError(name, "negative")
    return number
