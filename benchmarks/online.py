"""Online store and streaming: read latency, window latency, ingestion throughput, materialise.

Run on demand (not in the test suite); it starts its own redis-server on 127.0.0.1:

    .venv/bin/python benchmarks/online.py [--customers 100000] [--reads 20000]
        [--events 200000] [--write docs/benchmarks.md]

Baselines measured in the same run, so ratios survive a noisy shared machine:
- reads: a bare SQLite point lookup (one TEXT row of the same bytes, by primary key) and a bare
  Redis HGETALL (redis-py, the same hash) against our store's ``get`` and the whole
  ``FeatureReader.read`` (decode 17 batch values, compute 7 windows from the stored state,
  4 request-time features);
- streaming: events per second of wall time and of CPU time (the process's own; the Redis
  server's CPU is not counted), batched (Kinesis-sized batches of 10,000) and one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 9, 30, 12, tzinfo=UTC)


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # noqa: E731
    return {
        "p50": at(0.5),
        "p99": at(0.99),
        "p999": at(0.999),
        "mean": statistics.fmean(ordered) / 1000,
    }


def latencies(
    calls: dict[str, Callable[[str], object]], keys: list[str], reads: int
) -> dict[str, dict[str, float]]:
    """Per-call latency percentiles (µs); the calls take turns on the same random keys, so a
    busy moment of the shared machine hits all of them alike."""
    rng = random.Random(1)
    for key in rng.sample(keys, min(2000, len(keys))):  # warm caches and connections
        for call in calls.values():
            call(key)
    samples: dict[str, list[int]] = {name: [] for name in calls}
    order = list(calls.items())
    clock = time.perf_counter_ns
    for turn in range(reads):
        key = rng.choice(keys)
        for name, call in order[turn % len(order) :] + order[: turn % len(order)]:
            start = clock()
            call(key)
            samples[name].append(clock() - start)
    return {name: percentiles(values) for name, values in samples.items()}


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return proc, f"redis://127.0.0.1:{port}/0"


def event_lines(
    n: int,
    customers: int,
    *,
    seed: int = 7,
    start: datetime = T0,
    minutes: int = 60,
    prefix: str = "",
) -> list[str]:
    """A stream over ``customers`` in time order, with arrival jitter below the lateness."""
    from uplift_engine.features.streaming.schema import epoch_us, iso_utc

    rng = random.Random(seed)
    span = minutes * 60_000_000
    start_us = epoch_us(start)
    kinds = ["login", "login", "card_txn", "transfer", "biometric_auth"]
    rows = []
    for i in range(n):
        ts = start_us + (i * span) // n
        kind = rng.choice(kinds)
        body = {
            "event_id": f"{prefix}{i}" if prefix else i,
            "customer_id": rng.randrange(1, customers + 1),
            "type": kind,
        }
        body["ts"] = iso_utc(ts)
        if kind in ("card_txn", "transfer"):
            body["amount"] = round(rng.lognormvariate(5, 1), 2)
        rows.append((ts + rng.randrange(0, 300_000_000), json.dumps(body)))
    rows.sort()
    return [text for _, text in rows]


def fill(store, customers: int) -> None:  # type: ignore[no-untyped-def]
    """Batch values for every customer, as a materialisation writes them."""
    from uplift_engine.features.definitions import CAMPAIGN_FEATURES
    from uplift_engine.features.online.codec import encode_value

    rng = random.Random(3)
    as_of = str(int(T0.timestamp() * 1e6))

    def row(c: int) -> tuple[str, dict[str, str]]:
        values = {
            s.name: encode_value(rng.randrange(40) if s.is_integer else rng.random() * 5000)
            for s in CAMPAIGN_FEATURES
        }
        return str(c), values | {"_as_of": as_of}

    store.put(row(c) for c in range(1, customers + 1))


def bench_store(name: str, store, keys: list[str], args, lines: list[str], bare) -> dict:  # type: ignore[no-untyped-def]
    from uplift_engine.features.definitions import EVENTS, STREAM_FEATURES
    from uplift_engine.features.online import FeatureReader
    from uplift_engine.features.registry import FeatureRegistry, default_registry
    from uplift_engine.features.streaming import StreamIngestor, json_lines
    from uplift_engine.features.streaming.schema import epoch_us

    out: dict[str, object] = {}
    fill(store, args.customers)
    ingest = StreamIngestor(store, STREAM_FEATURES, lateness="10m", max_clock_skew=None)
    wall, cpu = time.perf_counter(), time.process_time()
    summary = ingest.ingest(json_lines(lines, "bench"), batch_size=10_000)
    out["batched"] = {
        "events": summary.received,
        "customers_updated": summary.customers,
        "wall_eps": summary.received / (time.perf_counter() - wall),
        "cpu_eps": summary.received / (time.process_time() - cpu),
    }
    # one at a time: a new consumer, then the long-running one above (one store call an event
    # either way: the store decides each event where the window lives, reading nothing first)
    consumers = {
        "one_at_a_time": StreamIngestor(
            store, STREAM_FEATURES, lateness="10m", max_clock_skew=None
        ),
        "one_at_a_time_warm": ingest,
    }
    for index, (label, consumer) in enumerate(consumers.items()):
        fresh = event_lines(
            args.single,
            args.customers // 5,
            seed=8 + index,
            start=T0 + timedelta(minutes=60 + 5 * index),
            minutes=5,
            prefix=f"s{index}-",
        )
        wall, cpu = time.perf_counter(), time.process_time()
        for text in fresh:
            consumer.ingest_one(text)
        out[label] = {
            "events": len(fresh),
            "wall_eps": len(fresh) / (time.perf_counter() - wall),
            "cpu_eps": len(fresh) / (time.process_time() - cpu),
        }
    at = epoch_us(T0 + timedelta(minutes=70))  # just after the last event
    reader = FeatureReader(store, default_registry(), clock=lambda: at)
    request = {"channel": "app", "ts": "2026-09-30T19:30:00+07:00"}
    windows_only = FeatureReader(
        store, FeatureRegistry((EVENTS,), STREAM_FEATURES), clock=lambda: at
    )
    calls = {
        "bare": bare(),
        "get": store.get,
        "read_all": lambda k: reader.read(k, request=request),
        "read_windows": windows_only.read,
    }
    out.update(latencies(calls, keys, args.reads))
    sizes = [len(r["_w:events"]) for r in store.get_many(keys[:2000]) if "_w:events" in r]
    out["state_bytes_median"] = statistics.median(sizes) if sizes else 0
    out["fields"] = len(store.get(keys[0]))
    print(name, json.dumps(out, indent=1), file=sys.stderr)
    return out


def bare_sqlite(path: Path, store_path: Path) -> Callable[[str], object]:
    """A plain table (key, payload) with the same bytes, read by primary key."""
    source = sqlite3.connect(store_path)
    rows = source.execute("SELECT key, fields FROM online").fetchall()
    source.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE t (key TEXT PRIMARY KEY, payload TEXT)")
    con.execute("BEGIN")
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.execute("COMMIT")
    query = "SELECT payload FROM t WHERE key = ?"
    return lambda k: con.execute(query, (k,)).fetchone()


def bare_redis(url: str) -> Callable[[str], object]:
    """redis-py's HGETALL of the same hash."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    return lambda k: client.hgetall("uplift:" + k)


