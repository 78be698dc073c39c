"""``uplift demo``: the whole loop on a simulated bank, told in plain words.

Simulate a bank → build its campaign table → split customers into a training and a test
part → train (with the learner chosen by cross-fitting) → evaluate on the unseen test
customers against the simulator's truth → score them → plan a budgeted campaign.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from uplift_engine.cli.console import steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.simulate import run_simulation
from uplift_engine.cli.summary import describe_evaluation
from uplift_engine.config import load_settings
from uplift_engine.decide import load_economics, load_policy, plan_campaign, write_plan
from uplift_engine.decide.baselines import top_k
from uplift_engine.decide.campaign import CampaignPlan
from uplift_engine.decide.economics import offer_figures
from uplift_engine.decide.problem import chosen
from uplift_engine.errors import UserInputError
from uplift_engine.evaluate import evaluate_uplift, truth_matrix
from uplift_engine.lake import layout, read_table, write_table
from uplift_engine.learn import ArmSet, load_bundle, score_table, write_scores
from uplift_engine.learn.dataset import outcome_values
from uplift_engine.learn.scoring import predict_batched
from uplift_engine.pipeline.train import TrainOptions, train_bundle

MARKER = ".uplift-demo"
VALUE = 40.0  # value of a conversion (thousand VND of margin) in the demo's economics
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


@user_errors
def demo(
    customers: Annotated[int, typer.Option(help="Customers in the simulated bank.")] = 100_000,
    out: Annotated[str, typer.Option(help="Folder for everything the demo writes.")] = (
        "./demo-output"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the simulation and the models.")] = 42,
    learner: Annotated[
        str, typer.Option(help="auto, or a learner's name (see uplift train --help).")
    ] = "auto",
) -> None:
    """Run the end-to-end demo on embedded defaults: no server, no cloud account."""
    settings = load_settings()
    root = _fresh_folder(Path(out))
    started = time.perf_counter()
    print(f"Uplift Engine demo: a simulated digital bank of {customers:,} customers in {root}\n")

    summary = run_simulation(customers=customers, out=str(root / "lake"), seed=seed)
    sim = summary["simulation"]
    campaign = summary["campaign_tables"][0]
    campaign_id = campaign["campaign_id"]
    print(_describe_bank(sim, campaign))

    with steps() as say:
        say("splitting customers into training and test parts")
        table = read_table(root / "lake" / layout.campaign_table_path(campaign_id))
        rng = np.random.default_rng(seed)
        test_mask = rng.random(table.num_rows) < 0.3
        train_path, test_path = root / "train.parquet", root / "test.parquet"
        write_table(table.filter(~test_mask), train_path)
        write_table(table.filter(test_mask), test_path)

    options = TrainOptions(
        treatment="arm",
        control="control",
        outcome="converted",
        exclude=("revenue",),
        learner=learner,
        seed=seed,
    )
    with steps() as say:
        result = train_bundle(
            read_table(train_path), options, root / "model", settings, progress=say
        )
    print(f"\n2. Trained on {result.train_rows:,} customers: {result.learner}")
    if result.selection:
        print(f"   {result.selection['reason']}.")

    with steps() as say:
        say("evaluating on the unseen test customers against the truth")
        bundle = load_bundle(root / "model", threads=settings.threads)
        test = read_table(test_path)
        levels, lower, upper = predict_batched(
            bundle, test, with_interval=bundle.intervals is not None
        )
        treatment = ArmSet("arm", tuple(bundle.arms)).encode(test.column("arm"))
        truth_table = read_table(root / "lake" / layout.TRUTH)
        ids = test.column("customer_id")
        arms = bundle.arms
        truth = truth_matrix(ids, "customer_id", truth_table, "converted", arms, campaign_id)
        conditional = truth_matrix(
            ids, "customer_id", truth_table, "converted", arms, campaign_id, layout.expected_column
        )
        report = evaluate_uplift(
            treatment,
            outcome_values(test.column("converted"), "converted"),
            levels[:, 1:] - levels[:, :1],
            bundle.offers,
            truth=truth,
            conditional_truth=conditional,
            bounds=(lower, upper) if lower is not None and upper is not None else None,
            seed=seed,
            threads=settings.threads,
        ).to_dict()
        report["model"] = {"intervals": bundle.intervals}
        say("scoring the test customers")
        scores, meta = score_table(bundle, test, ("segment",))
        write_scores(scores, meta, root / "scores.parquet")
    print("\n3. " + describe_evaluation(report, title="Tested on unseen customers"))
    print(_describe_findings(report, bundle.offers))

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
    print(
        f"\n4. A campaign for these {scores.num_rows:,} customers with a budget of "
        f"{budget:,.0f} (a conversion is worth {VALUE:g}; priority customers are protected):"
    )
    print("\n".join("   " + line for line in plan.summary.lines()))
    print(_true_profit_story(plan, truth, meta.arms))
    print(
        f"\nEverything is in {root}: lake/, model/ (the bundle), scores.parquet, plan.parquet. "
        f"Done in {time.perf_counter() - started:.0f} s."
    )


def _true_profit_story(plan: CampaignPlan, truth: np.ndarray, arms: list[str]) -> str:
    """What each strategy really earns, from the simulator's true conversion probabilities."""
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
    lines = ["   Measured against the simulator's truth, the same budget really earns:"]
    lines += [f"     {name:<22}{value:>12,.0f}" for name, value in earned.items()]
    return "\n".join(lines)


