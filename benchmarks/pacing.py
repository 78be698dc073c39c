"""Real-time pacing over a simulated campaign day, against the hindsight allocation.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/pacing.py [--days 5] [--write]

A pool of customers with known true effects (:func:`synthetic_campaign`: noisy scores, honest
intervals). The batch plan that prices the day is made the evening before, on another day's
arrivals (same pool, another draw), with the budget of the day. Then, for each arrival pattern
— steady, a morning peak, a surge late in the day (30% more traffic than forecast from 17:00) —
customers arrive as a Poisson process with that hourly pattern, each decided when they arrive
by the service's own code (the :class:`~uplift_engine.decide.Decider` with the paced prices of
:class:`~uplift_engine.serve.pacing.Pacer`, holds on a real SQLite ledger); a customer offered
converts with their true probability, the redemption coming within the offer's expiry (the hold
is kept), otherwise the hold's redemption part comes back when the offer expires. The
controller knows only the bank's *typical* daily profile, not the day's pattern.

The **hindsight allocation** is the batch optimiser run on the same arrivals with the same scores
and budget (what one would do knowing who would come). Both are valued at the true effects:
true incremental profit (expected, from the true probabilities) and true expected spend; the
paced day's realised spend (one draw) and its committed peak are reported against the budget.
Writes the table into docs/decide.md with ``--write``.
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from uplift_engine.config.settings import SQLiteOnlineStore  # noqa: E402
from uplift_engine.decide import Decider  # noqa: E402
from uplift_engine.decide.pacing import BUDGET, MICROS  # noqa: E402
from uplift_engine.decide.planning import load_economics, plan_campaign  # noqa: E402
from uplift_engine.decide.planning.synthetic import synthetic_campaign  # noqa: E402
from uplift_engine.features import open_store  # noqa: E402
from uplift_engine.serve.pacing import Pacer  # noqa: E402

HOUR = 3_600_000_000
DAY_START = "2026-12-08T00:00:00+07:00"
DAY_END = "2026-12-09T00:00:00+07:00"
VALUE = 80.0
TYPICAL = [1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 7, 7, 8, 7, 6, 6, 6, 7, 8, 8, 6, 4, 2, 1]
"""The bank's typical traffic by hour (what the controller expects)."""
PATTERNS = {
    "steady": [1.0] * 24,
    "morning peak": [1, 1, 1, 1, 1, 2, 6, 12, 14, 12, 8, 6, 5, 5, 4, 4, 4, 4, 4, 4, 3, 2, 1, 1],
    "late surge": [w * (1.3 if h >= 17 else 1.0) for h, w in enumerate(TYPICAL)],
}
OFFERS = {
    "cashback": {"contact_cost": 0.5, "redemption_cost": 25.0},
    "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 12.0},
}


def economics(expiry: str, gain: float) -> dict:
    return {
        "control": "none",
        "offers": OFFERS,
        "pacing": {"campaign": "day", "start": DAY_START, "end": DAY_END, "profile": TYPICAL,
                   "offer_expiry": expiry, "gain": gain},
    }  # fmt: skip


