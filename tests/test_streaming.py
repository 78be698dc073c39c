"""Streaming ingestion: one schema, exact half-open windows, at-least-once, dead letters."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401 (fixtures)
from uplift_engine.errors import ConfigError
from uplift_engine.features.definitions import EVENTS, STREAM_FEATURES, EventSource, FeatureSpec
from uplift_engine.features.online import FeatureReader, OnlineStore, window_field
from uplift_engine.features.online.redis import RedisStore
from uplift_engine.features.online.sqlite import SQLiteStore
from uplift_engine.features.registry import FeatureRegistry
from uplift_engine.features.streaming import (
    EventError,
    EventSchema,
    RawEvent,
    StreamIngestor,
    WindowPlan,
    WindowState,
    json_lines,
    kinesis_event,
    kinesis_records,
    write_dead_letters,
)
from uplift_engine.features.streaming.schema import iso_utc
from uplift_engine.lake import read_table

SECOND = 1_000_000
MINUTE = 60 * SECOND
T = int(datetime(2026, 9, 30, 12, tzinfo=UTC).timestamp()) * SECOND
REGISTRY = FeatureRegistry((EVENTS,), STREAM_FEATURES)


def event(i: int, ts: int, kind: str = "card_txn", customer: int = 1, **extra) -> dict:
    body = {"event_id": i, "customer_id": customer, "type": kind, "ts": iso_utc(ts)}
    if kind in ("card_txn", "transfer"):
        body["amount"] = 10.0 + i
    return body | extra


def line(i: int, ts: int, kind: str = "card_txn", customer: int = 1, **extra) -> str:
    return json.dumps(event(i, ts, kind, customer, **extra))


def ingestor(store: OnlineStore, **kwargs) -> StreamIngestor:
    options = {"lateness": "10m", "max_clock_skew": None} | kwargs
    return StreamIngestor(store, STREAM_FEATURES, **options)


def read(store: OnlineStore, customer: int = 1, at: int = T) -> dict:
    return FeatureReader(store, REGISTRY).read(customer, at_us=at)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def store(request, tmp_path: Path):
    if request.param == "sqlite":
        made: OnlineStore = SQLiteStore(tmp_path / "online.sqlite")
    else:
        made = RedisStore(request.getfixturevalue("redis_url"))
    yield made
    made.close()


# ---------------------------------------------------------------------------------------------
# One schema
# ---------------------------------------------------------------------------------------------


def test_a_valid_event_is_read_in_utc_microseconds() -> None:
    parsed = EventSchema(EVENTS).parse(
        '{"event_id": "a-1", "customer_id": 7, "type": "card_txn", '
        '"ts": "2026-09-30T19:00:00.000001+07:00", "amount": 12, "channel": "app"}'
    )
    assert parsed.id == "a-1" and parsed.key == 7 and parsed.type == "card_txn"
    assert parsed.ts == T + 1
    assert parsed.values == (12.0,)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param("{not json", "event: not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe{}", "event: not", id="not-utf8"),
        pytest.param("[1, 2]", "event: not a JSON object", id="array"),
        pytest.param(event(1, T) | {"event_id": None}, "event_id: missing", id="no-id"),
        pytest.param(event(1, T) | {"event_id": True}, "event_id: not an integer", id="bool-id"),
        pytest.param(event(1, T) | {"event_id": ""}, "event_id: not an integer", id="empty-id"),
        pytest.param(event(1, T) | {"customer_id": "7"}, "customer_id: not an int", id="str-key"),
        pytest.param(event(1, T) | {"customer_id": 2**63}, "customer_id: outside", id="big-key"),
        pytest.param(event(1, T) | {"type": "loan"}, "type: unknown event type 'loan'", id="type"),
        pytest.param(event(1, T) | {"type": ["login"]}, "type: not a non-empty", id="list-type"),
        pytest.param(event(1, T) | {"ts": None}, "ts: missing", id="no-ts"),
        pytest.param(event(1, T) | {"ts": 1790000000}, "ts: not an ISO 8601 string", id="epoch"),
        pytest.param(event(1, T) | {"ts": "yesterday"}, "ts: not an ISO 8601 time", id="words"),
        pytest.param(event(1, T) | {"ts": "2026-09-30T12:00:00"}, "ts: no time zone", id="naive"),
        pytest.param(event(1, T) | {"ts": "1999-12-31T23:59:59Z"}, "ts: outside", id="old"),
        pytest.param(event(1, T) | {"amount": None}, "amount: missing for its type", id="no-amt"),
        pytest.param(event(1, T) | {"amount": "12"}, "amount: not a number", id="str-amount"),
        pytest.param(event(1, T) | {"amount": -1.0}, "amount: negative", id="negative"),
        pytest.param('{"event_id":1,"customer_id":1,"type":"card_txn",'
                     '"ts":"2026-09-30T12:00:00Z","amount":NaN}', "amount: not finite", id="nan"),
    ],
)  # fmt: skip
def test_the_schema_names_the_field_and_the_problem(payload, reason: str) -> None:
    with pytest.raises(EventError) as caught:
        EventSchema(EVENTS).parse(payload)
    assert caught.value.reason.startswith(reason)


def test_amount_is_optional_for_types_without_one() -> None:
    assert EventSchema(EVENTS).parse(line(1, T, "login")).values == (None,)


# ---------------------------------------------------------------------------------------------
# Windows: half-open, exact, in the right place however late within the lateness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "in_5m", "in_1h"),
    [
        pytest.param(-5 * MINUTE, 1, 1, id="at-t-minus-5m-counts"),
        pytest.param(-5 * MINUTE - 1, 0, 1, id="just-before-5m"),
        pytest.param(-60 * MINUTE, 0, 1, id="at-t-minus-1h"),
        pytest.param(-60 * MINUTE - 1, 0, 0, id="just-before-1h"),
        pytest.param(-1, 1, 1, id="just-before-t"),
        pytest.param(0, 0, 0, id="at-t-never"),
    ],
)
def test_windows_are_half_open(offset: int, in_5m: int, in_1h: int) -> None:
    store = SQLiteStore(":memory:")
    ingestor(store).ingest(
        [RawEvent(line(1, T + offset), "x"), RawEvent(line(2, T + offset, "transfer"), "x")]
    )
    values = read(store)
    assert values["card_txn_5m"] == in_5m
    assert values["transfers_1h"] == in_1h
    assert values["card_amount_5m"] == (11.0 if in_5m else 0.0)


def test_window_values_as_the_offline_semantics_say() -> None:
    store = SQLiteStore(":memory:")
    lines = [
        line(1, T - 30 * MINUTE, "transfer"),
        line(2, T - 20 * MINUTE, "transfer"),
        line(3, T - 2 * MINUTE, "login"),
        line(4, T - 1 * MINUTE, "card_txn"),
    ]
    ingestor(store).ingest(json_lines(lines, "f"))
    values = read(store)
    assert values["transfers_1h"] == 2
    assert values["transfer_amount_max_1h"] == 12.0
    assert values["logins_1h"] == 1
    assert values["events_15m"] == 2
    assert values["days_since_last_event_1h"] == MINUTE / 86_400_000_000
    empty = read(store, customer=2)
    assert empty["transfer_amount_max_1h"] is None and empty["card_amount_5m"] == 0.0


def test_out_of_order_within_lateness_gives_the_in_order_values(store: OnlineStore) -> None:
    rng = random.Random(3)
    times = sorted(T - rng.randrange(0, 50 * MINUTE) for _ in range(60))
    ordered = [
        line(i, ts, rng.choice(["login", "card_txn", "transfer"])) for i, ts in enumerate(times)
    ]
    # displace each event by less than the lateness: sort on time + a jitter below 10 minutes
    shuffled = sorted(ordered, key=lambda text: _jittered(text, rng))
    reference = SQLiteStore(":memory:")
    ingestor(reference).ingest(json_lines(ordered, "f"))
    summary = ingestor(store).ingest(json_lines(shuffled, "f"), batch_size=7)
    assert summary.accepted == 60 and summary.late == 0
    assert shuffled != ordered
    assert read(store) == read(reference)


def _jittered(text: str, rng: random.Random) -> int:
    ts = datetime.fromisoformat(json.loads(text)["ts"])
    return int(ts.timestamp() * SECOND) + rng.randrange(0, 9 * MINUTE)


def test_events_beyond_the_lateness_are_dead_letters(tmp_path: Path) -> None:
    store = SQLiteStore(":memory:")
    ingest = ingestor(store)
    summary = ingest.ingest(
        json_lines([line(1, T), line(2, T - 10 * MINUTE), line(3, T - 10 * MINUTE - 1)], "f")
    )
    assert (summary.accepted, summary.late) == (2, 1)
    letters = ingest.take_dead_letters()
    assert [d.origin for d in letters] == ["f:3"]
    assert letters[0].reason == "ts: more than 10m behind the customer's latest event"
    assert json.loads(letters[0].raw)["event_id"] == 3
    other = ingest.ingest(json_lines([line(4, T - 30 * MINUTE, customer=2)], "g"))
    assert other.accepted == 1  # the lateness is per customer


def test_events_from_the_future_are_dead_letters() -> None:
    ingest = ingestor(SQLiteStore(":memory:"), max_clock_skew="5m", clock=lambda: T)
    summary = ingest.ingest(json_lines([line(1, T + 5 * MINUTE), line(2, T + 5 * MINUTE + 1)], "f"))
    assert (summary.accepted, summary.future) == (1, 1)
    assert summary.reasons == {"ts: more than 5m ahead of the clock": 1}


# ---------------------------------------------------------------------------------------------
# At least once: duplicates counted once; batch and one at a time agree
# ---------------------------------------------------------------------------------------------


def test_duplicates_count_once_within_and_across_batches(store: OnlineStore) -> None:
    ingest = ingestor(store)
    first = ingest.ingest(
        json_lines([line(1, T - MINUTE), line(1, T - MINUTE), line(2, T - 2)], "f")
    )
    again = ingest.ingest(json_lines([line(2, T - 2), line(1, T - MINUTE), line(3, T - 1)], "f"))
    assert (first.accepted, first.duplicates) == (2, 1)
    assert (again.accepted, again.duplicates) == (1, 2)
    assert read(store)["card_txn_5m"] == 3
    assert ingest.take_dead_letters() == []


def test_a_large_batch_of_one_customer_counts_each_id_once() -> None:
    store = SQLiteStore(":memory:")
    lines = [line(i % 60, T - 50 * MINUTE + (i % 60) * SECOND) for i in range(150)]
    summary = ingestor(store).ingest(json_lines(lines, "f"))
    assert (summary.accepted, summary.duplicates) == (60, 90)
    assert read(store)["events_15m"] == 0 and read(store, at=T - 40 * MINUTE)["events_15m"] == 60


def test_a_redelivery_after_the_horizon_is_late_not_counted_twice() -> None:
    store = SQLiteStore(":memory:")
    ingest = ingestor(store)
    ingest.ingest(json_lines([line(1, T - 65 * MINUTE), line(2, T + 20 * MINUTE)], "f"))
    state = WindowState.decode(store.get("1")[window_field("events")], 1)
    assert state.ids == ["2"]  # 1h + 10m behind the latest event: forgotten
    assert ingest.ingest(json_lines([line(1, T - 65 * MINUTE)], "f")).late == 1


def test_one_at_a_time_and_batched_give_the_same_state() -> None:
    rng = random.Random(5)
    lines = [
        line(rng.randrange(40), T - rng.randrange(0, 70 * MINUTE),
             rng.choice(["login", "card_txn"]), customer=rng.randrange(1, 6))
        for _ in range(300)
    ]  # fmt: skip
    single, batched = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    one = ingestor(single)
    outcomes = [one.ingest_one(text).status for text in lines]
    summary = ingestor(batched).ingest(json_lines(lines, "f"), batch_size=64)
    assert outcomes.count("accepted") == summary.accepted
    assert outcomes.count("duplicate") == summary.duplicates
    assert outcomes.count("late") == summary.late > 0
    for customer in range(1, 6):
        assert single.get(str(customer)) == batched.get(str(customer))


def test_ingest_one_says_why_an_event_was_refused() -> None:
    ingest = ingestor(SQLiteStore(":memory:"))
    assert ingest.ingest_one(event(1, T)).status == "accepted"
    assert ingest.ingest_one(event(1, T)).status == "duplicate"
    refused = ingest.ingest_one(event(2, T) | {"amount": -3}, origin="http")
    assert refused == ("malformed", "amount: negative")


class _RacingStore(SQLiteStore):
    """A real SQLite store that lets another writer commit just before its first write."""

    other: StreamIngestor | None = None

    def append_events(self, field, events, lateness_us, horizon_us):
        if self.other is not None:
            other, self.other = self.other, None
            other.ingest(json_lines([line(100, T - 2 * MINUTE), line(2, T - 3 * MINUTE)], "o"))
        return super().append_events(field, events, lateness_us, horizon_us)


def test_a_concurrent_writer_never_loses_an_update(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    service = ingestor(SQLiteStore(path))
    racing = _RacingStore(path)
    lambda_ = ingestor(racing)
    lambda_.ingest_one(event(0, T - 9 * MINUTE))  # the lambda now holds customer 1's head
    racing.other = service
    summary = lambda_.ingest(json_lines([line(1, T - MINUTE), line(2, T - 3 * MINUTE)], "f"))
    assert (summary.accepted, summary.duplicates) == (1, 1)  # event 2 came from the service
    assert read(SQLiteStore(path))["card_txn_5m"] == 3  # 1, 2 and the service's 100


def test_a_state_cached_by_one_writer_and_changed_by_another_is_read_again(
    store: OnlineStore, tmp_path: Path
) -> None:
    other_store = (
        store if isinstance(store, RedisStore) else SQLiteStore(tmp_path / "online.sqlite")
    )
    first, second = ingestor(store), ingestor(other_store)
    first.ingest_one(event(1, T - 3 * MINUTE))  # first knows customer 1's window
    second.ingest_one(event(2, T - 2 * MINUTE))  # the window changes behind its back
    summary = first.ingest_batch(
        [RawEvent(line(3, T - MINUTE), "x"), RawEvent(line(2, T - 2 * MINUTE), "x")]
    )
    assert (summary.accepted, summary.duplicates) == (1, 1)
    assert read(store)["card_txn_5m"] == 3


def test_window_state_stays_bounded() -> None:
    store = SQLiteStore(":memory:")
    ingest = ingestor(store)
    for start in range(0, 600, 50):  # 10 hours of one event a minute
        ingest.ingest(json_lines([line(i, T + i * MINUTE) for i in range(start, start + 50)], "f"))
    state = WindowState.decode(store.get("1")[window_field("events")], 1)
    assert len(state) == 71  # the last 1h + 10m of events, both ends included
    assert read(store, at=T + 600 * MINUTE)["card_txn_5m"] == 5


# ---------------------------------------------------------------------------------------------
# Inputs: files and stdin, Kinesis batches; dead letters in the lake
# ---------------------------------------------------------------------------------------------


def test_kinesis_batches_are_decoded_and_broken_records_kept() -> None:
    batch = kinesis_event([line(1, T - MINUTE), b"\xff not utf8", "{broken"])
    batch["Records"].append({"kinesis": {"data": "###", "sequenceNumber": "9"}})
    batch["Records"].append({"nope": 1})
    ingest = ingestor(SQLiteStore(":memory:"))
    summary = ingest.ingest(kinesis_records(batch))
    assert (summary.received, summary.accepted, summary.malformed) == (5, 1, 4)
    reasons = [d.reason for d in ingest.take_dead_letters()]
    assert reasons[0] == "event: not UTF-8 text"
    assert reasons[1].startswith("event: not valid JSON")
    assert reasons[2:] == ["data: not base64", "kinesis: missing"]
    decoded = next(kinesis_records(batch))
    assert decoded.origin.startswith("kinesis:shardId-000000000000:")
    assert base64.b64encode(decoded.payload).decode() == batch["Records"][0]["kinesis"]["data"]


def test_nothing_is_lost_and_dead_letters_land_in_the_lake(tmp_path: Path) -> None:
    ingest = ingestor(SQLiteStore(":memory:"))
    lines = [line(1, T - 1), line(1, T - 1), "oops", line(2, T - 20 * MINUTE), "", line(3, T, "x")]
    summary = ingest.ingest(json_lines(lines, "events.jsonl"))
    assert summary.received == 5  # the blank line is not an event
    assert summary.received == summary.accepted + summary.duplicates + summary.dead_letters
    uri = write_dead_letters(str(tmp_path), "events_stream", ingest.take_dead_letters())
    assert uri is not None and "/quarantine/events_stream/part-" in uri
    table = read_table(str(tmp_path / "quarantine" / "events_stream"))
    assert table.column_names == ["_raw", "_reason", "_origin", "_received_at"]
    rows = {r["_origin"]: r["_reason"] for r in table.to_pylist()}
    assert rows == {
        "events.jsonl:3": "event: not valid JSON (Expecting value: line 1 column 1 (char 0))",
        "events.jsonl:4": "ts: more than 10m behind the customer's latest event",
        "events.jsonl:6": "type: unknown event type 'x'",
    }
    assert write_dead_letters(str(tmp_path), "events_stream", []) is None


def test_a_stream_needs_stream_features_of_one_source() -> None:
    with pytest.raises(ConfigError, match="no near-real-time"):
        StreamIngestor(SQLiteStore(":memory:"), ())
    source = EventSource("other", "raw/other")
    other = FeatureSpec("x_5m", source, "count", "5m", tier="stream")
    with pytest.raises(ConfigError, match="one stream feeds one source"):
        StreamIngestor(SQLiteStore(":memory:"), (*STREAM_FEATURES, other))
    with pytest.raises(ConfigError, match="duration"):
        StreamIngestor(SQLiteStore(":memory:"), STREAM_FEATURES, lateness="10 minutes")


def test_window_plan_reads_nothing_as_empty() -> None:
    plan = WindowPlan(STREAM_FEATURES)
    assert plan.values(None, T) == {s.name: s.empty_value for s in STREAM_FEATURES}


def test_cli_ingest_reads_a_file_and_writes_dead_letters(tmp_path: Path) -> None:
    import typer

    from uplift_engine.cli.features_online import ingest

    app = typer.Typer()
    app.command("ingest")(ingest)
    app.command("noop")(lambda: None)
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"online_store: {{type: sqlite, path: {tmp_path / 'o.sqlite'}}}\n")
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([line(1, T - MINUTE), line(1, T - MINUTE), "{bad"]) + "\n")
    args = ["ingest", str(events), "--lake", str(tmp_path / "lake"), "--config", str(settings)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["duplicates"], summary["malformed"]) == (1, 1, 1)
    dead = Path(summary["dead_letters_uri"])
    assert dead.parent == tmp_path / "lake" / "quarantine" / "events_stream"
    kinesis = tmp_path / "kinesis.json"
    kinesis.write_text(json.dumps(kinesis_event([line(2, T - MINUTE)])))
    result = CliRunner().invoke(app, [*args[:1], str(kinesis), "--kinesis", *args[2:]])
    assert result.exit_code == 0, result.output
    assert "1 events: 1 accepted" in result.stdout
    result = CliRunner().invoke(app, [*args[:1], str(tmp_path / "missing.jsonl"), *args[2:]])
    assert result.exit_code == 2 and "cannot read events file" in result.output


def test_a_window_is_read_in_time_order_whatever_its_stored_order() -> None:
    rows = f'[{T},[[{T - MINUTE},"login","b",null],[{T - 2 * MINUTE},"card_txn","a",11.0]]]'
    state = WindowState.decode(rows, 1)
    assert (state.watermark, state.ts) == (T, [T - 2 * MINUTE, T - MINUTE])
    assert (state.ids, state.values) == (["a", "b"], [[11.0, None]])


def _replay(seed: int, n: int) -> list[str]:
    """One customer's messy stream: out of order beyond the lateness, redeliveries, a gap
    longer than the horizon, a few customers."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        at = T + (i * 3 * MINUTE if i < n // 2 else (i + 60) * 3 * MINUTE)  # a 3-hour gap
        at -= rng.randrange(0, 30 * MINUTE)  # some beyond the 10m lateness
        kind = rng.choice(["login", "card_txn", "transfer"])
        text = line(i, at, kind, customer=rng.randrange(1, 4))
        lines.append(text)
        if rng.random() < 0.2:
            lines.append(text)  # redelivered at once
        if rng.random() < 0.1 and i > 30:
            lines.append(lines[rng.randrange(len(lines) - 30, len(lines))])  # later
    return lines


