"""The decision-only environment: its size, its import time and its first decision.

Builds the artefacts of a small simulated bank in the project's environment (the online store,
a T-learner bundle on the store's batch features, a plan priced on them), builds a fresh venv
from requirements/decide.txt, and times, in fresh processes, the corridor's imports, the first
decision (bundle loaded, store opened) and the steady decision latency — in the lean venv and,
as the baseline of the same run, in the project's full environment. Writes the table into
docs/architecture.md.

    .venv/bin/python benchmarks/corridor.py [--customers 20000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import venv
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from uplift_engine.config import serving_settings
from uplift_engine.features import FeatureReader, default_registry, open_store
from uplift_engine.learn import load_bundle
from uplift_engine.serve import DecisionCore, served_with_plan
t1 = time.perf_counter()
import lightgbm
t2 = time.perf_counter()
settings = serving_settings()
core = DecisionCore(
    served_with_plan(load_bundle(sys.argv[1], threads=1), open(sys.argv[2], "rb").read(), "plan"),
    FeatureReader(open_store(settings), default_registry()),
)
ids = json.loads(sys.argv[3])
core.decide(ids[0])
t3 = time.perf_counter()
lat = []
for c in ids[1:]:
    s = time.perf_counter()
    core.decide(c)
    lat.append(time.perf_counter() - s)
lat.sort()
heavy = ("pandas", "pyarrow", "pydantic", "duckdb", "highspy", "numba", "sklearn")
print(json.dumps({"import": t1 - t0, "lightgbm_import": t2 - t1, "first": t3 - t2,
                  "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)],
                  "loaded": sorted({m.split(".")[0] for m in sys.modules
                                    if m.split(".")[0] in heavy})}))
"""


def artefacts(
    work: Path, customers: int, *, every_tier: bool = False
) -> tuple[Path, Path, list[int]]:
    """Lake, store, bundle and decider.json of a simulated bank, made in this environment.

    The bundle reads the batch features; with ``every_tier``, every column of the campaign
    table — the customers' attributes, batch aggregates, stream windows and request-time
    features — as a model trained on the whole table does.
    """
    import pyarrow as pa

    from uplift_engine.cli.simulate import run_simulation
    from uplift_engine.config import SQLiteOnlineStore
    from uplift_engine.config.settings import Settings
    from uplift_engine.decide.planning import load_economics, plan_campaign
    from uplift_engine.features import FeatureReader, default_registry, open_store
    from uplift_engine.features.offline import materialize
    from uplift_engine.lake import read_table
    from uplift_engine.learn import load_bundle
    from uplift_engine.learn.data import score_table
    from uplift_engine.pipeline.train import TrainOptions, train_bundle

    lake = work / "lake"
    run_simulation(customers=customers, out=str(lake), seed=9, quiet=True)
    store = open_store(SQLiteOnlineStore(path=str(work / "online.sqlite")))
    materialize(str(lake), store, default_registry())
    table = read_table(lake / "curated/campaign_table/c2026q4")
    batch = {s.name for s in default_registry().batch}
    static = tuple(c for c in table.column_names
                   if c not in batch | {"customer_id", "arm", "converted"})  # fmt: skip
    exclude = ("revenue",) if every_tier else static
    train_bundle(table, TrainOptions(outcome="converted", exclude=exclude, learner="t_learner"),
                 work / "model", Settings())  # fmt: skip
    bundle = load_bundle(work / "model")
    ids = table.column("customer_id").to_pylist()
    names = bundle.encoder.names
    if every_tier:  # the plan is priced on the training rows
        feats = table.select(["customer_id", *names])
    else:
        rows = FeatureReader(store, default_registry()).read_many(ids)
        feats = pa.table({"customer_id": ids} | {n: [r[n] for r in rows] for n in names})
    scores, meta = score_table(bundle, feats)
    economics = load_economics({"control": "control", "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 10.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 2.0}}})  # fmt: skip
    plan = plan_campaign(scores, meta, economics, budget=0.2 * len(ids), value=40.0)
    (work / "decider.json").write_text(json.dumps(plan.meta, default=float))
    return work / "model", work / "decider.json", ids


def site_packages_bytes(python: Path) -> int:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    where = done.stdout.strip()
    return sum(p.stat().st_size for p in Path(where).rglob("*") if p.is_file())


def run(python: Path, model: Path, decider: Path, ids: list[int], store: Path, runs: int) -> dict:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"),
           "UPLIFT_ONLINE_STORE__PATH": str(store), "OMP_WAIT_POLICY": "PASSIVE",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [str(python), "-c", textwrap.dedent(CHILD), str(model), str(decider), json.dumps(ids)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        results.append(json.loads(done.stdout))
    out = {k: statistics.median(r[k] for r in results)
           for k in ("import", "lightgbm_import", "first", "p50", "p99")}  # fmt: skip
    out["loaded"] = results[0]["loaded"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--decisions", type=int, default=2_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="corridor-bench-"))
    try:
        model, decider, ids = artefacts(work, args.customers)
        lean = work / "lean"
        venv.create(lean, with_pip=True)
        subprocess.run([str(lean / "bin/python"), "-m", "pip", "install", "--quiet",
                        "-r", str(ROOT / "requirements/decide.txt")], check=True)  # fmt: skip
        sample = ids[: args.decisions]
        rows = {}
        for name, python in (("full (.venv)", Path(sys.executable)),
                             ("decision-only", lean / "bin/python")):  # fmt: skip
            rows[name] = run(python, model, decider, sample, work / "online.sqlite", args.runs)
            rows[name]["size"] = site_packages_bytes(python)
        lines = [
            f"{args.customers:,}-customer bank, T-learner bundle (3 offers, 17 features), "
            f"SQLite store, one thread; medians of {args.runs} fresh processes, "
            f"{args.decisions:,} decisions each.",
            "",
            "| environment | installed (site-packages) | corridor imports | `import lightgbm` "
            "| first decision (load + decide) | decision p50 | decision p99 "
            "| heavy modules loaded |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in rows.items():
            lines.append(
                f"| {name} | {r['size'] / 1e6:,.0f} MB | {r['import'] * 1e3:.0f} ms "
                f"| {r['lightgbm_import'] * 1e3:.0f} ms | {r['first'] * 1e3:.0f} ms "
                f"| {r['p50'] * 1e6:.0f} µs | {r['p99'] * 1e6:.0f} µs "
                f"| {', '.join(r['loaded']) or 'none'} |"
            )
        full, lean_r = rows["full (.venv)"], rows["decision-only"]
        ratio = {k: lean_r[k] / full[k] for k in ("size", "import", "first", "p50")}
        lines += [
            "",
            f"Ratios (decision-only / full): installed {ratio['size']:.2f}, imports "
            f"{ratio['import']:.2f}, first decision {ratio['first']:.2f}, p50 {ratio['p50']:.2f}.",
        ]
        body = "\n".join(lines)
        print(body)
        write_block(ROOT / "docs" / "architecture.md", "corridor", body,
                    heading="The decision-only environment, measured")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
