"""What ``--learner auto`` costs: its selection against one T-learner fit on the same rows.

Run on demand (not in the test suite):

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/auto_cost.py [--sizes 100000 1000000]
        [--repeats 3] [--work /tmp/uplift-auto-cost] [--write docs/benchmarks.md]

For each size, the simulated bank's campaign table (made once in ``--work``) is encoded, then in
one process, alternating so that a noisy machine slows both alike: a T-learner fitted on every
row (the baseline), ``select_learner`` over ``AUTO_CANDIDATES`` with its default plan (the
selection), and the chosen configuration fitted on every row (the final fit, reported apart).
Medians of ``--repeats``; the load average is read before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parents[1]

MEASURE = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np
    from uplift_engine.evaluate.selection import plan_selection, select_learner
    from uplift_engine.lake import read_table
    from uplift_engine.learn.data import assign_roles, encode_campaign
    from uplift_engine.learn.training import AUTO_CANDIDATES, LEARNERS, BoosterParams

    args = json.loads(sys.argv[1])
    table = read_table(args["table"])
    roles = assign_roles(table, treatment="arm", outcome="converted", id_column="customer_id",
                         propensity=None, exclude=("revenue",))
    data = encode_campaign(table, roles, "control")
    params = BoosterParams(threads=2)
    cats = data.encoder.categorical_indices

    def fit(name):
        clock = time.perf_counter()
        LEARNERS[name](params=params, seed=0).fit(data.X, data.treatment, data.y, categorical=cats)
        return time.perf_counter() - clock

    out = {"rows": len(data.y), "baseline": [], "select": [], "final": []}
    plan = plan_selection(len(data.y), int(np.bincount(data.treatment).min()))
    out["plan"] = {"rows": plan.rows, "folds": plan.folds, "repeats": plan.repeats}
    for _ in range(args["repeats"]):
        out["baseline"].append(fit("t_learner"))
        clock = time.perf_counter()
        report = select_learner(data, AUTO_CANDIDATES, params=params, seed=0)
        out["select"].append(time.perf_counter() - clock)
        out["winner"] = report.winner
        out["candidates"] = {c.learner: round(c.seconds, 2) for c in report.candidates}
        out["final"].append(fit(report.winner))
    print(json.dumps(out))
    """
)


def _lake(n: int, work: Path) -> Path:
    table = work / f"lake{n}" / "curated" / "campaign_table" / "c2026q4"
    if table.exists():
        return table
    script = textwrap.dedent(
        f"""
        from uplift_engine.features.offline import build_campaign_table
        from uplift_engine.simulate import SimulationConfig, simulate_bank
        if __name__ == "__main__":
            simulate_bank(SimulationConfig(customers={n}, seed=1), {str(work / f"lake{n}")!r})
            build_campaign_table({str(work / f"lake{n}")!r}, "c2026q4", threads=2)
        """
    )
    path = work / f"make{n}.py"
    path.write_text(script)
    subprocess.run([sys.executable, str(path)], check=True)
    return table


def measure(n: int, repeats: int, work: Path) -> dict:
    """One size: the baseline, the selection and the final fit, each ``repeats`` times."""
    table = _lake(n, work)
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps({"table": str(table), "repeats": repeats})],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["load"] = (round(load, 2), round(os.getloadavg()[0], 2))
    return out


def render(results: list[dict], repeats: int) -> str:
    """The markdown table for the docs."""
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, 2 threads, median of {repeats}; "
        "load average before → after each size in the last column.",
        "",
        "| customers | selection plan | one T-learner fit (baseline) | selection | ratio | "
        "chosen | final fit of the chosen | load |",
        "| ---: | --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in results:
        base, select = statistics.median(r["baseline"]), statistics.median(r["select"])
        plan = r["plan"]
        lines.append(
            f"| {r['rows']:,} | {plan['rows']:,} rows, {plan['folds']} folds, "
            f"{plan['repeats']} repeat(s) | {base:.1f} s | {select:.1f} s | "
            f"{select / base:.1f}× | {r['winner']} | {statistics.median(r['final']):.1f} s | "
            f"{r['load'][0]} → {r['load'][1]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/uplift-auto-cost"))
    parser.add_argument("--write", type=Path)
    opts = parser.parse_args()
    opts.work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in opts.sizes:
        clock = time.perf_counter()
        results.append(measure(n, opts.repeats, opts.work))
        print(json.dumps(results[-1]), f"({time.perf_counter() - clock:.0f} s)", flush=True)
    table = render(results, opts.repeats)
    print(table)
    if opts.write:
        write_block(opts.write, "auto-cost", table, heading="What `--learner auto` costs")


if __name__ == "__main__":
    main()
