"""Feature definitions: three tiers in one declared form, from Python or YAML; a new source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from uplift_engine.errors import ConfigError, DataError
from uplift_engine.features.declarations import load_registry, registry_from_dict
from uplift_engine.features.definitions import (
    CAMPAIGN_FEATURES,
    EVENTS,
    STREAM_FEATURES,
    EventSource,
    FeatureSpec,
)
from uplift_engine.features.offline import materialize
from uplift_engine.features.offline.consistency import check_consistency
from uplift_engine.features.online import FeatureReader
from uplift_engine.features.online.sqlite import SQLiteStore
from uplift_engine.features.registry import FeatureRegistry, default_registry
from uplift_engine.features.request_time import (
    HOURLY_FUNCTIONS,
    REQUEST_FEATURES,
    RequestFeature,
    compute_request_features,
    request_columns,
)
from uplift_engine.features.streaming import StreamIngestor, json_lines
from uplift_engine.features.streaming.schema import iso_utc, moment
from uplift_engine.lake import layout

SECOND = 1_000_000
MINUTE = 60 * SECOND
DAY = 86_400 * SECOND
AT = datetime(2026, 9, 30, 12, tzinfo=UTC)
AT_US = int(AT.timestamp()) * SECOND


# ---------------------------------------------------------------------------------------------
# Three tiers, one registry
# ---------------------------------------------------------------------------------------------


def test_default_registry_holds_the_three_tiers() -> None:
    registry = default_registry()
    assert registry.batch == CAMPAIGN_FEATURES
    assert registry.stream == STREAM_FEATURES
    assert registry.request == REQUEST_FEATURES
    assert {"card_txn_5m", "logins_1h", "session_channel", "hour_of_day_local"} <= set(
        registry.names
    )
    assert len(set(registry.names)) == len(registry.names) == 17 + 7 + 4
    assert list(registry.groups("stream")) == [EVENTS]
    assert all(s.owner and s.description for s in STREAM_FEATURES)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"tier": "hourly"}, "tier must be one of batch, stream", id="tier"),
        pytest.param(
            {"tier": "stream", "window": "2d"}, "stream windows are at most 1d", id="long"
        ),
        pytest.param({"event_type": "loan"}, "'loan' is not a type of source", id="type"),
    ],
)
def test_feature_tiers_are_checked(kwargs: dict[str, str], message: str) -> None:
    spec = {"name": "logins_x", "source": EVENTS, "aggregation": "count", "window": "1h"}
    with pytest.raises(ConfigError, match=message):
        FeatureSpec(**{**spec, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"name": "Calls"}, "lower_snake_case", id="name"),
        pytest.param({"event_type": None, "types": ("a",)}, "no event type column", id="types"),
        pytest.param({"types": ("a",), "valued_types": ("b",)}, "not among its types", id="valued"),
        pytest.param({"valued_types": ("a",)}, "need at least one value column", id="no-values"),
        pytest.param({"values": ("ts",)}, "named twice", id="repeated"),
    ],
)
def test_event_sources_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EventSource(**{"name": "calls", "dataset": "raw/calls", **kwargs})  # type: ignore[arg-type]


def test_a_registry_refuses_repeats_and_undeclared_sources() -> None:
    with pytest.raises(ConfigError, match="defined twice"):
        FeatureRegistry(
            (EVENTS,), CAMPAIGN_FEATURES, (RequestFeature("logins_7d", "channel", "c"),)
        )
    with pytest.raises(ConfigError, match="not declared"):
        FeatureRegistry((), CAMPAIGN_FEATURES)
    with pytest.raises(ConfigError, match="unknown source 'nope'; declared: events"):
        default_registry().source("nope")


# ---------------------------------------------------------------------------------------------
# Request-time: one function for training and serving
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "local_hour", "utc_hour", "weekday"),
    [
        pytest.param("2026-09-30T16:59:59Z", 23, 16, 2, id="before-local-midnight"),
        pytest.param("2026-09-30T17:00:00Z", 0, 17, 3, id="local-midnight"),
        pytest.param("2026-10-01T08:15:00+07:00", 8, 1, 3, id="local-offset"),
        pytest.param("2026-10-01T03:15:00-05:00", 15, 8, 3, id="other-zone"),
    ],
)
def test_hour_of_day_in_the_bank_zone_and_utc(
    ts: str, local_hour: int, utc_hour: int, weekday: int
) -> None:
    values = compute_request_features(REQUEST_FEATURES, {"ts": ts, "channel": "app"})
    assert values == {
        "session_channel": "app",
        "hour_of_day_local": local_hour,
        "day_of_week_local": weekday,
        "hour_of_day_utc": utc_hour,
    }


def test_training_rows_use_the_same_function_as_serving() -> None:
    times = [AT + timedelta(minutes=97 * k) for k in range(40)]
    channels = ["app", "web", "branch", "contact_center", None] * 8
    table = pa.table({"assigned_at": pa.array(times, layout.TIMESTAMP), "channel": channels})
    columns = request_columns(REQUEST_FEATURES, table, rename={"ts": "assigned_at"})
    served = [
        compute_request_features(REQUEST_FEATURES, {"ts": t.isoformat(), "channel": c})
        for t, c in zip(times, channels, strict=True)
    ]
    assert columns.to_pylist() == served
    assert columns.schema.field("hour_of_day_local").type == pa.int32()
    assert columns.column("session_channel").null_count == 8


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param({"channel": "fax"}, "'channel': expected one of app, web", id="channel"),
        pytest.param({"ts": "2026-09-30T12:00:00"}, "'ts': needs a time zone", id="naive"),
        pytest.param({"ts": "noon"}, "'ts': expected an ISO 8601 time", id="words"),
        pytest.param({"ts": 12}, "'ts': expected an ISO 8601 time string", id="number"),
    ],
)
def test_bad_request_fields_are_named(payload: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        compute_request_features(REQUEST_FEATURES, payload)
    assert caught.value.field == next(iter(payload))


def test_hourly_functions_are_decided_by_the_utc_hour_alone() -> None:
    """The table side reduces times to their UTC hour; every row must still equal the request
    side's value on the exact time, in any zone the table's column is typed in."""
    rng = np.random.default_rng(7)
    micros = AT_US + rng.integers(-400 * 86_400 * SECOND, 400 * 86_400 * SECOND, size=3000)
    edges = [AT_US + k * 3_600 * SECOND + d for k in range(-30, 30) for d in (-1, 0, 1)]
    values = np.concatenate([micros, np.array(edges, dtype=np.int64)])
    for zone in ("UTC", "+05:30", "-09:45", "Asia/Ho_Chi_Minh"):
        table = pa.table({"ts": pa.array(values, pa.timestamp("us", tz=zone))})
        hourly = [f for f in REQUEST_FEATURES if f.function in HOURLY_FUNCTIONS]
        columns = request_columns(hourly, table)
        exact = [
            compute_request_features(hourly, {"ts": moment(int(v))}) for v in values.tolist()
        ]
        assert columns.to_pylist() == exact, zone


def test_a_request_without_its_time_is_taken_at_the_decision_moment(tmp_path: Path) -> None:
    reader = FeatureReader(SQLiteStore(tmp_path / "o.sqlite"), default_registry())
    at = AT_US + 17 * 3_600 * SECOND + 59 * 60 * SECOND  # 2026-10-01 05:59 UTC, 12:59 local
    row = reader.read(1, at_us=at, request={"channel": "app"})
    assert (row["hour_of_day_utc"], row["hour_of_day_local"], row["day_of_week_local"]) == (
        5, 12, 3,
    )  # fmt: skip
    given = reader.read(1, at_us=at, request={"ts": "2026-10-01T23:10:00+07:00"})
    assert given["hour_of_day_local"] == 23


def test_request_columns_name_a_missing_column() -> None:
    with pytest.raises(DataError, match=r"need the column.*'ts'"):
        request_columns(REQUEST_FEATURES, pa.table({"channel": ["app"]}))


# ---------------------------------------------------------------------------------------------
# YAML: the same objects, errors that name the place
# ---------------------------------------------------------------------------------------------

SERVICE_YAML = """
builtin: false
sources:
  - name: service_calls
    dataset: raw/service_calls
    values: [minutes]
    types: [call, chat]
    valued_types: [call]
    description: Calls and chats with the 24/7 service centre.
