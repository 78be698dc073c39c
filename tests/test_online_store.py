"""The online store: one protocol, SQLite and a real Redis behind it; materialise and read."""

from __future__ import annotations

import json
import math
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401 (fixtures)
from uplift_engine.config.settings import RedisOnlineStore, Settings, SQLiteOnlineStore
from uplift_engine.errors import ConfigError, StorageError
from uplift_engine.features import CAMPAIGN_FEATURES
from uplift_engine.features.offline import materialize
from uplift_engine.features.online import (
    AS_OF_FIELD,
    META_KEY,
    FeatureReader,
    OnlineStore,
    WindowEvent,
    decode_value,
    encode_value,
    open_store,
)
from uplift_engine.features.online.codec import decode_attribute
from uplift_engine.features.online.redis import RedisStore
from uplift_engine.features.online.sqlite import SQLiteStore
from uplift_engine.features.registry import default_registry
from uplift_engine.lake import layout

SECOND = 1_000_000
DAY = 86_400 * SECOND
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
AT_US = int(AT.timestamp()) * SECOND


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def store(request, tmp_path: Path):
    if request.param == "sqlite":
        made: OnlineStore = SQLiteStore(tmp_path / "online.sqlite")
    else:
        made = RedisStore(request.getfixturevalue("redis_url"), "test:")
    yield made
    made.close()


# ---------------------------------------------------------------------------------------------
# The protocol, on both backends
# ---------------------------------------------------------------------------------------------


def test_both_backends_satisfy_the_protocol(store: OnlineStore) -> None:
    assert isinstance(store, OnlineStore)


def test_put_merges_values_and_get_reads_every_field(store: OnlineStore) -> None:
    assert store.put([("1", {"a": "1", "b": ""}), ("2", {"a": "2"}), ("3", {})]) == 2
    assert store.put([("1", {"b": "3.5", "c": "x"})]) == 1
    assert store.get("1") == {"a": "1", "b": "3.5", "c": "x"}
    assert store.get("404") == {}
    assert store.get_many(["2", "404", "1"]) == [
        {"a": "2"},
        {},
        {"a": "1", "b": "3.5", "c": "x"},
    ]


MINUTE = 60 * SECOND
LATENESS, HORIZON = 10 * MINUTE, 70 * MINUTE


def ev(key: str, event_id: str, ts: int, kind: str = "login") -> WindowEvent:
    return WindowEvent(key, event_id, ts, f'[{ts},"{kind}","{event_id}",null]')


def window(store: OnlineStore, key: str) -> tuple[int, list[str]]:
    """A window as read: the watermark and the kept ids in time order."""
    watermark, rows = json.loads(store.get(key)["_w:e"])
    return watermark, [row[2] for row in sorted(rows)]


def test_append_events_decides_each_event_in_arrival_order(store: OnlineStore) -> None:
    store.put([("1", {"a": "1"})])
    codes = store.append_events(
        "_w:e",
        [
            ev("1", "x", AT_US),
            ev("1", "x", AT_US),  # the same id in the same call → duplicate
            ev("1", "y", AT_US - LATENESS),  # exactly the lateness behind → kept
            ev("1", "z", AT_US - LATENESS - 1),  # beyond it → late
            ev("2", "x", AT_US - DAY),  # another customer: its own watermark
        ],
        LATENESS,
        HORIZON,
    )
    assert codes == "adala"
    assert store.append_events("_w:e", [ev("1", "y", AT_US - LATENESS)], LATENESS, HORIZON) == "d"
    assert window(store, "1") == (AT_US, ["y", "x"])
    assert store.get("1")["a"] == "1"
    assert [sorted(row) for row in store.get_many(["2", "3"])] == [["_w:e"], []]


def test_events_beyond_the_horizon_are_forgotten_ids_and_all(store: OnlineStore) -> None:
    store.append_events("_w:e", [ev("1", "old", AT_US)], LATENESS, HORIZON)
    later = AT_US + HORIZON + 1
    assert store.append_events("_w:e", [ev("1", "new", later)], LATENESS, HORIZON) == "a"
    assert window(store, "1") == (later, ["new"])
    # a copy of the forgotten event is late, never counted again
    assert store.append_events("_w:e", [ev("1", "old", AT_US)], LATENESS, HORIZON) == "l"