def bench_materialize(work: Path, customers: int) -> dict[str, float]:
    from uplift_engine.features.offline import materialize
    from uplift_engine.features.online.sqlite import SQLiteStore
    from uplift_engine.simulate import SimulationConfig, simulate_bank

    lake = work / "lake"
    config = SimulationConfig(customers=customers, seed=1)
    simulate_bank(config, str(lake), workers=2)
    store = SQLiteStore(work / "materialize.sqlite")
    started = time.perf_counter()
    summary = materialize(str(lake), store, as_of=config.history_end, threads=2)
    seconds = time.perf_counter() - started
    store.close()
    return {"customers": summary.customers, "seconds": seconds}


def render(results: dict) -> str:
    s, r = results["sqlite"], results["redis"]

    def lat(d: dict[str, float]) -> str:
        return f"{d['p50']:.1f} | {d['p99']:.1f} | {d['p999']:.1f}"

    bs, br = s["bare"], r["bare"]

    def row(label: str, d: dict[str, float], base: dict[str, float]) -> str:
        return f"| {label} | {lat(d)} | {d['p99'] / base['p99']:.1f}× |"

    lines = [
        "| read of one customer | p50 µs | p99 µs | p99.9 µs | p99 vs bare |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("baseline: bare SQLite point lookup (same bytes)", bs, bs),
        row(f"SQLite store `get` ({s['fields']} fields, one statement)", s["get"], bs),
        row("SQLite `FeatureReader.read`: all 28 features", s["read_all"], bs),
        row("SQLite window read (7 stream features)", s["read_windows"], bs),
        row("baseline: bare Redis HGETALL (redis-py, loopback)", br, br),
        row("Redis store `get` (one HGETALL)", r["get"], br),
        row("Redis `FeatureReader.read`: all 28 features", r["read_all"], br),
        row("Redis window read (7 stream features)", r["read_windows"], br),
        "",
        "| streaming ingestion | events | events/s (wall) | events/s (CPU of this process) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, d in (("SQLite", s), ("Redis", r)):
        b, o, w = d["batched"], d["one_at_a_time"], d["one_at_a_time_warm"]
        lines.append(
            f"| {name}, batches of 10,000 ({b['customers_updated']:,} customer updates) | "
            f"{b['events']:,} | {b['wall_eps']:,.0f} | {b['cpu_eps']:,.0f} |"
        )
        lines.append(
            f"| {name}, one at a time, new consumer | {o['events']:,} | {o['wall_eps']:,.0f} | "
            f"{o['cpu_eps']:,.0f} |"
        )
        lines.append(
            f"| {name}, one at a time, long-running consumer | {w['events']:,} | "
            f"{w['wall_eps']:,.0f} | {w['cpu_eps']:,.0f} |"
        )
    m = results.get("materialize")
    if m:
        lines += [
            "",
            f"Materialise (simulated lake, {m['customers']:,} customers, 17 batch features, DuckDB "
            f"as of one time, into SQLite): {m['seconds']:.1f} s "
            f"({m['customers'] / m['seconds']:,.0f} customers/s).",
        ]
    lines.append(
        f"\nWindow state per active customer: median {s['state_bytes_median']:,.0f} bytes of JSON."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--materialize", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from uplift_engine.features.online.redis import RedisStore
    from uplift_engine.features.online.sqlite import SQLiteStore

    work = Path(tempfile.mkdtemp(prefix="uplift-online-bench-"))
    keys = [str(c) for c in range(1, args.customers + 1)]
    lines = event_lines(args.events, args.customers // 5)  # a fifth of customers are active
    results: dict[str, object] = {}
    proc, url = start_redis()
    try:
        sqlite_store = SQLiteStore(work / "online.sqlite")
        bare = lambda: bare_sqlite(work / "bare.sqlite", work / "online.sqlite")  # noqa: E731
        results["sqlite"] = bench_store("sqlite", sqlite_store, keys, args, lines, bare)
        sqlite_store.close()
        redis_store = RedisStore(url)
        bare = lambda: bare_redis(url)  # noqa: E731
        results["redis"] = bench_store("redis", redis_store, keys, args, lines, bare)
        redis_store.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    if args.materialize:
        results["materialize"] = bench_materialize(work, args.materialize)
    shutil.rmtree(work, ignore_errors=True)
    table = render(results)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    load = os.getloadavg()[0]
    table = f"Measured {stamp}, load average {load:.1f} at the end of the run:\n\n{table}"
    print(table)
    if args.write:
        write_block(args.write, "online", table, heading="Online store and streaming")


if __name__ == "__main__":
    main()