def arrivals(pattern: list[float], expected: int, pool: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Poisson arrivals over the day by hour: (time µs from the start, customer row), sorted."""
    weights = np.asarray(pattern, float)
    if pattern is PATTERNS["late surge"]:
        weights = weights / np.sum(TYPICAL)  # the forecast's volume, then 30% more from 17:00
    else:
        weights = weights / weights.sum()
    counts = rng.poisson(expected * weights)
    times = np.concatenate(
        [h * HOUR + rng.integers(0, HOUR, c) for h, c in enumerate(counts)]
    ).astype(np.int64)
    who = rng.choice(pool, size=times.size, replace=False)
    order = np.argsort(times, kind="stable")
    return times[order], who[order]


def true_value(
    rows: np.ndarray, offers: list[str], chosen: np.ndarray, truth: np.ndarray
) -> tuple[float, float]:
    """True expected incremental profit and spend of offering ``chosen`` (-1: none) to ``rows``."""
    profit = spend = 0.0
    for j, name in enumerate(offers):
        pick = rows[chosen == j]
        p, p0 = truth[1 + j, pick], truth[0, pick]
        c, r = OFFERS[name]["contact_cost"], OFFERS[name]["redemption_cost"]
        profit += float((p * (VALUE - r) - p0 * VALUE - c).sum())
        spend += float((c + r * p).sum())
    return profit, spend


def run_day(camp, rows_all, decider, times, who, budget, store_path, rng) -> dict[str, float]:
    """Decide the day's arrivals in time order with pacing; what happened."""
    store = open_store(SQLiteOnlineStore(path=str(store_path)))
    pacer = Pacer(decider, store)  # type: ignore[arg-type]
    start = decider.economics.pacing.start_us
    expiry = decider.economics.pacing.expiry_us
    offers = decider.offers
    chosen = np.full(who.size, -1)
    redemptions: list[tuple[int, str, str]] = []
    realised = peak = 0.0
    refused = 0
    for i, (t, row) in enumerate(zip(times, who, strict=True)):
        at = start + int(t)
        while redemptions and redemptions[0][0] <= at:
            _, key, offer = heapq.heappop(redemptions)
            pacer.redeem(key, offer)
        assessment = decider.assess(rows_all[row], (), at, pacer.paced(at))
        if assessment.ranking:
            assessment = pacer.hold(assessment, str(row), f"d{i}", at)
            refused += any(a.excluded_by and a.excluded_by.startswith("pacing:")
                           for a in assessment.offers)  # fmt: skip
        offer = assessment.decision.offer
        if not offer:
            continue
        j = offers.index(offer)
        chosen[i] = j
        terms = OFFERS[offer]
        realised += terms["contact_cost"]
        if rng.random() < camp.truth[1 + j, row]:
            realised += terms["redemption_cost"]
            heapq.heappush(redemptions, (at + int(rng.integers(0, expiry)), str(row), offer))
        peak = max(peak, store.counters("day").get(BUDGET, 0) / MICROS)
    pacer.sweep(start + 48 * HOUR)
    profit, spend = true_value(who, offers, chosen, camp.truth)
    store.close()
    return {"profit": profit, "spend": spend, "realised": realised, "peak": peak,
            "offered": int((chosen >= 0).sum()), "refused": refused,
            "arrivals": int(who.size)}  # fmt: skip


def hindsight(camp, who, budget, eco) -> dict[str, float]:
    scores = camp.scores.take(who)
    plan = plan_campaign(scores, camp.meta, eco, budget=budget, value=VALUE, holdout=0.0, seed=0)
    offers = plan.prepared.offers
    names = plan.table.column("offer").to_pylist()
    chosen = np.array([offers.index(o) if o else -1 for o in names])
    profit, spend = true_value(who, offers, chosen, camp.truth)
    return {"profit": profit, "spend": spend}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=5, help="simulated days per pattern (a seed each)")
    p.add_argument("--arrivals", type=int, default=20_000, help="expected arrivals a day")
    p.add_argument("--expiry", default="30m")
    p.add_argument("--gain", type=float, default=0.5)
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    results: dict[str, list[dict]] = {name: [] for name in PATTERNS}
    eco = load_economics(economics(args.expiry, args.gain))
    with tempfile.TemporaryDirectory() as tmp:
        for day in range(args.days):
            camp = synthetic_campaign(3 * args.arrivals, tuple(OFFERS), seed=100 + day, noise=0.03)
            pool = camp.scores.num_rows
            rows_all = camp.scores.to_pylist()
            rng = np.random.default_rng(day)
            # the evening before: a plan on another day's arrivals (the typical pattern)
            _, before = arrivals(TYPICAL, args.arrivals, pool, rng)
            free = plan_campaign(camp.scores.take(before), camp.meta, eco, budget=float("inf"),
                                 value=VALUE, holdout=0.0)  # fmt: skip
            budget = round(0.4 * free.summary.plan.spend, 2)  # a budget that binds
            forecast = plan_campaign(camp.scores.take(before), camp.meta, eco, budget=budget,
                                     value=VALUE, holdout=0.0)  # fmt: skip
            decider = Decider.from_plan_meta(forecast.meta)
            for name, pattern in PATTERNS.items():
                times, who = arrivals(pattern, args.arrivals, pool, rng)
                paced = run_day(camp, rows_all, decider, times, who, budget,
                                Path(tmp) / f"{day}-{name}.sqlite", rng)  # fmt: skip
                best = hindsight(camp, who, budget, eco)
                results[name].append({**paced, "budget": budget, "hindsight": best["profit"],
                                      "hindsight_spend": best["spend"]})  # fmt: skip
    lines = [
        "| arrival pattern | days | paced / hindsight true profit (median, min) | paced true "
        "spend / budget (median, max) | realised spend / budget (max) | committed peak / budget "
        "(max) | hindsight true spend / budget (median) | arrivals (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        ratio = [r["profit"] / r["hindsight"] for r in rows]
        spend = [r["spend"] / r["budget"] for r in rows]
        lines.append(
            f"| {name} | {len(rows)} | {statistics.median(ratio):.1%}, {min(ratio):.1%} | "
            f"{statistics.median(spend):.1%}, {max(spend):.1%} | "
            f"{max(r['realised'] / r['budget'] for r in rows):.1%} | "
            f"{max(r['peak'] / r['budget'] for r in rows):.1%} | "
            f"{statistics.median(r['hindsight_spend'] / r['budget'] for r in rows):.1%} | "
            f"{statistics.median(r['arrivals'] for r in rows):,.0f} |"
        )
    body = "\n".join(lines) + (
        f"\n\n{args.days} simulated days per pattern, about {args.arrivals:,} arrivals a day, "
        f"offer expiry {args.expiry}, gain {args.gain:g}; budget 40% of the unconstrained plan's "
        f"spend; {time.perf_counter() - started:.0f} s in all (benchmarks/pacing.py)."
    )
    print(body)
    if args.write:
        write_block(ROOT / "docs" / "decide.md", "pacing", body,
                    heading="Real-time pacing against the hindsight allocation")  # fmt: skip


if __name__ == "__main__":
    main()