@pytest.mark.integration
def test_redis_appends_survive_a_server_that_lost_its_scripts(redis_url: str) -> None:
    import redis

    store = RedisStore(redis_url, "lost:")
    assert store.append_events("_w:e", [ev("1", "a", AT_US)], LATENESS, HORIZON) == "a"
    redis.Redis.from_url(redis_url).script_flush()
    assert store.append_events("_w:e", [ev("1", "a", AT_US)], LATENESS, HORIZON) == "d"


def test_delete_removes_values_and_states(store: OnlineStore) -> None:
    store.put([("1", {"a": "1"}), ("2", {"a": "2"})])
    store.append_events("_w:e", [ev("3", "x", AT_US)], LATENESS, HORIZON)
    assert store.delete(["1", "3", "404"]) == 2
    assert store.get_many(["1", "2", "3"]) == [{}, {"a": "2"}, {}]
    assert store.append_events("_w:e", [ev("3", "x", AT_US)], LATENESS, HORIZON) == "a"


def test_many_keys_cross_the_batch_limits(store: OnlineStore) -> None:
    keys = [str(i) for i in range(2_345)]
    assert store.put((k, {"v": k}) for k in keys) == len(keys)
    rows = store.get_many(keys[::-1])
    assert [r["v"] for r in rows] == keys[::-1]
    codes = store.append_events("_w:e", [ev(k, k, AT_US) for k in keys], LATENESS, HORIZON)
    assert codes == "a" * len(keys)
    windows = [json.loads(r["_w:e"]) for r in store.get_many(keys)]
    assert [w[1][0][2] for w in windows] == keys


@pytest.mark.integration
def test_two_writers_share_a_window_and_count_each_event_once(
    tmp_path: Path, redis_url: str
) -> None:
    for first, second in [
        (SQLiteStore(tmp_path / "s.sqlite"), SQLiteStore(tmp_path / "s.sqlite")),
        (RedisStore(redis_url, "two:"), RedisStore(redis_url, "two:")),
    ]:
        assert first.append_events("_w:e", [ev("7", "a", AT_US)], LATENESS, HORIZON) == "a"
        both = [ev("7", "a", AT_US), ev("7", "b", AT_US + 1)]
        assert second.append_events("_w:e", both, LATENESS, HORIZON) == "da"
        late = ev("7", "c", AT_US + 1 - LATENESS - 1)  # late only against second's event
        assert first.append_events("_w:e", [*both, late], LATENESS, HORIZON) == "ddl"
        assert window(first, "7") == window(second, "7") == (AT_US + 1, ["a", "b"])
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("value", "text", "spec_index"),
    [
        pytest.param(3, "3", 0, id="count"),
        pytest.param(0.1, "0.1", 5, id="average"),
        pytest.param(1 / 3, repr(1 / 3), 5, id="bits-kept"),
        pytest.param(None, "", 5, id="null"),
    ],
)
def test_values_read_back_exactly(value, text: str, spec_index: int) -> None:
    spec = CAMPAIGN_FEATURES[spec_index]
    assert encode_value(value) == text
    assert decode_value(text, spec) == value


def test_absent_field_reads_as_the_offline_empty_value() -> None:
    count, average = CAMPAIGN_FEATURES[0], CAMPAIGN_FEATURES[5]
    assert decode_value(None, count) == 0
    assert decode_value(None, average) is None


# ---------------------------------------------------------------------------------------------
# Chosen by the settings; failures people can act on
# ---------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_settings_choose_the_backend(tmp_path: Path, redis_url: str) -> None:
    sqlite = open_store(Settings(online_store=SQLiteOnlineStore(path=str(tmp_path / "x.db"))))
    redis = open_store(Settings(online_store=RedisOnlineStore(url=redis_url)))
    assert isinstance(sqlite, SQLiteStore) and isinstance(redis, RedisStore)
    sqlite.close()
    redis.close()


