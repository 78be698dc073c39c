"""Train/serve parity: the row the service builds for a customer is the training row, bit for bit.

A small simulated bank's campaign table holds every tier — the customers' attributes, the batch
aggregates and the stream windows as of each assignment, and the request-time features of the
assignment's context (channel, time). A model is trained on it. Then, for a sample of customers,
the online store is brought to the moment of each one's assignment the way production brings it
— materialised as of that moment, the customer's events of the day before it replayed through
the stream ingestor as JSON events — and the decision core builds the customer's row from the
store and a request carrying the assignment's channel and time. Both rows go through the
bundle's encoder; their float64 bytes must be equal, and so must every raw value.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from uplift_engine.config.settings import Settings
from uplift_engine.features import FeatureReader, default_registry
from uplift_engine.features.offline import materialize
from uplift_engine.features.online.reader import REQUEST, STORE, STREAM
from uplift_engine.features.online.sqlite import SQLiteStore
from uplift_engine.features.streaming import StreamIngestor, json_lines
from uplift_engine.features.streaming.schema import epoch_us, moment
from uplift_engine.lake import read_table
from uplift_engine.learn import load_bundle
from uplift_engine.pipeline.train import TrainOptions, train_bundle
from uplift_engine.serve import DecisionCore
from uplift_engine.serve.corridor import Ask
from uplift_engine.serve.release import EFFECTS_ONLY, Served

DAY_US = 86_400_000_000
ACTIVE, QUIET = 10, 6
"""Sampled customers with events in a stream window at their assignment, and without."""


@pytest.fixture(scope="module")
def small_bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from uplift_engine.cli.simulate import run_simulation

    root = tmp_path_factory.mktemp("parity")
    run_simulation(customers=3_000, out=str(root / "lake"), seed=11, quiet=True)
    table = read_table(root / "lake" / "curated" / "campaign_table" / "c2026q4")
    options = TrainOptions(outcome="converted", learner="t_learner", seed=1)
    train_bundle(table, options, root / "model", Settings())
    return root / "lake", root / "model"


def _sample(lake: Path) -> list[dict[str, object]]:
    """Customers of the campaign, some with stream activity at assignment, with their context."""
    con = duckdb.connect()
    table = f"read_parquet('{lake}/curated/campaign_table/c2026q4/*.parquet')"
    assigned = f"read_parquet('{lake}/raw/campaign_assignments/*.parquet')"
    rows = con.execute(
        f"SELECT t.customer_id, a.assigned_at, a.channel, "
        f"t.events_15m + t.logins_1h + t.transfers_1h + t.card_txn_5m > 0 AS active "
        f"FROM {table} t JOIN {assigned} a USING (customer_id) ORDER BY t.customer_id"
    ).fetchall()
    active = [r for r in rows if r[3]]
    quiet = [r for r in rows if not r[3]]
    rng = np.random.default_rng(5)
    chosen = [active[i] for i in rng.choice(len(active), ACTIVE, replace=False)]
    chosen += [quiet[i] for i in rng.choice(len(quiet), QUIET, replace=False)]
    return [{"id": r[0], "at": r[1], "channel": r[2]} for r in chosen]


def _events_before(lake: Path, customer_id: int, at_us: int) -> list[str]:
    """The customer's lake events of the day before ``at_us``, as stream JSON events."""
    con = duckdb.connect()
    events = f"read_parquet('{lake}/raw/events/*.parquet')"
    rows = con.execute(
        f"SELECT event_id, type, epoch_us(ts), amount FROM {events} "
        "WHERE customer_id = ? AND epoch_us(ts) >= ? AND epoch_us(ts) < ? ORDER BY ts, event_id",
        [customer_id, at_us - DAY_US, at_us],
    ).fetchall()
    lines = []
    for event_id, kind, ts, amount in rows:
        body = {"event_id": event_id, "customer_id": customer_id, "type": kind}
        body["ts"] = moment(ts).isoformat()
        if amount is not None:
            body["amount"] = amount
        lines.append(json.dumps(body))
    return lines


def test_the_served_row_is_the_training_row_to_the_bit(
    small_bank: tuple[Path, Path], tmp_path: Path
) -> None:
    lake, model = small_bank
    bundle = load_bundle(model)
    names = list(bundle.encoder.names)
    registry = default_registry()
    assert {"card_txn_5m", "events_15m", "session_channel", "hour_of_day_local", "segment"} <= set(
        names
    )  # every tier reaches the model
    table = read_table(lake / "curated" / "campaign_table" / "c2026q4")
    by_id = {r["customer_id"]: r for r in table.select(["customer_id", *names]).to_pylist()}
    store = SQLiteStore(tmp_path / "online.sqlite")
    core = DecisionCore(Served(bundle, None, None, EFFECTS_ONLY), FeatureReader(store, registry))
    ingestor = StreamIngestor(store, registry.stream, lateness="10m", max_clock_skew=None)
    streamed = 0
    for customer in _sample(lake):
        cid, at = customer["id"], customer["at"]
        at_us = epoch_us(at)
        materialize(str(lake), store, registry, as_of=at, memory_limit="1GB")
        lines = _events_before(lake, cid, at_us)
        summary = ingestor.ingest(json_lines(lines, "replay.jsonl"))
        assert summary.accepted == len(lines)
        request = {"channel": customer["channel"], "ts": moment(at_us).isoformat()}
        batch = core.prepare([Ask(cid, request), Ask(cid, {"channel": customer["channel"]})], at_us)
        served, sources, *_ = batch.values[0]
        trained = by_id[cid]
        assert {n: served[n] for n in names} == {n: trained[n] for n in names}, cid
        row = np.ascontiguousarray(
            bundle.encoder.transform({n: [trained[n]] for n in names}), dtype=np.float64
        )
        assert batch.matrix[0].tobytes() == row[0].tobytes(), cid
        assert batch.matrix[1].tobytes() == row[0].tobytes(), cid  # no ts: the decision moment
        assert sources["logins_30d"] == STORE and sources["session_channel"] == REQUEST
        streamed += sources["events_15m"] == STREAM
    assert streamed >= ACTIVE  # the stream windows were really read, not defaulted
    store.close()
