"""The pipeline's kill test at full count: ``uplift pipeline run`` killed at many random moments.

Run: ``python benchmarks/pipeline_kills.py [--runs 40] [--customers 4000]``: that many runs,
each on a fresh release root, killed at a random moment (over the run, or just after a step
starts; half of them again while resuming),
each kill followed by the checks of ``tests/pipeline_kills.py`` (the lake, every alias, every
run record and what it names whole); each run, finished, must reach the decision and the gate
figures of a run never killed, with one registered version, and one more run must do nothing
new. Writes the counts into docs/pipeline.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from docs_block import write_block  # noqa: E402
from pipeline_kills import kill_runs  # noqa: E402
from pipeline_lake import config, land, source  # noqa: E402
from uplift_engine.pipeline.run import STEPS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--customers", type=int, default=4_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        src = source(work / "source", args.customers, campaigns=("c1",))
        lake = work / "lake"
        land(src, lake, "c1", first=True)
        report = kill_runs(lake, work, config(lake, work / "unused"), kills=args.runs)
    order = ["none", *STEPS]
    counted = sorted(report.steps_reached.items(), key=lambda s: order.index(s[0]))
    reached = ", ".join(f"{step} {n}" for step, n in counted)
    body = (
        f"{report.kills} kills -9 in {args.runs} runs of `uplift pipeline run` "
        f"({args.customers:,} customers, one campaign; a run never killed took "
        f"{report.reference_seconds:.1f} s), each on a fresh release root, killed at a moment "
        "drawn uniformly over a run or within half a second of a step's start (half killed "
        "again while resuming). The furthest step "
        f"recorded when a kill came: {reached}. After every kill the lake, every alias, every "
        "run record and all it names were whole; every run, resumed to its end, reached the "
        "unkilled run's decision and gate figures to the bit with one registered version, and "
        f"one more run did nothing new ({time.strftime('%Y-%m-%d')}, this machine, "
        f"{report.seconds:.0f} s in all)."
    )
    write_block(ROOT / "docs" / "pipeline.md", "pipeline-kills", body, heading="Kill test")
    print(body)


if __name__ == "__main__":
    main()