def test_a_typo_in_the_backend_fails_loudly() -> None:
    with pytest.raises(ValidationError, match="redsi"):
        Settings(online_store={"type": "redsi"})
    with pytest.raises(ValidationError, match=r"online_store\.redis\.uri\n.*Unexpected keyword"):
        Settings(online_store={"type": "redis", "uri": "redis://x"})


@pytest.mark.integration
def test_an_unreachable_redis_is_a_storage_error_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisStore(f"redis://user:secret@127.0.0.1:{port}/0", timeout=0.5)
    with pytest.raises(StorageError, match=rf"127\.0\.0\.1:{port}") as caught:
        store.get("1")
    assert "secret" not in str(caught.value)


def test_an_unwritable_sqlite_path_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot open the SQLite online store"):
        SQLiteStore(blocker / "online.sqlite")


# ---------------------------------------------------------------------------------------------
# Materialise from a lake, read as the scoring path does
# ---------------------------------------------------------------------------------------------


def _ts(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(layout.TIMESTAMP)


def write_small_lake(root: Path) -> str:
    """Customers 1–3; events of customer 1 around AT (before, at the window edges, after)."""
    ids = np.array([1, 2, 3], dtype=np.int64)
    customers = pa.table(
        {
            "customer_id": ids,
            "age": np.array([30, 40, 50], dtype=np.int16),
            "income_m_vnd": [10.0, 20.0, 30.0],
            "tenure_months": np.array([1, 2, 3], dtype=np.int16),
            "segment": ["mass"] * 3,
            "region": ["south"] * 3,
            "preferred_channel": ["app"] * 3,
            "products_held": np.array([1, 1, 1], dtype=np.int8),
            "balance_m_vnd": [1.0, 2.0, 3.0],
            "biometric_enrolled": [True, False, True],
        },
        schema=layout.CUSTOMERS_SCHEMA,
    )
    times = [AT_US - 7 * DAY, AT_US - 7 * DAY - 1, AT_US - DAY, AT_US - 1, AT_US, AT_US + DAY]
    events = pa.table(
        {
            "event_id": np.arange(6, dtype=np.int64),
            "customer_id": np.array([1, 1, 1, 1, 1, 2], dtype=np.int64),
            "type": ["login", "login", "card_txn", "card_txn", "login", "login"],
            "ts": _ts(times),
            "amount": pa.array([None, None, 100.0, 50.5, None, None], pa.float64()),
        },
        schema=layout.EVENTS_SCHEMA,
    )
    for path, table in ((layout.CUSTOMERS, customers), (layout.EVENTS, events)):
        (root / path).mkdir(parents=True)
        pq.write_table(table, root / path / layout.part_name(0))
    return str(root)


def test_materialize_puts_point_in_time_values_of_every_customer(
    store: OnlineStore, tmp_path: Path
) -> None:
    lake = write_small_lake(tmp_path / "lake")
    summary = materialize(lake, store, as_of=AT, memory_limit="1GB")
    assert summary.customers == 3
    assert summary.as_of == "2026-03-01T12:00:00+00:00"
    assert summary.features == tuple(s.name for s in CAMPAIGN_FEATURES)
    one, two, three = (FeatureReader(store).read(c, at_us=AT_US) for c in (1, 2, 3))
    assert one["logins_7d"] == 1  # at t − 7d counts, t − 7d − 1 µs does not, t never
    assert one["logins_30d"] == 2
    assert one["card_txn_7d"] == 2
    assert one["card_amount_30d"] == 150.5
    assert one["card_amount_max_30d"] == 100.0
    assert one["days_since_last_card_txn"] == 1 / DAY
    assert two["logins_30d"] == 0 and two["days_since_last_login"] is None  # only after t
    assert three["events_30d"] == 0 and three["card_amount_avg_30d"] is None
    fields = store.get("1")
    assert fields[AS_OF_FIELD] == str(AT_US)
    assert store.get(META_KEY)["as_of"] == summary.as_of


def test_rematerialising_overwrites_values_and_keeps_window_states(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "o.sqlite")
    lake = write_small_lake(tmp_path / "lake")
    store.append_events("_w:events", [ev("1", "x", AT_US)], LATENESS, HORIZON)
    materialize(lake, store, as_of=AT, memory_limit="1GB")
    materialize(lake, store, as_of=AT + timedelta(days=2), memory_limit="1GB")
    fields = store.get("1")
    assert fields["logins_30d"] == "3"  # t + 2d: the login at t counts now
    assert fields["_w:events"] == f'[{AT_US},[[{AT_US},"login","x",null]]]'


def test_reader_returns_every_tier_in_one_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "o.sqlite")
    materialize(write_small_lake(tmp_path / "lake"), store, as_of=AT, memory_limit="1GB")
    reader = FeatureReader(store, default_registry())
    row = reader.read(1, at_us=AT_US, request={"channel": "Web", "ts": "2026-03-01T18:30:00+07:00"})
    assert list(row) == list(reader.names)
    assert row["session_channel"] == "web"
    assert (row["hour_of_day_local"], row["hour_of_day_utc"], row["day_of_week_local"]) == (
        18,
        11,
        6,
    )
    assert row["card_txn_5m"] == 0 and row["logins_1h"] == 0  # no stream state yet
    unknown = reader.read(99, at_us=AT_US)
    assert unknown["logins_30d"] == 0 and unknown["card_amount_avg_30d"] is None
    assert reader.read_many([1, 99], at_us=AT_US)[0]["card_amount_30d"] == 150.5


