"""Feature definitions, declared once as data; every engine computes them from these specs.

Invariant: a feature is a :class:`FeatureSpec` — a name, an :class:`EventSource` (dataset,
entity key, timestamp column, event-type column), an optional event-type filter, an
aggregation, a window, a latency tier, an owner and a description. Engines (DuckDB now, Spark
later, the streaming windows of :mod:`uplift_engine.features.streaming`) compute them from the
specs; no feature logic is written anywhere else. Request-time features, computed from the
request payload, are declared in :mod:`uplift_engine.features.request_time`.

Tiers: ``batch`` features (:data:`CAMPAIGN_FEATURES`) are computed from the lake by the offline
engine and materialised into the online store; ``stream`` features (:data:`STREAM_FEATURES`,
windows up to one day) are kept up to date from the event stream and computed offline by the
same engine for training and for the consistency check. An :class:`EventSource` also declares
what a valid event of it looks like (its id column, known types, the types that must carry
the value columns), which the stream's one event schema is derived from.

Semantics, the same in every engine, as of a time ``t`` (the customer's assignment time):

* the window is half-open ``[t − w, t)`` in UTC: an event at exactly ``t − w`` counts, one at
  ``t`` or later never does (point-in-time correctness);
* ``count``, ``sum`` and ``active_days`` are 0 when no event is in the window; ``avg``, ``max``,
  ``min`` and ``days_since`` are null;
* ``days_since`` is ``(t − ts of the latest event in the window) / 1 day``, a float > 0;
* ``active_days`` counts the 24-hour periods ``[t − (k+1)d, t − kd)`` of the window holding at
  least one event (periods are aligned on ``t``, not on calendar days), windows up to 63 days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from uplift_engine.config.records import STRICT
from uplift_engine.errors import ConfigError
from uplift_engine.vocabulary import AMOUNT_TYPES, EVENT_TYPES, EVENTS_DATASET

if TYPE_CHECKING:  # Arrow is imported by the dtype property, not by the serving read path
    import pyarrow as pa

Aggregation = Literal["count", "sum", "avg", "min", "max", "days_since", "active_days"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
VALUE_AGGREGATIONS = ("sum", "avg", "min", "max")
"""Aggregations of a value column; the others look at event times only."""
INTEGER_AGGREGATIONS = ("count", "active_days")
"""Aggregations whose values are whole numbers (int32 columns); the others are doubles."""

Tier = Literal["batch", "stream"]
TIERS: tuple[str, ...] = get_args(Tier)
"""``batch``: from the lake, materialised daily; ``stream``: windows over the event stream."""

MAX_ACTIVE_DAYS_WINDOW_US = 63 * 86_400_000_000
MAX_STREAM_WINDOW_US = 86_400_000_000
"""A stream window keeps its raw events in the online store, so it is at most one day."""
_WINDOW = re.compile(r"^(\d+)([dhms])$")
_UNIT_US = {"d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_window(window: str) -> int:
    """A window like ``"30d"``, ``"12h"``, ``"5m"`` or ``"90s"`` in microseconds (> 0)."""
    match = _WINDOW.match(window.strip()) if isinstance(window, str) else None
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"window must be a positive whole number of d, h, m or s like '30d', got {window!r}",
            field="window",
        )
    return int(match.group(1)) * _UNIT_US[match.group(2)]


@dataclass(frozen=True)
class EventSource:
    """A dataset of timestamped events keyed by an entity, as features see it.

    ``id`` is the event-id column (the key that makes redelivery idempotent), ``types`` the
    known event types (empty: any non-empty string), ``valued_types`` the types whose events
    must carry every column of ``values`` (numbers ≥ 0); the entity key is an integer.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    name: str
    dataset: str
    entity: str = "customer_id"
    timestamp: str = "ts"
    event_type: str | None = "type"
    values: tuple[str, ...] = ()
    id: str = "event_id"
    types: tuple[str, ...] = ()
    valued_types: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        where = f"source {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"source name must be lower_snake_case, got {self.name!r}", field="name"
            )
        columns = [self.id, self.entity, self.timestamp, *self.values]
        if self.event_type is not None:
            columns.append(self.event_type)
        for column in columns:
            if not isinstance(column, str) or not column:
                raise ConfigError(f"{where}: column names must be non-empty, got {column!r}")
        if len(set(columns)) != len(columns):
            raise ConfigError(f"{where}: a column is named twice in {columns}", field="values")
        if self.event_type is None and (self.types or self.valued_types):
            raise ConfigError(
                f"{where}: types are declared but the source has no event type column",
                field="types",
            )
        unknown = [t for t in self.valued_types if self.types and t not in self.types]
        if unknown:
            raise ConfigError(
                f"{where}: valued_types {unknown} are not among its types {list(self.types)}",
                field="valued_types",
            )
        if self.valued_types and not self.values:
            raise ConfigError(
                f"{where}: valued_types need at least one value column", field="valued_types"
            )


