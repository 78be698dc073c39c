"""Core throughput and memory: simulate, campaign table, train, score — at 100k and 1M customers.

Run on demand (not in the test suite):

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/core.py [--sizes 100000 1000000]
        [--repeats 3] [--write docs/benchmarks.md]

Each stage runs in its own process so that its peak memory (RSS, children included) is its
own. Baselines measured in the same run, so ratios survive a noisy shared machine:
- train: one LightGBM classifier on the same rows and features (what a propensity model
  costs) against the T-learner and ``--learner auto``;
- score: LightGBM's own ``predict`` of the bundle's models on a ready matrix (an S-learner's
  once per arm, with the arm's column) against our whole scoring path from an Arrow table
  (encoding, every arm, uplift columns), file I/O excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parents[1]

STAGE = textwrap.dedent(
    """
    import json, os, resource, sys, time
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = json.loads(sys.argv[1])
    def peak_mb():
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return max(own, kids) / 1024
    out = {}
    stage = args["stage"]
    if stage == "simulate":
        from uplift_engine.simulate import SimulationConfig, simulate_bank
        t = time.perf_counter()
        summary = simulate_bank(SimulationConfig(customers=args["n"], seed=1), args["lake"])
        out["seconds"] = time.perf_counter() - t
        import pyarrow.dataset as ds
        out["events"] = ds.dataset(args["lake"] + "/raw/events").count_rows()
    elif stage == "campaign_table":
        from uplift_engine.features.offline import build_campaign_table
        t = time.perf_counter()
        summary = build_campaign_table(args["lake"], "c2026q4", threads=2)
        out["seconds"] = time.perf_counter() - t
    elif stage == "train":
        from uplift_engine.lake import read_table
        from uplift_engine.pipeline.train import TrainOptions, train_bundle
        table = read_table(args["lake"] + "/curated/campaign_table/c2026q4")
        options = TrainOptions(treatment="arm", control="control", outcome="converted",
                               exclude=("revenue",), learner=args["learner"], seed=1,
                               bootstrap=50)
        t = time.perf_counter()
        from uplift_engine.config.settings import Settings

        result = train_bundle(table, options, args["model"], Settings(), overwrite=True)
        out["seconds"] = time.perf_counter() - t
        out["steps"] = result.seconds
        out["learner"] = result.learner
    elif stage == "baseline_fit":
        import numpy as np
        from uplift_engine.lake import read_table
        from uplift_engine.learn.data import assign_roles, encode_campaign
        from uplift_engine.learn.training import BoosterParams
        from uplift_engine.learn.training.boosting import fit_booster
        table = read_table(args["lake"] + "/curated/campaign_table/c2026q4")
        roles = assign_roles(table, treatment="arm", outcome="converted", exclude=("revenue",))
        data = encode_campaign(table, roles, "control")
        t = time.perf_counter()
        fit_booster(data.X, data.y, objective="binary", params=BoosterParams(), seed=1,
                    categorical=data.encoder.categorical_indices)
        out["seconds"] = time.perf_counter() - t
    elif stage == "score":
        import numpy as np
        from uplift_engine.lake import read_table
        from uplift_engine.learn import load_bundle
        from uplift_engine.learn.data.scoring import score_table
        bundle = load_bundle(args["model"], threads=2)
        table = read_table(args["lake"] + "/curated/campaign_table/c2026q4")
        X = bundle.encoder.transform({n: table.column(n) for n in bundle.encoder.names})
        graph = bundle.graph
        names = sorted(graph.models)
        # every (booster, arm column) the levels evaluate; an S-learner's booster reads X with
        # the arm's code as a last column, once per arm
        calls = sorted({(t.model, t.arm_column) for terms in graph.levels for t in terms
                        if t.model in graph.models}, key=str)
        inputs = {arm: X if arm is None else np.column_stack([X, np.full(len(X), arm)])
                  for arm in {arm for _, arm in calls}}
        for name in names:
            graph._booster(name)  # load once, outside the timings
        raw, ours = [], []
        for _ in range(args["repeats"]):
            t = time.perf_counter()
            for name, arm in calls:
                graph._booster(name).predict(inputs[arm], num_threads=2)
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            score_table(bundle, table)
            ours.append(time.perf_counter() - t)
        out["raw_lightgbm"] = raw
        out["ours"] = ours
        out["rows"] = table.num_rows
        out["models"] = len(names)
        out["predictions"] = len(calls)
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))
    """
)


def run_stage(**args: object) -> dict:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    done = subprocess.run(
        [sys.executable, "-c", STAGE, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"stage {args['stage']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(n: int, repeats: int, work: Path) -> dict:
    lake, model = str(work / f"lake{n}"), str(work / f"model{n}")
    row: dict = {"customers": n}
    print(f"[{n:,}] simulate", flush=True)
    row["simulate"] = run_stage(stage="simulate", n=n, lake=lake)
    print(f"[{n:,}] campaign table", flush=True)
    row["campaign_table"] = run_stage(stage="campaign_table", lake=lake)
    print(f"[{n:,}] baseline fit", flush=True)
    row["baseline_fit"] = run_stage(stage="baseline_fit", lake=lake)
    for learner in ("t_learner", "auto"):
        print(f"[{n:,}] train {learner}", flush=True)
        row[f"train_{learner}"] = run_stage(
            stage="train", lake=lake, model=model + learner, learner=learner
        )
    print(f"[{n:,}] score", flush=True)
    row["score"] = run_stage(stage="score", lake=lake, model=model + "t_learner", repeats=repeats)
    row["score_auto"] = run_stage(stage="score", lake=lake, model=model + "auto", repeats=repeats)
    return row


def render(rows: list[dict]) -> str:
    lines = [
        "| customers | stage | seconds | peak RSS (MB) | notes |",
        "| ---: | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        n = f"{r['customers']:,}"
        sim, tab = r["simulate"], r["campaign_table"]
        lines.append(
            f"| {n} | simulate | {sim['seconds']:.1f} | {sim['peak_mb']:.0f} | "
            f"{sim['events']:,} events |"
        )
        lines.append(
            f"| {n} | campaign table | {tab['seconds']:.1f} | {tab['peak_mb']:.0f} | "
            "DuckDB, point in time |"
        )
        base = r["baseline_fit"]["seconds"]
        lines.append(
            f"| {n} | baseline: one LightGBM fit | {base:.1f} | "
            f"{r['baseline_fit']['peak_mb']:.0f} | all rows |"
        )
        for learner in ("t_learner", "auto"):
            tr = r[f"train_{learner}"]
            lines.append(
                f"| {n} | train `{learner}` → {tr['learner']} | {tr['seconds']:.1f} | "
                f"{tr['peak_mb']:.0f} | {tr['seconds'] / base:.1f}× baseline; steps "
                + ", ".join(f"{k} {v:.0f}s" for k, v in tr["steps"].items())
                + " |"
            )
        for key, label in (("score", "t_learner"), ("score_auto", "auto")):
            sc = r[key]
            ours, raw = statistics.median(sc["ours"]), statistics.median(sc["raw_lightgbm"])
            lines.append(
                f"| {n} | score `{label}` bundle ({_models(sc)}) | {ours:.2f} | "
                f"{sc['peak_mb']:.0f} | median of {len(sc['ours'])}; "
                f"{sc['rows'] / ours / 1e6:.2f} M rows/s; {ours / raw:.2f}× LightGBM's raw "
                "predict |"
            )
    return "\n".join(lines)


def _models(score: dict) -> str:
    """"7 models", or "1 model, 4 predictions" when a booster is evaluated once per arm."""
    models, calls = score["models"], score.get("predictions", score["models"])
    text = f"{models} model{'s' if models != 1 else ''}"
    return text if calls == models else f"{text}, {calls} predictions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, default=None, help="docs file to update")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uplift-bench-") as tmp:
        rows = [bench(n, args.repeats, Path(tmp)) for n in args.sizes]
    table = render(rows)
    print(table)
    print(json.dumps(rows, indent=1))
    if args.write:
        write_block(args.write, "core", table, heading="Core pipeline")


if __name__ == "__main__":
    main()
