"""The demo's story: the whole loop on a simulated bank, told in a marketer's words.

Simulate a bank → build its campaign table → split customers into a training and a test part →
train (the learner chosen by cross-fitting) → evaluate on the unseen test customers against the
simulator's truth → score them → plan a budgeted campaign → serve the model and the plan over
HTTP and decide a few customers through it → show the dashboard over all of it, and say what
each step means.
Amounts are the simulator's thousands of VND, shown in VND; ``verbose`` adds the statistics.
:func:`run_demo` tells the story through ``emit`` (one paragraph at a time) and reports the
steps it is in through ``steps``; the CLI gives it the terminal.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from uplift_engine.config.settings import Settings
from uplift_engine.decide.economics import offer_figures
from uplift_engine.decide.planning import (
    CampaignPlan,
    load_economics,
    load_policy,
    plan_campaign,
    top_k,
    write_plan,
)
from uplift_engine.decide.solver import chosen
from uplift_engine.errors import UserInputError
from uplift_engine.evaluate import evaluate_bundle, truth_matrix
from uplift_engine.features.offline import simulate_lake
from uplift_engine.lake import layout, read_table, write_table
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import score_table, write_scores
from uplift_engine.pipeline.train import TrainOptions, TrainResult, train_bundle
from uplift_engine.report.demo_dashboard import show_dashboard
from uplift_engine.report.demo_serving import serve_and_ask
from uplift_engine.report.summaries import describe_evaluation
from uplift_engine.simulate import SimulationConfig

MARKER = ".uplift-demo"
VALUE = 40.0  # value of a conversion (thousand VND of margin) in the demo's economics
THOUSAND_VND = 1_000.0  # the simulator's and the economics' unit
ECONOMICS = {
    "control": "control",
    "offers": {
        "cashback": {"contact_cost": 0.5, "redemption_cost": 10.0},
        "fee_waiver": {"contact_cost": 0.3, "redemption_cost": 4.0},
        "bonus_points": {"contact_cost": 0.2, "redemption_cost": 2.0},
    },
}
POLICY = {"protected": 'segment == "priority"'}
BUDGET_PER_CUSTOMER = 0.15
Steps = Callable[[], contextlib.AbstractContextManager[Callable[[str], None]]]


@contextlib.contextmanager
def _quiet() -> Iterator[Callable[[str], None]]:
    yield lambda _: None


def run_demo(
    settings: Settings,
    *,
    customers: int,
    out: Path,
    seed: int = 42,
    learner: str = "auto",
    verbose: bool = False,
    emit: Callable[[str], None] = print,
    steps: Steps = _quiet,
) -> Path:
    """Run the whole loop into the folder ``out`` and tell it; returns the folder."""
    root = fresh_folder(out)
    started = time.perf_counter()
    emit(f"Uplift Engine demo: a simulated digital bank of {customers:,} customers, in {root}\n")

    with steps() as say:
        lake = simulate_lake(
            SimulationConfig(customers=customers, seed=seed), str(root / "lake"), settings, say=say
        )
    campaign_id = lake.campaign_tables[0].campaign_id
    emit(_describe_bank(lake.to_dict()["simulation"]))

    with steps() as say:
        say("splitting customers into training and test parts")
        table = read_table(root / "lake" / layout.campaign_table_path(campaign_id))
        rng = np.random.default_rng(seed)
        test_mask = rng.random(table.num_rows) < 0.3
        train_path, test_path = root / "train.parquet", root / "test.parquet"
        write_table(table.filter(~test_mask), train_path)
        write_table(table.filter(test_mask), test_path)

    # the campaign table declares its arm column, control and outcomes: only the outcome is named
    options = TrainOptions(outcome="converted", learner=learner, seed=seed)
    with steps() as say:
        result = train_bundle(
            read_table(train_path), options, root / "model", settings, progress=say
        )
    emit(_describe_model(result, verbose))

    with steps() as say:
        say("evaluating on the unseen test customers against the truth")
        bundle = load_bundle(root / "model", threads=settings.threads)
        test = read_table(test_path)
        truth_table = read_table(root / "lake" / layout.TRUTH)
        report = evaluate_bundle(
            bundle,
            test,
            truth=truth_table,
            campaign=campaign_id,
            seed=seed,
            threads=settings.threads,
        )
        truth = truth_matrix(
            test.column("customer_id"), "customer_id", truth_table, "converted", bundle.arms,
            campaign_id,
        )  # fmt: skip
        say("scoring the test customers")
        scores, meta = score_table(bundle, test, ("segment",))
        write_scores(scores, meta, root / "scores.parquet")
    emit(_describe_test(report, bundle.offers))
    if verbose:
        emit("\n" + describe_evaluation(report, title="   The statistics, on the test customers"))

    budget = round(BUDGET_PER_CUSTOMER * scores.num_rows, -2)
    with steps() as say:
        say("planning a budgeted campaign")
        plan = plan_campaign(
            scores,
            meta,
            load_economics(ECONOMICS),
            budget=budget,
            value=VALUE,
            policy=load_policy(POLICY),
            seed=seed,
        )
        write_plan(plan.table, plan.meta, root / "plan.parquet")
    emit(_describe_plan(plan, report, budget, scores.num_rows))
    if verbose:
        emit("\n".join("   " + line for line in plan.summary.lines()))
    emit(_true_profit_story(plan, truth, meta.arms))
    with steps() as say:
        say("filling the online store and starting the decision service")
        ids = test.column("customer_id").to_pylist()
        asked = [ids[i] for i in (0, len(ids) // 3, 2 * len(ids) // 3)]
        emit("\n".join(serve_and_ask(root, plan.meta, asked)))
    with steps() as say:
        say("compacting the decision log and opening the dashboard")
        emit("\n".join(show_dashboard(root)))
    emit(
        f"\nEverything is in {root}: lake/, model/ (the bundle), scores.parquet, plan.parquet, "
        "releases/, online.sqlite, decisions/. "
        f"Done in {time.perf_counter() - started:.0f} s."
        + ("" if verbose else " Add --verbose for the statistics behind each step.")
    )
    return root


def vnd(thousands: float) -> str:
    """An amount in thousands of VND, in words: ``4.5 million VND``."""
    amount = thousands * THOUSAND_VND
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if abs(amount) >= size:
            return f"{amount / size:,.1f} {word} VND"
    return f"{amount:,.0f} VND"


def _true_profit_story(plan: CampaignPlan, truth: np.ndarray, arms: list[str]) -> str:
    """Which profit to trust, and what each strategy really earns by the simulator's truth."""
    prep = plan.prepared
    economics = load_economics(ECONOMICS)
    true_profit = np.vstack(
        [
            offer_figures(
                economics, "binary", offer, truth[:, arms.index(offer)], truth[:, 0], VALUE
            )[0]
            for offer in prep.offers
        ]
    )
    strategies = {
        "the optimised plan": plan.solution.choice,
        "top-K by uplift": top_k(prep.problem, prep.lift),
        "top-K by propensity": top_k(prep.problem, prep.propensity),
    }
    earned = {name: float(chosen(true_profit, c).sum()) for name, c in strategies.items()}
    expected = plan.summary.plan.profit
    real = earned["the optimised plan"]
    compared = (
        "more than"
        if real > expected * 1.05
        else "less than"
        if real < expected * 0.95
        else "about"
    )
    lines = [
        "   Which profit to trust: before a campaign only the expected one is known (the model's "
        "estimate); afterwards the random holdout measures the real one. Here the simulator "
        f"knows the truth: the plan really earns {vnd(real)}, {compared} the {vnd(expected)} "
        "it expected. At the same budget, in thousands of VND:"
    ]
    lines += [f"     {name:<22}{value:>12,.0f}" for name, value in earned.items()]
    return "\n".join(lines)