EVENTS = EventSource(
    "events",
    EVENTS_DATASET,
    values=("amount",),
    types=EVENT_TYPES,
    valued_types=AMOUNT_TYPES,
    description="The bank's digital events (app, transfers, card, openings, biometrics).",
)
"""The lake's digital events: logins, transfers, card transactions, openings, biometrics."""


@dataclass(frozen=True)
class FeatureSpec:
    """One declared feature: what to aggregate, over which events and which window."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    name: str
    source: EventSource
    aggregation: Aggregation
    window: str
    event_type: str | None = None
    value: str | None = None
    description: str = ""
    tier: Tier = "batch"
    owner: str = ""

    def __post_init__(self) -> None:
        where = f"feature {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"feature name must be lower_snake_case, got {self.name!r}", field="name"
            )
        if self.tier not in TIERS:
            raise ConfigError(
                f"{where}: tier must be one of {', '.join(TIERS)}, got {self.tier!r}",
                field="tier",
            )
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"{where}: aggregation must be one of {', '.join(AGGREGATIONS)}, "
                f"got {self.aggregation!r}",
                field="aggregation",
            )
        window_us = parse_window(self.window)
        if self.aggregation in VALUE_AGGREGATIONS:
            if self.value not in self.source.values:
                raise ConfigError(
                    f"{where}: {self.aggregation} needs a value column of {self.source.name} "
                    f"({', '.join(self.source.values) or 'none'}), got {self.value!r}",
                    field="value",
                )
        elif self.value is not None:
            raise ConfigError(
                f"{where}: {self.aggregation} takes no value column, got {self.value!r}",
                field="value",
            )
        if self.event_type is not None and self.source.event_type is None:
            raise ConfigError(
                f"{where}: source {self.source.name!r} has no event type column to filter on",
                field="event_type",
            )
        if self.aggregation == "active_days" and window_us > MAX_ACTIVE_DAYS_WINDOW_US:
            raise ConfigError(
                f"{where}: active_days supports windows up to 63d, got {self.window!r}",
                field="window",
            )
        if self.tier == "stream" and window_us > MAX_STREAM_WINDOW_US:
            raise ConfigError(
                f"{where}: stream windows are at most 1d (their events live in the online "
                f"store), got {self.window!r}",
                field="window",
            )
        if (
            self.event_type is not None
            and self.source.types
            and self.event_type not in self.source.types
        ):
            raise ConfigError(
                f"{where}: event type {self.event_type!r} is not a type of source "
                f"{self.source.name!r} ({', '.join(self.source.types)})",
                field="event_type",
            )

    @property
    def window_us(self) -> int:
        """The window's length in microseconds."""
        return parse_window(self.window)

    @property
    def is_integer(self) -> bool:
        """True when the values are whole numbers (``count``, ``active_days``)."""
        return self.aggregation in INTEGER_AGGREGATIONS

    @property
    def dtype(self) -> pa.DataType:
        """The Arrow type of the feature's column."""
        import pyarrow as pa

        if self.is_integer:
            return pa.int32()
        return pa.float64()

    @property
    def empty_value(self) -> int | float | None:
        """The value when no event falls in the window: 0 for counts and sums, else null."""
        if self.is_integer:
            return 0
        if self.aggregation == "sum":
            return 0.0
        return None


def _events(
    name: str,
    aggregation: Aggregation,
    window: str,
    event_type: str | None,
    description: str,
    value: str | None = None,
) -> FeatureSpec:
    return FeatureSpec(name, EVENTS, aggregation, window, event_type, value, description)


