"""Request-time features: computed from the request payload by one function, train and serve.

Invariant: a :class:`RequestFeature` names a function of :data:`REQUEST_FUNCTIONS` and the
payload field it reads; :meth:`RequestFeature.compute` is the only implementation. Serving calls
it on the request's JSON object; training calls it on every row of a table
(:func:`request_columns`), so the two cannot drift apart. Functions are looked up by name from
this fixed catalogue — a YAML definition can choose one but cannot run code.

Times: a ``ts`` is ISO 8601 *with* a zone (``2026-10-01T09:30:00+07:00`` or ``…Z``) or an
aware ``datetime`` (what Arrow gives for a UTC timestamp column); a naive time is refused, as
there is no safe guess. ``*_local`` functions use the bank's zone, Asia/Ho_Chi_Minh, which is
UTC+07:00 all year (Vietnam has had no daylight saving since 1975), so it is applied as a fixed
offset and needs no time-zone database on a Lambda. ``*_utc`` functions use UTC. A missing or
null input gives a null feature; a present but invalid one raises a :class:`DataError` naming
the payload field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from uplift_engine.config.records import STRICT
from uplift_engine.errors import ConfigError, DataError
from uplift_engine.vocabulary import CHANNELS

if TYPE_CHECKING:
    import pyarrow as pa

BANK_ZONE = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
"""The bank's local time: UTC+07:00, no daylight saving."""

RequestValue = str | int | None
FunctionName = Literal["channel", "hour_local", "hour_utc", "day_of_week_local"]
FUNCTION_NAMES: tuple[str, ...] = get_args(FunctionName)


def _channel(value: object) -> RequestValue:
    if not isinstance(value, str) or value.strip().lower() not in CHANNELS:
        raise ValueError(f"expected one of {', '.join(CHANNELS)}, got {value!r}")
    return value.strip().lower()


def aware_time(value: object) -> datetime:
    """A time with a zone from an ISO 8601 string or a ``datetime``; naive times are refused."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 time with a zone like 2026-10-01T09:30:00+07:00, "
                f"got {value!r}"
            ) from None
    elif isinstance(value, datetime):
        moment = value
    else:
        raise ValueError(f"expected an ISO 8601 time string, got {type(value).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"needs a time zone (e.g. +07:00 or Z), got {value!r}")
    return moment


def _hour_local(value: object) -> RequestValue:
    return aware_time(value).astimezone(BANK_ZONE).hour


def _hour_utc(value: object) -> RequestValue:
    return aware_time(value).astimezone(UTC).hour


def _day_of_week_local(value: object) -> RequestValue:
    return aware_time(value).astimezone(BANK_ZONE).weekday()


REQUEST_FUNCTIONS: dict[str, tuple[Callable[[object], RequestValue], str]] = {
    "channel": (_channel, "string"),
    "hour_local": (_hour_local, "int32"),
    "hour_utc": (_hour_utc, "int32"),
    "day_of_week_local": (_day_of_week_local, "int32"),
}
"""The catalogue: function name → (function of one payload value, Arrow type name)."""

REQUEST_TIME_FIELD = "ts"
"""The payload field holding the request's time. A request without it is decided at the
decision's own moment (the service fills it in), as training reads the assignment's time."""

HOURLY_FUNCTIONS = frozenset({"hour_local", "hour_utc", "day_of_week_local"})
"""Functions of a time that only its UTC hour decides (the bank's zone is a whole number of
hours from UTC): a table's times are reduced to their hour before these are computed, so a
million rows need a few hundred calls. A test checks the invariance on random times."""


@dataclass(frozen=True)
class RequestFeature:
    """A feature computed from one field of the request payload by a catalogue function."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    name: str
    function: FunctionName
    field: str
    description: str = ""
    owner: str = ""

    def __post_init__(self) -> None:
        if self.function not in REQUEST_FUNCTIONS:
            raise ConfigError(
                f"request feature {self.name!r}: function must be one of "
                f"{', '.join(REQUEST_FUNCTIONS)}, got {self.function!r}",
                field="function",
            )
        if not isinstance(self.field, str) or not self.field:
            raise ConfigError(
                f"request feature {self.name!r}: field must name a payload field, "
                f"got {self.field!r}",
                field="field",
            )

    @property
    def type_name(self) -> str:
        """The Arrow type name of the feature's column (``string`` or ``int32``)."""
        return REQUEST_FUNCTIONS[self.function][1]

    def compute(self, payload: Mapping[str, object]) -> RequestValue:
        """The feature's value for one request (or one training row); null when the field is."""
        value = payload.get(self.field)
        if value is None:
            return None
        try:
            return REQUEST_FUNCTIONS[self.function][0](value)
        except ValueError as exc:
            raise DataError(
                f"request feature {self.name!r} reads field {self.field!r}: {exc}",
                field=self.field,
            ) from None