def fresh_folder(root: Path) -> Path:
    """An empty folder for the demo: a folder it did not make is refused, its own is replaced."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise UserInputError(
                f"{str(root)!r} exists and was not made by the demo; choose another --out"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by uplift demo; removed by the next run\n")
    return root.absolute()


def _describe_bank(sim: dict[str, Any]) -> str:
    rows = sim["rows"]
    events = rows["raw/events"]
    lines = [
        f"1. The bank: {rows['raw/customers']:,} customers and {events / 1e6:.1f} million digital "
        "events (logins, transfers, card payments, biometric log-ins, account openings)."
    ]
    for c in sim["campaigns"]:
        arms = c["arms"]
        control = next(iter(arms))
        offers = ", ".join(
            f"{arm} to {a['customers']:,} ({a['conversion_rate']:.1%} converted)"
            for arm, a in list(arms.items())[1:]
        )
        lines.append(
            f"   A randomised campaign tried {len(arms) - 1} offers: {offers}; "
            f"{arms[control]['customers']:,} customers got nothing ({control}, "
            f"{arms[control]['conversion_rate']:.1%} converted)."
        )
        types = c["type_shares"]
        first = next(iter(types))
        share = types[first]
        lines.append(
            f"   The simulator knows what no bank can: for {first}, "
            f"{share['persuadable']:.0%} of customers are Persuadables (they convert only with "
            f"the offer), {share['sure_thing']:.0%} Sure Things (they convert anyway), "
            f"{share['lost_cause']:.0%} Lost Causes and {share['sleeping_dog']:.0%} Sleeping "
            "Dogs (the offer puts them off)."
        )
    return "\n".join(lines)


def _describe_model(result: TrainResult, verbose: bool) -> str:
    line = f"\n2. The model: {result.learner}, trained on {result.train_rows:,} customers"
    selection = result.selection
    if not selection:
        return line + "."
    if selection["winner"] == selection["best"]:
        line += (
            f", the best of {len(selection['candidates'])} candidates at ranking customers "
            "by how much an offer changes their behaviour (tried on parts of the data it did "
            "not learn from)."
        )
    else:
        line += (
            f": of {len(selection['candidates'])} candidates, {selection['best']} ranked "
            f"customers best by a hair and {result.learner} as well within the noise, so the "
            + (
                "average of several models is kept (safer when the data cannot tell them apart)."
                if result.learner == "ensemble"
                else "simpler one is kept."
            )
        )
    if verbose:
        line += f"\n   {selection['reason']}."
    return line


def _describe_test(report: dict[str, Any], offers: list[str]) -> str:
    lines = [f"\n3. Tested on {report['n_rows']:,} customers it never saw:"]
    for offer in offers:
        r = report["per_offer"][offer]
        avg = r["observed_uplift"]["value"] or 0.0
        top = next((u["value"] for u in r["uplift_at_k"] if abs(u["k"] - 0.3) < 1e-9), None)
        if top is None:
            continue
        versus = f" ({top / avg:.1f}× as much)" if avg > 0.001 else ""
        lines.append(
            f" - {offer}: sent to everyone, it lifts conversion by {avg * 100:.1f} points; sent "
            f"to the 30% the model picks, by {top * 100:.1f} points{versus}."
        )
    policy = report["policy"]
    treated = 1 - (next(iter(policy["share"].values())) or 0.0)
    lines.append(
        f" - Giving each customer the offer it expects to help most, and none where none helps, "
        f"reaches {treated:.0%} of customers; {1 - treated:.0%} are best left alone (no offer "
        "lifts them, and some would be put off: Sleeping Dogs)."
    )
    oracle = (policy.get("truth") or {}).get("fraction_of_oracle_gain")
    if oracle is not None:
        lines.append(
            f" - Against the simulator's truth, this targeting gets {oracle:.0%} of the gain "
            "of a perfect one that knew every customer's reaction."
        )
    errors = [(report["per_offer"][o].get("truth") or {}).get("pehe") for o in offers]
    known = [e for e in errors if e is not None]
    if known:
        lines.append(
            f" - A single customer's effect is harder: the model's estimate is typically "
            f"{100 * max(known):.0f} points off or less (root mean square, the 'PEHE'), so it "
            "is the ranking, not the single figure, that targets."
        )
    return "\n".join(lines)


def _describe_plan(
    plan: CampaignPlan, report: dict[str, Any], budget: float, customers: int
) -> str:
    summary = plan.summary
    figures = summary.plan
    baselines = {b.strategy: b for b in summary.baselines}
    policy = report["policy"]
    would = 1 - (next(iter(policy["share"].values())) or 0.0)
    offers = ", ".join(
        f"{offer} {count:,}"
        for offer, count in sorted(figures.per_offer.items(), key=lambda item: -item[1])
        if count
    )
    excluded = summary.excluded
    held = summary.holdout.get("count", 0)
    reach = figures.treated / customers
    lines = [
        f"\n4. A campaign for these {customers:,} customers with a budget of {vnd(budget)} "
        f"(a conversion is worth {vnd(VALUE)} of margin; priority customers are protected):",
        f"   Without a budget the model would give an offer to {would:.0%} of them (everyone it "
        f"expects to gain). The budget pays for {figures.treated:,} ({reach:.0%}): "
        "the plan picks the offers that earn the most for what they cost.",
        f"   Offers: {offers}. Left out: {excluded.get('protected', 0):,} priority customers "
        f"(protected), {excluded.get('harm', 0):,} whom every offer would harm; "
        f"{held:,} kept as a random holdout to measure the campaign.",
        f"   Expected: {figures.incremental:,.0f} more conversions than no campaign and a profit "
        f"of {vnd(figures.profit)} (ROI {figures.roi:.2f}), against "
        + " and ".join(
            f"{vnd(b.profit)} for {name}"
            for name, b in (
                ("the top customers by uplift", baselines.get("top-K by uplift")),
                (
                    "the top customers by propensity to convert",
                    baselines.get("top-K by propensity"),
                ),
            )
            if b is not None
        )
        + " at the same budget.",
    ]
    return "\n".join(lines)