def _fresh_folder(root: Path) -> Path:
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise UserInputError(
                f"{str(root)!r} exists and was not made by the demo; choose another --out"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by uplift demo; removed by the next run\n")
    return root.absolute()


def _describe_bank(sim: dict[str, Any], campaign: dict[str, Any]) -> str:
    rows = sim["rows"]
    lines = [
        f"1. Simulated the bank in {sim['seconds']:.0f} s: {rows['raw/customers']:,} customers, "
        f"{rows['raw/events']:,} digital events (logins, transfers, card payments, biometric "
        "log-ins, account openings)."
    ]
    for c in sim["campaigns"]:
        arms = ", ".join(
            f"{arm} {a['customers']:,} ({a['conversion_rate']:.1%} converted)"
            for arm, a in c["arms"].items()
        )
        lines.append(f"   Randomised campaign {c['campaign_id']}: {arms}.")
        types = c["type_shares"]
        first = next(iter(types))
        shares = ", ".join(f"{t.replace('_', ' ')} {v:.0%}" for t, v in types[first].items())
        lines.append(f"   Hidden truth, e.g. for {first}: {shares}.")
    lines.append(
        f"   Campaign table {campaign['campaign_id']}: {campaign['rows']:,} rows of features "
        "as of each customer's assignment time."
    )
    return "\n".join(lines)


def _describe_findings(report: dict[str, Any], offers: list[str]) -> str:
    lines = ["\nWhat this means for the campaign:"]
    for offer in offers:
        r = report["per_offer"][offer]
        avg = r["observed_uplift"]["value"] or 0.0
        top = next((u["value"] for u in r["uplift_at_k"] if abs(u["k"] - 0.3) < 1e-9), None)
        if top is None:
            continue
        versus = (
            f"{top / avg:.1f}× its average effect of {avg * 100:.1f} points over everyone"
            if avg > 0.001
            else f"while over everyone its average effect is only {avg * 100:+.1f} points"
        )
        lines.append(
            f" - {offer}: sent to the 30% the model picks, it lifts conversion by "
            f"{top * 100:.1f} points, {versus}."
        )
    share = report["policy"]["share"]
    lines.append(
        f" - {next(iter(share.values())):.0%} of customers are best left alone: no offer "
        "is predicted to lift them, and some would be put off (Sleeping Dogs)."
    )
    return "\n".join(lines)