CAMPAIGN_FEATURES: tuple[FeatureSpec, ...] = (
    _events("logins_7d", "count", "7d", "login", "App logins in the 7 days before assignment."),
    _events("logins_30d", "count", "30d", "login", "App logins in the 30 days before assignment."),
    _events("transfers_7d", "count", "7d", "transfer", "Transfers in the last 7 days."),
    _events("transfers_30d", "count", "30d", "transfer", "Transfers in the last 30 days."),
    _events(
        "transfer_amount_30d", "sum", "30d", "transfer",
        "Total transferred in the last 30 days (VND thousands).", "amount",
    ),
    _events(
        "transfer_amount_avg_30d", "avg", "30d", "transfer",
        "Average transfer amount over 30 days (VND thousands); null without transfers.", "amount",
    ),
    _events("card_txn_7d", "count", "7d", "card_txn", "Card transactions in the last 7 days."),
    _events("card_txn_30d", "count", "30d", "card_txn", "Card transactions in the last 30 days."),
    _events(
        "card_amount_30d", "sum", "30d", "card_txn",
        "Card spending in the last 30 days (VND thousands).", "amount",
    ),
    _events(
        "card_amount_avg_30d", "avg", "30d", "card_txn",
        "Average card transaction over 30 days (VND thousands); null without any.", "amount",
    ),
    _events(
        "card_amount_max_30d", "max", "30d", "card_txn",
        "Largest card transaction in 30 days (VND thousands); null without any.", "amount",
    ),
    _events(
        "biometric_auths_30d", "count", "30d", "biometric_auth",
        "Biometric authentications in the last 30 days.",
    ),
    _events(
        "account_openings_30d", "count", "30d", "account_opening",
        "Online account openings in the last 30 days.",
    ),
    _events(
        "days_since_last_login", "days_since", "30d", "login",
        "Days from the last login to assignment; null without a login in 30 days.",
    ),
    _events(
        "days_since_last_card_txn", "days_since", "30d", "card_txn",
        "Days from the last card transaction to assignment; null without one in 30 days.",
    ),
    _events(
        "active_days_30d", "active_days", "30d", None,
        "Days (24-hour periods before assignment) with any event, out of the last 30.",
    ),
    _events("events_30d", "count", "30d", None, "Digital events of any type in 30 days."),
)  # fmt: skip
"""The campaign table's behavioural features, as of each customer's assignment time."""


def _stream(
    name: str,
    aggregation: Aggregation,
    window: str,
    event_type: str | None,
    description: str,
    value: str | None = None,
) -> FeatureSpec:
    return FeatureSpec(
        name, EVENTS, aggregation, window, event_type, value, description, "stream", "risk-data"
    )


STREAM_FEATURES: tuple[FeatureSpec, ...] = (
    _stream("card_txn_5m", "count", "5m", "card_txn", "Card transactions in the last 5 minutes."),
    _stream(
        "card_amount_5m", "sum", "5m", "card_txn",
        "Card spending in the last 5 minutes (VND thousands).", "amount",
    ),
    _stream("logins_1h", "count", "1h", "login", "App logins in the last hour."),
    _stream("transfers_1h", "count", "1h", "transfer", "Transfers in the last hour."),
    _stream(
        "transfer_amount_max_1h", "max", "1h", "transfer",
        "Largest transfer in the last hour (VND thousands); null without one.", "amount",
    ),
    _stream("events_15m", "count", "15m", None, "Digital events of any type in 15 minutes."),
    _stream(
        "days_since_last_event_1h", "days_since", "1h", None,
        "Days since the latest event of the last hour (a fraction); null without one.",
    ),
)  # fmt: skip
"""Near-real-time windows over the event stream, kept up to date in the online store."""


def check_specs(specs: Iterable[FeatureSpec]) -> tuple[FeatureSpec, ...]:
    """The specs as a tuple, refusing repeated names and mixed sources (one source per query)."""
    specs = tuple(specs)
    if not specs:
        raise ConfigError("at least one feature definition is needed", field="features")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(f"feature {spec.name!r} is defined twice", field="features")
        seen.add(spec.name)
    sources = {spec.source for spec in specs}
    if len(sources) > 1:
        names = ", ".join(sorted(s.name for s in sources))
        raise ConfigError(
            f"features of one build must share one source, got several: {names}",
            field="features",
        )
    return specs


def markdown_table(specs: Iterable[FeatureSpec] = CAMPAIGN_FEATURES) -> str:
    """The specs as a Markdown table (the docs embed it; a test keeps them in step)."""
    lines = [
        "| feature | source | event type | aggregation | window | type | description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in specs:
        agg = f"{s.aggregation}({s.value})" if s.value else s.aggregation
        lines.append(
            f"| `{s.name}` | {s.source.dataset} | {s.event_type or 'any'} | {agg} | "
            f"{s.window} | {s.dtype} | {s.description} |"
        )
    return "\n".join(lines)
