"""The consistency check: online values equal the offline computation on simulated data."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import timedelta, timezone
from pathlib import Path

import pyarrow.compute as pc
import pytest
import typer
from typer.testing import CliRunner

from redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401 (fixtures)
from uplift_engine.cli.features_online import check, ingest, materialize
from uplift_engine.features.offline import materialize as materialize_store
from uplift_engine.features.offline.consistency import check_consistency
from uplift_engine.features.online import OnlineStore, window_field
from uplift_engine.features.online.redis import RedisStore
from uplift_engine.features.online.sqlite import SQLiteStore
from uplift_engine.features.registry import default_registry
from uplift_engine.features.streaming import (
    StreamIngestor,
    json_lines,
    kinesis_event,
    kinesis_records,
)
from uplift_engine.lake import layout, read_table
from uplift_engine.simulate import SimulationConfig, simulate_bank

CONFIG = SimulationConfig(customers=6_000, block_size=2_000, seed=11)
AT = CONFIG.history_end - timedelta(hours=11)  # 20:00 in Ho Chi Minh City: a busy hour
SAMPLE = 1_500
_ZONE = timezone(timedelta(hours=7))
IDS = range(1, CONFIG.customers + 1)  # the simulator numbers its customers from 1


@pytest.fixture(scope="module")
def sim_lake(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("consistency") / "lake"
    simulate_bank(CONFIG, str(root), workers=1)
    return str(root)


def replay_lines(lake: str, seed: int = 0) -> list[str]:
    """The lake's events of [AT − 75 min, AT + 5 min) as a realistic delivery: out of order by
    less than the lateness, 10% delivered twice, and a few broken messages."""
    events = read_table(f"{lake}/{layout.EVENTS}")
    ts = events.column("ts")
    low = pc.cast(AT - timedelta(minutes=75), ts.type)
    high = pc.cast(AT + timedelta(minutes=5), ts.type)
    window = events.filter(pc.and_(pc.greater_equal(ts, low), pc.less(ts, high))).to_pylist()
    rng = random.Random(seed)
    keyed = []
    for row in window:
        body = {
            "event_id": row["event_id"],
            "customer_id": row["customer_id"],
            "type": row["type"],
            "ts": row["ts"].astimezone(_ZONE).isoformat(),  # +07:00: zones are converted
        }
        if row["amount"] is not None:
            body["amount"] = row["amount"]
        text = json.dumps(body)
        arrival = row["ts"].timestamp() + rng.uniform(0, 9 * 60)  # < 10 min out of order
        keyed.append((arrival, text))
        if rng.random() < 0.1:
            keyed.append((arrival + rng.uniform(0, 60), text))  # redelivered
    keyed += [(AT.timestamp() - 60 * k, bad) for k, bad in enumerate(_BROKEN)]
    return [text for _, text in sorted(keyed)]


_BROKEN = ['{"event_id": 1', '{"event_id": -1, "customer_id": 1, "type": "login"}', "[]"]


def load(lake: str, store: OnlineStore) -> dict[str, int]:
    """Materialise as of AT, then replay the stream: half as JSON lines, half via Kinesis."""
    materialize_store(lake, store, as_of=AT, memory_limit="1GB")
    lines = replay_lines(lake)
    half = len(lines) // 2
    ingestor = StreamIngestor(store, default_registry().stream, lateness="10m", max_clock_skew=None)
    first = ingestor.ingest(json_lines(lines[:half], "replay.jsonl"), batch_size=500)
    second = ingestor.ingest(kinesis_records(kinesis_event(lines[half:])), batch_size=500)
    first.add(second)
    return first.to_dict()  # type: ignore[return-value]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("redis", marks=pytest.mark.integration)]
)
def test_zero_skew_on_simulated_data(sim_lake: str, backend: str, request, tmp_path: Path) -> None:
    if backend == "sqlite":
        store: OnlineStore = SQLiteStore(tmp_path / "online.sqlite")
    else:
        store = RedisStore(request.getfixturevalue("redis_url"))
    counts = load(sim_lake, store)
    assert counts["malformed"] == len(_BROKEN) and counts["late"] == 0
    assert counts["duplicates"] > 0
    assert counts["received"] == counts["accepted"] + counts["duplicates"] + counts["malformed"]

    report = check_consistency(sim_lake, store, sample=SAMPLE, at=AT, memory_limit="1GB")
    assert report.customers == SAMPLE and report.missing == 0
    assert report.mismatches == 0, [f.to_dict() for f in report.features if f.mismatches]
    assert report.ok
    assert {f.name for f in report.features} == set(default_registry().names[:-4])
    assert all(f.compared == SAMPLE for f in report.features)
    # not a vacuous comparison: the windows hold events for many of the sampled customers
    reader_rows = store.get_many([str(i) for i in IDS])
    with_state = sum(window_field("events") in row for row in reader_rows)
    assert with_state > 300
    store.close()


def test_skew_is_reported_per_feature(sim_lake: str, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "online.sqlite")
    load(sim_lake, store)
    report = check_consistency(sim_lake, store, sample=SAMPLE, at=AT, memory_limit="1GB")
    assert report.ok
    # tamper: one batch value off by 2.5, one customer's windows wiped
    victim = next(i for i in IDS if int(store.get(str(i))["events_30d"]) > 0)
    store.put(
        [
            (
                str(victim),
                {"card_amount_30d": repr(float(store.get(str(victim))["card_amount_30d"]) + 2.5)},
            )
        ]
    )
    busy = next(i for i in IDS if window_field("events") in store.get(str(i)))
    with sqlite3.connect(tmp_path / "online.sqlite") as con:  # the window's events are lost
        con.execute("DELETE FROM window_events WHERE key = ?", (str(busy),))
    everyone = check_consistency(
        sim_lake, store, sample=CONFIG.customers, at=AT, memory_limit="1GB"
    )
    skew = {f.name: f for f in everyone.features if f.mismatches}
    assert skew["card_amount_30d"].mismatches == 1
    assert skew["card_amount_30d"].max_abs_diff == pytest.approx(2.5)
    assert skew["card_amount_30d"].examples[0]["customer_id"] == victim
    assert skew["days_since_last_event_1h"].mismatches == 1
    assert not everyone.ok


def test_customers_missing_online_are_reported(sim_lake: str) -> None:
    store = SQLiteStore(":memory:")
    report = check_consistency(sim_lake, store, sample=50, at=AT, memory_limit="1GB")
    assert (report.customers, report.missing) == (50, 50)
    assert not report.ok


def test_cli_materialize_ingest_check(sim_lake: str, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("materialize")(materialize)
    app.command("ingest")(ingest)
    app.command("check")(check)
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"online_store: {{type: sqlite, path: {tmp_path / 'online.sqlite'}}}\n"
        "streaming: {lateness: 10m, max_clock_skew: null}\n"
    )
    common = ["--lake", sim_lake, "--config", str(settings)]
    runner = CliRunner()
    result = runner.invoke(app, ["materialize", *common, "--as-of", AT.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["customers"] == CONFIG.customers
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(replay_lines(sim_lake)) + "\n")
    dead = tmp_path / "dead"
    result = runner.invoke(
        app, ["ingest", str(events), "--lake", str(dead), "--config", str(settings)]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(_BROKEN)} dead letters" in result.stdout
    result = runner.invoke(app, ["check", *common, "--at", AT.isoformat(), "--sample", "300"])
    assert result.exit_code == 0, result.output
    assert "300 customers compared (0 missing online)" in result.stdout
    assert ": 0 mismatching values" in result.stdout
    store = SQLiteStore(tmp_path / "online.sqlite")
    store.put([(str(i), {"logins_30d": "999"}) for i in IDS])
    store.close()
    result = runner.invoke(app, ["check", *common, "--at", AT.isoformat(), "--sample", "300"])
    assert result.exit_code == 1
    assert "logins_30d (batch): 300 of 300 differ" in result.stdout
    result = runner.invoke(app, ["check", *common, "--at", "2026-09-30T13:00:00"])
    assert result.exit_code == 2 and "needs a time zone" in result.output