def test_materialize_defaults_to_just_after_the_lakes_latest_event(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "o.sqlite")
    summary = materialize(write_small_lake(tmp_path / "lake"), store, memory_limit="1GB")
    assert summary.as_of_from == "latest event"
    assert summary.as_of == (AT + timedelta(days=1, microseconds=1)).isoformat()
    assert store.get("2")["logins_30d"] == "1"  # the lake's latest event counts
    assert store.get("1")["logins_30d"] == "3"


def test_cli_materialize_keeps_its_sqlite_store_in_the_lake(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from uplift_engine.cli.main import app

    lake = write_small_lake(tmp_path / "lake")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in ("UPLIFT_ONLINE_STORE__TYPE", "UPLIFT_ONLINE_STORE__PATH"):
        monkeypatch.delenv(name, raising=False)
    done = CliRunner().invoke(app, ["features", "materialize", "--lake", lake])
    assert done.exit_code == 0, done.output
    assert "(just after the lake's latest event)" in done.stdout
    assert (tmp_path / "lake" / "online.sqlite").exists()
    assert not (elsewhere / "lake").exists()


def test_materialize_refuses_a_naive_time(tmp_path: Path) -> None:
    store = SQLiteStore(":memory:")
    with pytest.raises(ConfigError, match="as_of needs a time zone"):
        materialize(str(tmp_path), store, as_of=datetime(2026, 3, 1))


def test_sqlite_decides_alike_when_its_cached_windows_overflow() -> None:
    store = SQLiteStore(":memory:", cached_windows=4)
    first = [ev(str(k), "x", AT_US + k) for k in range(10)]
    assert store.append_events("_w:e", first, LATENESS, HORIZON) == "a" * 10
    assert len(store._heads["_w:e"]) <= 4  # the earliest cached were let go
    again = [ev(str(k), "x", AT_US + k) for k in range(10)]
    late = [ev(str(k), "y", AT_US + k - LATENESS - 1) for k in range(10)]
    assert store.append_events("_w:e", again + late, LATENESS, HORIZON) == "d" * 10 + "l" * 10


@pytest.mark.parametrize(
    "value",
    [0, -3, 2**63, 36, 1.5, -0.25, 1e-05, 1e300, 5e-324, float("inf"), float("-inf"), True, False,
     None, "", "mass", "Hà Nội", 'say "hi"', "back\\slash", "12", "-", "true", "null", "nan",
     [1, 2], {"a": 1}],
)  # fmt: skip
def test_attribute_values_decode_as_json_does(value: object) -> None:
    text = json.dumps(value)
    assert decode_attribute(text) == json.loads(text)
    assert type(decode_attribute(text)) is type(json.loads(text))
    nan = decode_attribute(json.dumps(float("nan")))
    assert isinstance(nan, float) and math.isnan(nan)
