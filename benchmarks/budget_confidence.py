"""A budget held with stated confidence, over many simulated campaigns, judged on the truth.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/budget_confidence.py [--campaigns 20]

For each of ``--campaigns`` simulated banks (a seed each): train a T-learner on the campaign
table (its bundle records its arms' level calibration, cross-fitted), score the customers of
another bank of the same simulator (new customers, seed + 1000), and plan the same budget twice
— the plain plan (the budget held in expectation) and the plan at ``--confidence`` — then draw
the campaign once from the simulator's true conversion probabilities: a contact cost for every
customer offered, a redemption cost for each who converts. Reports how often each plan's true
spend stayed within the budget, the exact probability of that (normal over the customers, from
the true probabilities) on average, and the expected profit the confident plan gave up (the
model's figures) and the true incremental profit of both. Writes the table into docs/decide.md
with ``--write``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

from docs_block import write_block

ROOT = Path(__file__).resolve().parent.parent
ECONOMICS = {
    "control": "control",
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 25.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 12.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 6.0},
    },
}
VALUE = 80.0


def _truth_figures(plan, truth, budget: float, rng: np.random.Generator) -> dict[str, float]:
    """The plan's true spend (one draw), P(spend ≤ budget) and true incremental profit."""
    from uplift_engine.lake import layout

    ids = truth.column("customer_id").to_numpy()
    where = np.searchsorted(ids, plan.table.column("customer_id").to_numpy())
    offers = np.array(plan.table.column("offer").to_pylist(), dtype=object)
    control = truth.column(layout.truth_column("converted", "control")).to_numpy()[where]
    mean = var = drawn = profit = 0.0
    for offer, terms in ECONOMICS["offers"].items():
        rows = offers == offer
        p = truth.column(layout.truth_column("converted", offer)).to_numpy()[where[rows]]
        contact, redemption = terms["contact_cost"], terms["redemption_cost"]
        mean += rows.sum() * contact + redemption * p.sum()
        var += redemption**2 * (p * (1 - p)).sum()
        drawn += rows.sum() * contact + redemption * (rng.random(p.size) < p).sum()
        profit += float((p * (VALUE - redemption) - control[rows] * VALUE - contact).sum())
    within = NormalDist(mean, var**0.5).cdf(budget)
    return {"spend": drawn, "within_p": within, "true_profit": profit}


def one_campaign(seed: int, customers: int, confidence: float, work: Path) -> dict[str, float]:
    from uplift_engine.cli.simulate import run_simulation
    from uplift_engine.config.settings import Settings
    from uplift_engine.decide.planning import load_economics, plan_campaign
    from uplift_engine.lake import layout, read_table
    from uplift_engine.learn import load_bundle
    from uplift_engine.learn.data import score_table
    from uplift_engine.pipeline.train import TrainOptions, train_bundle

    lake, new = work / f"lake-{seed}", work / f"new-{seed}"
    run_simulation(customers=customers, out=str(lake), seed=seed, quiet=True)
    table = read_table(lake / "curated/campaign_table/c2026q4")
    options = TrainOptions(outcome="converted", exclude=("revenue",), learner="t_learner",
                           seed=seed)  # fmt: skip
    train_bundle(table, options, work / f"model-{seed}", Settings())
    run_simulation(customers=customers, out=str(new), seed=seed + 1000, quiet=True)
    population = read_table(new / "curated/campaign_table/c2026q4")
    scores, meta = score_table(load_bundle(work / f"model-{seed}"), population)
    truth = read_table(new / layout.TRUTH).sort_by("customer_id")
    economics = load_economics(ECONOMICS)
    budget = 0.05 * customers
    plain = plan_campaign(scores, meta, economics, budget=budget, value=VALUE, seed=seed)
    held = plan_campaign(scores, meta, economics, budget=budget, value=VALUE, seed=seed,
                         budget_confidence=confidence)  # fmt: skip
    rng = np.random.default_rng(seed)
    a = _truth_figures(plain, truth, budget, rng)
    b = _truth_figures(held, truth, budget, np.random.default_rng(seed))  # the same draws
    record = held.meta["budget_confidence"]
    shutil.rmtree(lake, ignore_errors=True)
    shutil.rmtree(new, ignore_errors=True)
    return {
        "budget": budget,
        "plain_within": float(a["spend"] <= budget),
        "held_within": float(b["spend"] <= budget),
        "plain_within_p": a["within_p"],
        "held_within_p": b["within_p"],
        "given_up_share": record["expected_profit_given_up"] / plain.summary.plan.profit,
        "headroom_share": record["headroom"] / budget,
        "plain_true_profit": a["true_profit"],
        "held_true_profit": b["true_profit"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--campaigns", type=int, default=20)
    p.add_argument("--customers", type=int, default=15_000)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--write", action="store_true")
    opts = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="budget-confidence-"))
    started = time.perf_counter()
    rows = []
    try:
        for seed in range(1, opts.campaigns + 1):
            rows.append(one_campaign(seed, opts.customers, opts.confidence, work))
            r = rows[-1]
            print(f"seed {seed}: within plain {r['plain_within']:.0f} held {r['held_within']:.0f}"
                  f" (P {r['plain_within_p']:.2f} / {r['held_within_p']:.2f}), given up "
                  f"{r['given_up_share']:.1%}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rows)

    n = len(rows)
    body = "\n".join([
        f"{n} simulated banks (seeds 1–{n}), {opts.customers:,} customers each; a T-learner per "
        f"bank, its plans made for the customers of another bank (seed + 1000); budget 5% of "
        f"the customer count (every offer's redemption costing 6–25 for a "
        f"value of {VALUE:g}); the same draw of true conversions for both plans; "
        f"{(time.perf_counter() - started) / 60:.0f} min.",
        "",
        "| plan | true spend within budget | P(within), exact, mean | true incremental profit, "
        "mean |",
        "| --- | ---: | ---: | ---: |",
        f"| plain (the budget held in expectation) | {mean('plain_within'):.0%} "
        f"({sum(r['plain_within'] for r in rows):.0f} of {n}) | {mean('plain_within_p'):.0%} "
        f"| {mean('plain_true_profit'):,.0f} |",
        f"| **at {opts.confidence:.0%} confidence** | **{mean('held_within'):.0%}** "
        f"({sum(r['held_within'] for r in rows):.0f} of {n}) | {mean('held_within_p'):.0%} "
        f"| {mean('held_true_profit'):,.0f} |",
        "",
        f"Headroom kept: {mean('headroom_share'):.1%} of the budget on average; expected profit "
        f"given up (the model's figures): {mean('given_up_share'):.2%} of the plain plan's.",
    ])  # fmt: skip
    print(body)
    if opts.write:
        write_block(ROOT / "docs" / "decide.md", "budget-confidence", body,
                    heading="Measured: a budget held with stated confidence")  # fmt: skip


if __name__ == "__main__":
    main()
