"""Offline features: the point-in-time training set on DuckDB and on Spark, with a baseline.

Run on demand (not in the test suite):

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/features.py [--customers 1000000]
        [--no-spark] [--write docs/benchmarks.md]

Stages run in their own processes, so that each peak RSS (children included) is its own:
1. simulate the bank (30 days of events);
2. DuckDB: ``build_training_sets(engine="duckdb")`` — validation with quarantine, 17 features
   as of each assignment, the written table — with 2 threads and a 4 GB memory limit;
3. baseline, same DuckDB settings: an ASOF join of N entity rows (customer, as of) onto a daily
   per-customer feature table (the point-in-time join a feature store does; the table is
   built beforehand and not timed), for N = 100k and for all customers;
4. Spark local[2] on the same lake (driver memory 4 GB);
5. compare the two tables: keys, rows, integers equal, floats to 1e-9 relative.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "c2026q4"


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stage_simulate(args: dict) -> dict:
    import pyarrow.dataset as ds

    from uplift_engine.simulate import SimulationConfig, simulate_bank

    t = time.perf_counter()
    simulate_bank(SimulationConfig(customers=args["n"], seed=1), args["lake"], workers=2)
    return {
        "seconds": time.perf_counter() - t,
        "events": ds.dataset(args["lake"] + "/raw/events").count_rows(),
        "assignments": ds.dataset(args["lake"] + "/raw/campaign_assignments").count_rows(),
    }


def stage_build(args: dict) -> dict:
    from uplift_engine.config.settings import Settings
    from uplift_engine.features.offline.engines import build_training_sets
    from uplift_engine.lake import read_table

    conf = {"spark.driver.memory": "4g"}
    settings = Settings(threads=2, spark_conf=conf, spark_master="local[2]")
    t, cpu = time.perf_counter(), _cpu()
    choice, (summary,) = build_training_sets(
        args["lake"], [CAMPAIGN], settings, engine=args["engine"], out_uris=[args["out"]]
    )
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu
    table = read_table(args["out"], columns=["customer_id", "events_30d"])
    import numpy as np

    events = np.asarray(table.column("events_30d"))
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rows": summary.rows,
        "table_rows": table.num_rows,
        "no_history": int((events == 0).sum()),
        "input_bytes": choice.input_bytes,
        "engine": summary.engine,
    }


def stage_asof(args: dict) -> dict:
    from uplift_engine.lake import dataset
    from uplift_engine.lake.sessions import duckdb_session

    out: dict = {}
    with duckdb_session(2, "4GB") as con:
        con.register("raw_events", dataset(args["lake"] + "/raw/events"))
        con.register("raw_assign", dataset(args["lake"] + "/raw/campaign_assignments"))
        t = time.perf_counter()
        con.execute(
            "CREATE TABLE daily AS SELECT customer_id, "
            "date_trunc('day', ts) + INTERVAL 1 DAY AS available_at, "
            "count(*)::INTEGER AS events_1d, sum(amount) AS amount_1d "
            "FROM raw_events GROUP BY ALL"
        )
        out["daily_rows"] = con.execute("SELECT count(*) FROM daily").fetchone()[0]
        out["daily_build_seconds"] = time.perf_counter() - t
        for n in args["sizes"]:
            con.execute(
                "CREATE OR REPLACE TABLE entities AS SELECT customer_id, assigned_at AS as_of "
                f"FROM raw_assign ORDER BY customer_id LIMIT {int(n)}"
            )
            rows = con.execute("SELECT count(*) FROM entities").fetchone()[0]
            con.execute(
                "CREATE OR REPLACE TABLE own_daily AS SELECT * FROM daily "
                "SEMI JOIN entities USING (customer_id)"
            )
            for right in ("daily", "own_daily"):
                right_rows = con.execute(f"SELECT count(*) FROM {right}").fetchone()[0]
                best = None
                for _ in range(3):
                    t = time.perf_counter()
                    got = con.execute(
                        f"SELECT count(*), count(d.events_1d) FROM entities e ASOF LEFT JOIN "
                        f"{right} d ON e.customer_id = d.customer_id "
                        "AND e.as_of >= d.available_at"
                    ).fetchone()
                    seconds = time.perf_counter() - t
                    best = seconds if best is None else min(best, seconds)
                out[f"{n}_{right}"] = {
                    "entity_rows": rows,
                    "right_rows": right_rows,
                    "seconds": best,
                    "rows": got[0],
                    "hits": got[1],
                }
    return out


def stage_compare(args: dict) -> dict:
    import numpy as np
    import pyarrow as pa

    from uplift_engine.lake import read_table

    a, b = read_table(args["duckdb"]), read_table(args["spark"])
    out: dict = {"rows": [a.num_rows, b.num_rows], "schema_equal": a.schema.equals(b.schema)}
    worst, mismatched = 0.0, []
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if not pa.types.is_floating(x.type):
            if not x.equals(y):
                mismatched.append(name)
            continue
        if not x.is_null().equals(y.is_null()):
            mismatched.append(name)
            continue
        xs = np.asarray(x.fill_null(0.0), dtype=float)
        ys = np.asarray(y.fill_null(0.0), dtype=float)
        scale = np.maximum(np.abs(xs), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(xs - ys) / scale, initial=0.0)))
    out["mismatched_columns"] = mismatched
    out["max_relative_difference"] = worst
    out["identical"] = not mismatched and worst <= 1e-9 and a.num_rows == b.num_rows
    return out


STAGES = {
    "simulate": stage_simulate,
    "build": stage_build,
    "asof": stage_asof,
    "compare": stage_compare,
}


def run_stage(name: str, **args: object) -> dict:
    print(f"… {name} {args.get('engine', '')}", flush=True)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, __file__, "--stage", name, json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(n: int, spark: bool, work: Path) -> dict:
    """All stages on one simulated lake of ``n`` customers in ``work``."""
    lake = str(work / "lake")
    result: dict = {"customers": n}
    result["simulate"] = run_stage("simulate", n=n, lake=lake)
    result["duckdb"] = run_stage("build", lake=lake, engine="duckdb", out=str(work / "duck"))
    result["asof"] = run_stage("asof", lake=lake, sizes=sorted({100_000, n}))
    if spark:
        result["spark"] = run_stage("build", lake=lake, engine="spark", out=str(work / "spark"))
        result["compare"] = run_stage(
            "compare", duckdb=str(work / "duck"), spark=str(work / "spark")
        )
    return result


def render(r: dict) -> str:
    sim, duck, asof = r["simulate"], r["duckdb"], r["asof"]
    n = f"{r['customers']:,}"
    lines = [
        f"Input: {n} customers, {sim['events']:,} events over 30 days "
        f"({duck['input_bytes'] / 1e6:,.0f} MB of Parquet), {sim['assignments']:,} assignments.",
        "",
        "| what | wall s | CPU s | peak RSS (MB) | rows | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| DuckDB training set (validate + 17 features + write) | {duck['seconds']:.1f} | "
        f"{duck['cpu_seconds']:.1f} | {duck['peak_mb']:.0f} | {duck['table_rows']:,} | "
        f"{duck['no_history']:,} customers without events in 30 days kept (0 / null) |",
    ]
    for key in sorted((k for k in asof if k[0].isdigit()), key=lambda k: int(k.split("_")[0])):
        a = asof[key]
        if key.endswith("_own_daily") and a["right_rows"] == asof["daily_rows"]:
            continue  # every customer is an entity: the same join as above
        onto = "all customers'" if key.endswith("_daily") and "own" not in key else "their own"
        lines.append(
            f"| baseline: DuckDB ASOF join, {a['entity_rows']:,} entity rows | "
            f"{a['seconds']:.2f} | | {asof['peak_mb']:.0f} | {a['rows']:,} | onto {onto} "
            f"{a['right_rows']:,} daily feature rows (prebuilt, not timed); best of 3 |"
        )
    if "spark" in r:
        s, c = r["spark"], r["compare"]
        verdict = "identical" if c["identical"] else f"DIFFERENT: {c['mismatched_columns']}"
        lines.append(
            f"| Spark local[2] training set, same input | {s['seconds']:.1f} | "
            f"(JVM) | (JVM) | {s['table_rows']:,} | "
            f"{verdict} to DuckDB's (max relative difference "
            f"{c['max_relative_difference']:.1e}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark run")
    parser.add_argument("--write", type=Path, default=None, help="docs file to update")
    parser.add_argument("--work", type=Path, default=None, help="keep the lake in this folder")
    ns = parser.parse_args()
    if ns.stage:
        out = STAGES[ns.stage](json.loads(ns.args))
        out["peak_mb"] = _peak_mb()
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="uplift-features-") as tmp:
        result = bench(ns.customers, not ns.no_spark, ns.work or Path(tmp))
    print(json.dumps(result, indent=1))
    block = render(result)
    print(block)
    if ns.write:
        write_block(ns.write, "features", block, heading="Offline features")


if __name__ == "__main__":
    main()