REQUEST_FEATURES: tuple[RequestFeature, ...] = (
    RequestFeature(
        "session_channel", "channel", "channel",
        "Channel of this session: app, web, branch or contact_center.", "digital-marketing",
    ),
    RequestFeature(
        "hour_of_day_local", "hour_local", "ts",
        "Hour of the request in Asia/Ho_Chi_Minh (UTC+7), 0–23.", "digital-marketing",
    ),
    RequestFeature(
        "day_of_week_local", "day_of_week_local", "ts",
        "Day of the week of the request in Asia/Ho_Chi_Minh, 0 = Monday.", "digital-marketing",
    ),
    RequestFeature(
        "hour_of_day_utc", "hour_utc", "ts", "Hour of the request in UTC, 0–23.",
        "digital-marketing",
    ),
)  # fmt: skip
"""The request-time features of the default definitions."""


def compute_request_features(
    features: Iterable[RequestFeature], payload: Mapping[str, object]
) -> dict[str, RequestValue]:
    """Every feature's value for one payload, by name (the serving side)."""
    return {f.name: f.compute(payload) for f in features}


def request_columns(
    features: Iterable[RequestFeature],
    table: pa.Table,
    rename: Mapping[str, str] | None = None,
) -> pa.Table:
    """The features as columns for every row of ``table`` (the training side).

    Each row's value is the same :meth:`RequestFeature.compute` a request gets, called once per
    distinct input of the column (times reduced to their UTC hour for
    :data:`HOURLY_FUNCTIONS`) and spread back to the rows; ``rename`` maps payload fields to
    the table's columns (e.g. ``{"ts": "assigned_at"}``). Returns a table of the feature
    columns only, one row per row of ``table``.
    """
    import pyarrow as pa

    features = tuple(features)
    rename = dict(rename or {})
    fields = sorted({f.field for f in features})
    missing = [rename.get(f, f) for f in fields if rename.get(f, f) not in table.column_names]
    if missing:
        raise DataError(
            f"request features need the column(s) {', '.join(map(repr, missing))}; "
            f"columns present: {', '.join(map(repr, table.column_names))}",
            field=missing[0],
        )
    return pa.table(
        {f.name: _feature_column(f, table.column(rename.get(f.field, f.field))) for f in features}
    )


def _feature_column(feature: RequestFeature, column: pa.ChunkedArray) -> pa.Array:
    """One feature over a column: computed on the column's distinct inputs, taken per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    inputs = column.combine_chunks()
    if feature.function in HOURLY_FUNCTIONS and pa.types.is_timestamp(inputs.type):
        utc = inputs.cast(pa.timestamp(inputs.type.unit, tz="UTC"))
        inputs = pc.floor_temporal(utc, unit="hour")
    distinct = pc.unique(inputs)
    values = [feature.compute({feature.field: value}) for value in distinct.to_pylist()]
    where = pc.index_in(inputs, value_set=distinct, skip_nulls=False)
    return pa.array(values, pa.type_for_alias(feature.type_name)).take(where)


def request_markdown_table(features: Iterable[RequestFeature] = REQUEST_FEATURES) -> str:
    """The request-time features as a Markdown table (the docs embed it; a test checks)."""
    lines = [
        "| feature | payload field | function | type | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in features:
        lines.append(
            f"| `{f.name}` | `{f.field}` | {f.function} | {f.type_name} | {f.description} |"
        )
    return "\n".join(lines)
