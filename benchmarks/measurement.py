"""Campaign measurement on simulated campaigns: interval coverage and the regression adjustment.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/measurement.py [--campaigns 200] [--write]

Each campaign (:func:`~uplift_engine.report.simulated_campaigns.measured_campaign`, a seed each):
a scored population with known true effects, a plan with a 30% random holdout, outcomes drawn
from the truth, and the campaign measured from the plan and outcomes alone. Reports, at 90% and
95%, how often the intervals of the incremental conversions (plain and regression-adjusted),
the ROI and each offer's incremental conversions covered the truth, and how much narrower the
adjusted intervals are. Incremental revenue is conversions × the value in this simulator, so its
coverage is the conversions'. Writes the table into docs/measurement.md with ``--write``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from uplift_engine.report.simulated_campaigns import measured_campaign  # noqa: E402


def _covered(estimate: dict, truth: float) -> bool:
    return estimate["low"] <= truth <= estimate["high"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--campaigns", type=int, default=200)
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    lines = [
        "| level | conversions, plain | conversions, adjusted | ROI | cashback (adjusted) | "
        "fee waiver (adjusted) | adjusted interval narrower (median, min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for level in (0.9, 0.95):
        runs = [measured_campaign(s, args.customers, level=level) for s in range(args.campaigns)]
        rate = {}
        for way in ("plain", "adjusted"):
            rate[way] = statistics.mean(
                _covered(r.measurement.body["campaign"]["conversions"][way], r.true_conversions)
                for r in runs
            )
        rate["roi"] = statistics.mean(
            _covered(r.measurement.body["campaign"]["roi"], r.true_roi) for r in runs
        )
        for offer in ("cashback", "fee_waiver"):
            rate[offer] = statistics.mean(
                _covered(r.measurement.body["by_offer"][offer]["conversions"]["estimate"],
                         r.true_by_offer[offer]) for r in runs
            )  # fmt: skip
        narrower = [r.measurement.body["campaign"]["conversions"]["interval_narrower_by"]
                    for r in runs]  # fmt: skip
        lines.append(
            f"| {level:.0%} | {rate['plain']:.1%} | {rate['adjusted']:.1%} | {rate['roi']:.1%} | "
            f"{rate['cashback']:.1%} | {rate['fee_waiver']:.1%} | "
            f"{statistics.median(narrower):.1%}, {min(narrower):.1%} |"
        )
    body = "\n".join(lines) + (
        f"\n\n{args.campaigns} simulated campaigns at each level, {args.customers:,} customers "
        f"each, a 30% random holdout; {time.perf_counter() - started:.0f} s "
        "(benchmarks/measurement.py)."
    )
    print(body)
    if args.write:
        write_block(ROOT / "docs" / "measurement.md", "measurement", body,
                    heading="Measured on simulated campaigns")  # fmt: skip


if __name__ == "__main__":
    main()
