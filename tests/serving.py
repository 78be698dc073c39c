"""What the serving tests serve: a T-learner bundle on the online store's features and its plan.

Made once per session from the session lake: the SQLite online store materialised from it, a
bundle trained on the store's batch features, and a plan priced on the store's own values (the
metadata a release holds as ``plan.json``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow as pa

from uplift_engine.config import SQLiteOnlineStore
from uplift_engine.config.settings import Settings
from uplift_engine.decide.planning import load_economics, load_policy, plan_campaign
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.features.offline import materialize
from uplift_engine.lake import read_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import score_table
from uplift_engine.pipeline.train import TrainOptions, train_bundle

ECONOMICS = {
    "control": "control",
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 10.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 2.0},
    },
}
POLICY = {
    "eligibility": [{"name": "active", "when": "logins_30d >= 1", "offers": ["cashback"]}],
    "contact_caps": [{"column": "account_openings_30d", "max": 3}],
}
AT_US = 1_790_000_000_000_000
UPLIFT = str(Path(sys.executable).parent / "uplift")


@dataclass(frozen=True)
class Artefacts:
    """Paths and ids of what is served."""

    root: Path
    store_path: Path
    model: Path
    plan_meta: bytes
    ids: list[int]
    offers: list[str]
    """The plan's offer for each of ``ids`` ('' for none)."""
    holdout: list[bool]
    """Whether the plan keeps each of ``ids`` in its random holdout."""


def build(lake: Path, campaign_table: Path, root: Path, *, seed: int = 3) -> Artefacts:
    """Store, bundle and plan metadata under ``root``."""
    store_path = root / "online.sqlite"
    store = open_store(SQLiteOnlineStore(path=str(store_path)))
    materialize(str(lake), store, default_registry(), memory_limit="1GB")
    table = read_table(campaign_table)
    batch = [s.name for s in default_registry().batch]
    static = [c for c in table.column_names if c not in (*batch, "customer_id", "arm", "converted")]
    options = TrainOptions(
        outcome="converted", exclude=tuple(static), learner="t_learner", seed=seed
    )
    train_bundle(table, options, root / "model", Settings())
    bundle = load_bundle(root / "model")
    reader = FeatureReader(store, default_registry())
    ids = table.column("customer_id").to_pylist()
    rows = reader.read_many(ids, at_us=AT_US)
    features = pa.table(
        {"customer_id": ids} | {n: [r[n] for r in rows] for n in bundle.encoder.names}
    )
    scores, meta = score_table(bundle, features, tuple(bundle.encoder.names))
    plan = plan_campaign(
        scores, meta, load_economics(ECONOMICS), budget=0.2 * len(ids), value=40.0,
        policy=load_policy(POLICY), seed=5,
    )  # fmt: skip
    store.close()
    offers = plan.table.column("offer").to_pylist()
    holdout = plan.table.column("holdout").to_pylist()
    plan_meta = json.dumps(plan.meta, default=float, sort_keys=True).encode()
    return Artefacts(root, store_path, root / "model", plan_meta, ids, offers, holdout)


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(
    store_path: Path, args: list[str], log_dir: Path
) -> tuple[subprocess.Popen, str]:
    """``uplift serve ARGS`` on a free loopback port, once ready; the process and its URL."""
    port = free_port()
    env = {**os.environ, "UPLIFT_ONLINE_STORE__PATH": str(store_path),
           "UPLIFT_ONLINE_STORE__TYPE": "sqlite",
           "OMP_WAIT_POLICY": "PASSIVE", "UPLIFT_THREADS": "1"}  # fmt: skip
    env.pop("UPLIFT_API_KEYS", None)
    proc = subprocess.Popen(
        [UPLIFT, "serve", *args, "--port", str(port), "--decision-log", str(log_dir),
         "--reload-seconds", "0.2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "died")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the service did not become ready")