@pytest.mark.integration
def test_redis_and_sqlite_decide_every_event_alike(redis_url: str) -> None:
    lines = _replay(11, 400)
    sqlite, redis_ = SQLiteStore(":memory:"), RedisStore(redis_url, "parity:")
    on_sqlite = [ingestor(sqlite).ingest_one(text).status for text in lines[:200]]
    on_redis = [ingestor(redis_).ingest_one(text).status for text in lines[:200]]
    batched = [ingestor(store).ingest(json_lines(lines[200:], "f"), batch_size=64)
               for store in (sqlite, redis_)]  # fmt: skip
    assert on_sqlite == on_redis
    assert {"accepted", "duplicate", "late"} <= set(on_sqlite)
    timing = {"seconds": 0, "events_per_second": 0}
    assert batched[0].to_dict() | timing == batched[1].to_dict() | timing
    assert batched[0].late > 0 and batched[0].duplicates > 0
    last = T + 460 * 3 * MINUTE
    for customer in range(1, 4):
        for at in (last - 50 * MINUTE, last - 5 * MINUTE, last + MINUTE):
            assert read(sqlite, customer, at) == read(redis_, customer, at)
        kept = [WindowState.decode(s.get(str(customer))[window_field("events")], 1)
                for s in (sqlite, redis_)]  # fmt: skip
        assert sorted(kept[0].ids) == sorted(kept[1].ids)
        assert kept[0].ts[0] >= kept[0].watermark - 70 * MINUTE  # forgotten beyond the horizon
    redis_.close()
