"""What contact policies and real-time pacing add to a decision, on SQLite and on Redis.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/decisioning.py [--customers 20000]

Builds a simulated bank's artefacts (benchmarks/corridor.py: online store, T-learner bundle on
every tier of the campaign table, a plan), gives every customer a contact history of 0–8
contacts over the last 90 days, and decides the same customers with two cores on the same store,
interleaved one decision each: the *plain* core (the plan's guardrails and prices — the serving
baseline) and the *full* core (four contact policies read from the history, the offer recorded
as a contact, pacing's prices and an atomic hold on the ledger). One thread, in process, on
SQLite and on a redis-server started on 127.0.0.1. Reports medians and p99s of both and what
the full core adds; writes the table into docs/decide.md with ``--write``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corridor import artefacts
from docs_block import write_block
from online import start_redis

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [
    {"name": "one_sms_a_week", "channel": "sms", "max": 1, "window": "7d"},
    {"name": "two_app_offers_a_day", "channel": "app", "max": 2, "window": "1d"},
    {"name": "cashback_twice_a_month", "offers": ["cashback"], "max": 2, "window": "30d"},
    {"name": "pause_after_two_ignores",
     "suppress": {"response": "ignored", "count": 2, "within": "30d", "pause": "60d"}},
]  # fmt: skip


def full_plan(plain: bytes, customers: int) -> bytes:
    """The plan with contact policies and a day's pacing (a budget that does not bind early)."""
    meta = json.loads(plain)
    now = datetime.now(UTC)
    meta["policy"] = {**(meta.get("policy") or {}), "contact_policies": POLICIES}
    meta["economics"]["pacing"] = {
        "campaign": f"bench-{time.time_ns()}", "start": (now - timedelta(hours=2)).isoformat(),
        "end": (now + timedelta(hours=22)).isoformat(),
    }  # fmt: skip
    meta["budget"] = float(customers) * 20  # room for every offer of the run
    return json.dumps(meta, sort_keys=True).encode()


def histories(store, ids: list[int], rng: random.Random) -> None:
    """0–8 contacts per customer over the last 90 days, into the store's contact history."""
    from uplift_engine.features.contacts import KEEP_US, Contact, ContactRecorder
    from uplift_engine.features.streaming.schema import now_us

    now = now_us()
    rows = []
    for customer in ids:
        for j in range(rng.randint(0, 8)):
            ts = now - rng.randrange(90 * 86_400_000_000)
            offer = rng.choice(["cashback", "fee_waiver", "bonus_points"])
            if rng.random() < 0.6:
                c = Contact(ts, "offer_sent", f"h{customer}-{j}", offer,
                            rng.choice(["sms", "email", "app"]), None)  # fmt: skip
            else:
                c = Contact(ts, "offer_response", f"h{customer}-{j}", offer, None,
                            rng.choice(["ignored", "ignored", "declined", "accepted"]))  # fmt: skip
            rows.append((str(customer), c))
    rows.sort(key=lambda r: r[1].ts)
    ContactRecorder(store, KEEP_US, lateness_us=KEEP_US).record(rows)


def measure(config, model: Path, plain: bytes, full: bytes, ids: list[int]) -> dict:
    from uplift_engine.features import FeatureReader, default_registry, open_store
    from uplift_engine.learn import load_bundle
    from uplift_engine.serve import DecisionCore, served_with_plan

    bundle = load_bundle(model, threads=1)
    store = open_store(config)
    reader = FeatureReader(store, default_registry())
    cores = {
        "plain": DecisionCore(served_with_plan(bundle, plain, "plan"), reader),
        "full": DecisionCore(served_with_plan(bundle, full, "plan"), reader, record_contacts=True),
    }
    request = {"channel": "app"}
    for c in ids[:500]:  # warm
        for core in cores.values():
            core.decide(c, request)
    times: dict[str, list[float]] = {k: [] for k in cores}
    offered = 0
    clock = time.perf_counter
    for turn, c in enumerate(ids[500:]):
        order = list(cores.items()) if turn % 2 else list(cores.items())[::-1]
        for name, core in order:
            t0 = clock()
            d = core.decide(c, request)
            times[name].append(clock() - t0)
            if name == "full":
                offered += d.offer is not None
    store.close()
    out = {}
    for name, values in times.items():
        values.sort()
        out[name] = (statistics.median(values), values[int(0.99 * len(values))])
    out["n"] = len(times["plain"])
    out["offered"] = offered
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--decisions", type=int, default=5_000)
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from uplift_engine.config import RedisOnlineStore, SQLiteOnlineStore
    from uplift_engine.features import default_registry, open_store
    from uplift_engine.features.offline import materialize

    rng = random.Random(5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, decider, ids = artefacts(work, args.customers, every_tier=True)
        plain = decider.read_bytes()
        sample = rng.sample(ids, min(args.decisions + 500, len(ids)))
        sqlite = SQLiteOnlineStore(path=str(work / "online.sqlite"))
        store = open_store(sqlite)
        histories(store, sample, rng)
        store.close()
        rows.append(("SQLite", measure(sqlite, model, plain, full_plan(plain, len(sample)),
                                       sample)))  # fmt: skip
        proc, url = start_redis()
        try:
            redis = RedisOnlineStore(url=url)
            store = open_store(redis)
            materialize(str(work / "lake"), store, default_registry())
            histories(store, sample, rng)
            store.close()
            full = full_plan(plain, len(sample))
            rows.append(("Redis (loopback)", measure(redis, model, plain, full, sample)))
        finally:
            proc.terminate()
    lines = [
        "| store | plain decision: median, p99 | with contact policies and pacing: median, p99 "
        "| added: median, p99 | offers made (full) |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows:
        (pm, pp), (fm, fp) = r["plain"], r["full"]
        lines.append(
            f"| {name} | {pm * 1e6:,.0f} µs, {pp * 1e6:,.0f} µs | {fm * 1e6:,.0f} µs, "
            f"{fp * 1e6:,.0f} µs | **{(fm - pm) * 1e6:+,.0f} µs, {(fp - pp) * 1e6:+,.0f} µs** | "
            f"{r['offered']:,} of {r['n']:,} |"
        )
    body = "\n".join(lines) + (
        f"\n\nOne thread, {rows[0][1]['n']:,} customers decided by both cores in turn (the "
        "order alternating), the same store; every customer with 0–8 contacts over 90 days; four "
        "contact policies; pacing over a day with a budget that does not bind (every offer is a "
        "hold written to the store, as is its contact). benchmarks/decisioning.py."
    )
    print(body)
    if args.write:
        write_block(ROOT / "docs" / "decide.md", "decisioning", body,
                    heading="What contact policies and pacing add to a decision")  # fmt: skip


if __name__ == "__main__":
    main()