features:
  - {name: calls_7d, source: service_calls, aggregation: count, window: 7d, event_type: call,
     owner: service, description: Calls in the last 7 days.}
  - {name: call_minutes_30d, source: service_calls, aggregation: sum, value: minutes,
     window: 30d, event_type: call}
  - {name: days_since_last_chat, source: service_calls, aggregation: days_since, window: 30d,
     event_type: chat}
  - {name: chats_1h, source: service_calls, aggregation: count, window: 1h, event_type: chat,
     tier: stream}
  - {name: call_minutes_max_15m, source: service_calls, aggregation: max, value: minutes,
     window: 15m, event_type: call, tier: stream}
request_features:
  - {name: session_channel, function: channel, field: channel}
"""


def test_yaml_declares_the_same_typed_objects(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(SERVICE_YAML)
    registry = load_registry(path)
    (source,) = registry.sources
    assert source == EventSource(
        "service_calls",
        "raw/service_calls",
        values=("minutes",),
        types=("call", "chat"),
        valued_types=("call",),
        description="Calls and chats with the 24/7 service centre.",
    )
    assert registry.batch[0] == FeatureSpec(
        "calls_7d", source, "count", "7d", "call", None, "Calls in the last 7 days.", "batch",
        "service",
    )  # fmt: skip
    assert [s.name for s in registry.stream] == ["chats_1h", "call_minutes_max_15m"]
    assert registry.request == (RequestFeature("session_channel", "channel", "channel"),)


def test_yaml_can_extend_the_built_in_definitions() -> None:
    registry = registry_from_dict(
        {"builtin": True, "features": [{"name": "logins_12h", "aggregation": "count",
                                        "window": "12h", "event_type": "login"}]}
    )  # fmt: skip
    assert registry.names[:17] == default_registry().names[:17]
    assert "logins_12h" in registry.names


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(
            {"features": [{"name": "x_1d", "aggregation": "count", "window": "1 day"}]},
            r"features\[0\]: window must be", id="window",
        ),
        pytest.param(
            {"features": [{"name": "x_1d", "aggregation": "median", "window": "1d"}]},
            r"features\.0\.aggregation|features\[0\]\.aggregation", id="aggregation",
        ),
        pytest.param(
            {"features": [{"name": "x", "aggregation": "count", "window": "1d", "windw": 1}]},
            r"features\[0\]\.windw: Extra inputs", id="typo",
        ),
        pytest.param(
            {"features": [{"name": "x", "source": "loans", "aggregation": "count",
                           "window": "1d"}]},
            r"features\[0\]\.source: unknown source 'loans'", id="source",
        ),
        pytest.param(
            {"sources": [{"name": "loans", "dataset": "raw/loans", "valued_types": ["a"]}]},
            r"sources\[0\]: .*valued_types", id="source-rule",
        ),
        pytest.param(
            {"request_features": [{"name": "h", "function": "eval", "field": "ts"}]},
            r"request_features\[0\]\.function", id="no-code",
        ),
        pytest.param({"features": {"name": "x"}}, r"features: ", id="not-a-list"),
    ],
)  # fmt: skip
def test_yaml_errors_name_the_field(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        registry_from_dict(document)


def test_unreadable_definitions_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read feature definitions"):
        load_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_registry(bad)


# ---------------------------------------------------------------------------------------------
# A new source end to end: declared, not coded
# ---------------------------------------------------------------------------------------------


def _customers(ids: list[int]) -> pa.Table:
    n = len(ids)
    columns = {f.name: pa.nulls(n, f.type) for f in layout.CUSTOMERS_SCHEMA}
    columns["customer_id"] = pa.array(ids, pa.int64())
    return pa.table(columns, schema=layout.CUSTOMERS_SCHEMA)


def test_a_made_up_source_needs_no_engine_change(tmp_path: Path) -> None:
    path = tmp_path / "features.yaml"
    path.write_text(SERVICE_YAML)
    registry = load_registry(path)
    rows = [  # (id, customer, type, ts, minutes)
        (1, 1, "call", AT_US - 7 * DAY, 5.0),  # edge of 7d: counts
        (2, 1, "call", AT_US - 8 * DAY, 7.5),
        (3, 1, "chat", AT_US - 2 * DAY, None),
        (5, 1, "chat", AT_US - 30 * MINUTE, None),
        (4, 1, "call", AT_US - 10 * MINUTE, 3.0),
        (6, 1, "call", AT_US, 99.0),  # at t: never
        (7, 2, "chat", AT_US - 1, None),
        (8, 2, "call", AT_US - DAY, -1.0),  # a bad row: quarantined by the derived rules
    ]
    lake = tmp_path / "lake"
    (lake / layout.CUSTOMERS).mkdir(parents=True)
    pq.write_table(_customers([1, 2, 3]), lake / layout.CUSTOMERS / "part-00000.parquet")
    calls = pa.table(
        {
            "event_id": pa.array([r[0] for r in rows], pa.int64()),
            "customer_id": pa.array([r[1] for r in rows], pa.int64()),
            "type": [r[2] for r in rows],
            "ts": pa.array(np.array([r[3] for r in rows]), pa.int64()).cast(layout.TIMESTAMP),
            "minutes": pa.array([r[4] for r in rows], pa.float64()),
        }
    )
    (lake / "raw/service_calls").mkdir(parents=True)
    pq.write_table(calls, lake / "raw/service_calls/part-00000.parquet")

    store = SQLiteStore(tmp_path / "online.sqlite")
    summary = materialize(str(lake), store, registry, as_of=AT, memory_limit="1GB")
    assert summary.quarantined == {"customers": 0, "src_service_calls": 1}
    lines = [
        json.dumps({"event_id": r[0], "customer_id": r[1], "type": r[2], "ts": iso_utc(r[3])}
                   | ({"minutes": r[4]} if r[4] is not None else {}))
        for r in rows
    ]  # fmt: skip
    ingest = StreamIngestor(store, registry.stream, lateness="10m", max_clock_skew=None)
    streamed = ingest.ingest(json_lines(lines, "calls.jsonl"))
    # 8 days back is beyond the lateness behind customer 1's latest event; -1 minutes is invalid
    assert (streamed.accepted, streamed.late, streamed.malformed) == (6, 1, 1)

    reader = FeatureReader(store, registry)
    one = reader.read(1, at_us=AT_US, request={"channel": "app"})
    assert one == {
        "calls_7d": 2,
        "call_minutes_30d": 15.5,
        "days_since_last_chat": 30 / 1440,
        "chats_1h": 1,
        "call_minutes_max_15m": 3.0,
        "session_channel": "app",
    }
    assert reader.read(2, at_us=AT_US)["chats_1h"] == 1
    report = check_consistency(str(lake), store, registry, sample=3, at=AT, memory_limit="1GB")
    assert report.ok and report.mismatches == 0 and report.customers == 3


def test_docs_hold_the_generated_stream_and_request_tables() -> None:
    from uplift_engine.features.definitions import markdown_table
    from uplift_engine.features.request_time import request_markdown_table

    docs = (Path(__file__).resolve().parents[1] / "docs" / "features.md").read_text()
    assert markdown_table(STREAM_FEATURES) in docs
    assert request_markdown_table() in docs
