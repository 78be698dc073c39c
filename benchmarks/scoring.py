"""Scoring 1M customers × 3 offers: the learners' scoring graphs, in CPU and wall seconds.

Run on demand (not in the test suite):

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/scoring.py [--lake LAKE]
        [--customers 1000000] [--learners t_learner s_learner ...] [--repeats 3]
        [--write docs/benchmarks.md]

Every learner is fitted with its defaults on the simulator's campaign table (all rows, outcome
``converted``), then scores every row of it with ``ScoringGraph.predict_levels`` — with the
bounds when the model has them — on a ready matrix: file I/O and encoding are excluded (the
core benchmark measures those). CPU seconds are the process's own (2 threads); on a shared
machine they say more than the wall time, and half of them is the wall time on 2 idle cores.
Baseline measured in the same run: LightGBM's own ``predict`` of the T-learner's boosters.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from docs_block import write_block

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

LEARNERS = ("t_learner", "s_learner", "x_learner", "dr_learner", "uplift_forest", "causal_forest")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median CPU and wall seconds of ``work`` over ``repeats`` runs."""
    cpus, walls = [], []
    for _ in range(repeats):
        c, w = cpu(), time.perf_counter()
        work()
        cpus.append(cpu() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(cpus), statistics.median(walls)


def campaign(lake: Path) -> Any:
    from uplift_engine.lake import read_table
    from uplift_engine.learn.data import assign_roles, encode_campaign

    table = read_table(lake / "curated" / "campaign_table" / "c2026q4")
    roles = assign_roles(
        table, treatment="arm", outcome="converted", id_column=None, propensity=None,
        exclude=("revenue",),
    )
    return encode_campaign(table, roles, "control")


def size_of(graph: Any) -> str:
    boosted = sum(graph._booster(name).num_trees() for name in graph.models)
    forests = sum(e.n_trees for e in graph.ensembles.values())
    parts = [f"{boosted} boosted"] if boosted else []
    if forests:
        parts.append(f"{len(graph.ensembles)} × {forests // len(graph.ensembles)} forest")
    return " + ".join(parts) + " trees"


def bench(lake: Path, learners: list[str], repeats: int) -> tuple[list[dict], dict]:
    import lightgbm

    from uplift_engine.learn.arm_split import split_by_arm
    from uplift_engine.learn.training import LEARNERS as ALL
    from uplift_engine.learn.training import BoosterParams

    data = campaign(lake)
    X = np.ascontiguousarray(data.X)
    rows: list[dict] = []
    meta = {"rows": X.shape[0], "offers": len(data.arms.offers), "load": os.getloadavg()[0]}
    for name in learners:
        clock = time.perf_counter()
        model = ALL[name](params=BoosterParams(threads=2), seed=1).fit(
            data.X, data.treatment, data.y, categorical=data.encoder.categorical_indices
        )
        fit = time.perf_counter() - clock
        graph = model.export()
        graph.predict_levels(X[:1000])  # load boosters and ensembles
        score = graph.predict_levels_and_interval if graph.intervals else graph.predict_levels
        cpu_s, wall_s = measure(partial(score, X), repeats)
        size = size_of(graph)
        if name == "s_learner":
            split = split_by_arm(graph.models["mu"])
            if split is not None:
                size += f" ({split.n_shared} read no arm)"
        row = {"learner": name, "size": size, "fit_s": fit, "cpu_s": cpu_s, "wall_s": wall_s,
               "bounds": graph.intervals is not None}
        if name == "t_learner":
            boosters = [lightgbm.Booster(model_str=text) for text in graph.models.values()]

            def raw(boosters: list[Any] = boosters) -> object:
                return [b.predict(X, num_threads=2) for b in boosters]

            meta["baseline_cpu_s"], meta["baseline_wall_s"] = measure(raw, repeats)
        rows.append(row)
        print(row, flush=True)
    return rows, meta


def render(rows: list[dict], meta: dict, repeats: int) -> str:
    lines = [
        f"{meta['rows']:,} customers × {meta['offers']} offers, models fitted on all of them; "
        f"median of {repeats}; load average at the start: {meta['load']:.1f}.",
        "",
        "| learner (defaults) | trees | CPU s | ≈ s on 2 idle cores (CPU ÷ 2) | wall s | notes |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        note = "levels and 90% bounds" if r["bounds"] else "levels"
        lines.append(
            f"| `{r['learner']}` | {r['size']} | {r['cpu_s']:.1f} | {r['cpu_s'] / 2:.1f} | "
            f"{r['wall_s']:.1f} | {note} |"
        )
    if "baseline_cpu_s" in meta:
        t = next(r for r in rows if r["learner"] == "t_learner")
        lines.append(
            f"| baseline: LightGBM `predict` of the T-learner's boosters | | "
            f"{meta['baseline_cpu_s']:.1f} | {meta['baseline_cpu_s'] / 2:.1f} | "
            f"{meta['baseline_wall_s']:.1f} | ours at {t['cpu_s'] / meta['baseline_cpu_s']:.2f}× "
            "its CPU |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, help="a simulated lake with its campaign table")
    parser.add_argument("--customers", type=int, default=1_000_000, help="without --lake")
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, help="docs file to update")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uplift-scoring-") as tmp:
        lake = args.lake
        if lake is None:
            from uplift_engine.cli.simulate import run_simulation

            lake = Path(tmp) / "lake"
            run_simulation(customers=args.customers, out=str(lake), seed=1, quiet=True)
        rows, meta = bench(lake, args.learners, args.repeats)
    table = render(rows, meta, args.repeats)
    print(table)
    if args.write:
        write_block(args.write, "scoring", table, heading="Scoring 1M customers × 3 offers")
    sys.exit(0)


if __name__ == "__main__":
    main()
