"""``uplift optimize``: scores + economics (+ policy) → a guarded, budget-optimal campaign plan."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from uplift_engine.cli.console import print_json, steps
from uplift_engine.cli.contacts import AtOption, ContactHistoryOption, contact_history_for
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.decide.planning import (
    budget_frontier,
    do_not_contact,
    load_economics,
    load_policy,
    plan_campaign,
    prepare_plan,
    write_plan,
)
from uplift_engine.decide.solver.optimizer import METHODS
from uplift_engine.errors import UserInputError
from uplift_engine.lake import check_table_target, read_table
from uplift_engine.learn.data.scores_files import read_scores


@user_errors
def optimize(
    scores: Annotated[str, typer.Argument(help="Scores file from `uplift score` (CSV/Parquet).")],
    economics: Annotated[
        str, typer.Option(help="Economics file (YAML/JSON): offers, costs, caps, segments.")
    ],
    budget: Annotated[
        float | None, typer.Option(help="Campaign budget: the most the expected cost may reach.")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Plan file to write (.csv or .parquet).")] = None,
    value: Annotated[
        float | None, typer.Option(help="Binary outcome: the value of one conversion.")
    ] = None,
    value_col: Annotated[
        str | None, typer.Option(help="Binary outcome: a column with each customer's value.")
    ] = None,
    customers: Annotated[
        str | None, typer.Option(help="Table of customer columns for rules, joined on the id.")
    ] = None,
    dnc: Annotated[
        str | None, typer.Option(help="Do-not-contact ids: a table (id column) or .txt file.")
    ] = None,
    policy: Annotated[
        str | None, typer.Option(help="Policy file: dnc, protected, eligibility, contact caps.")
    ] = None,
    contact_history: ContactHistoryOption = None,
    at: AtOption = None,
    holdout: Annotated[
        float, typer.Option(help="Share of eligible customers held out untreated, at random.")
    ] = 0.1,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the holdout draw (default: settings' seed).")
    ] = None,
    method: Annotated[str, typer.Option(help="Optimiser: auto, milp or lagrangian.")] = "auto",
    time_limit: Annotated[
        float, typer.Option(help="Seconds the exact MILP may take before it stops.")
    ] = 60.0,
    budget_confidence: Annotated[
        float | None,
        typer.Option(
            help="Keep the true spend within the budget with this probability (e.g. 0.95), "
            "not only in expectation."
        ),
    ] = None,
    frontier: Annotated[
        bool, typer.Option("--frontier", help="Also compute profit and ROI across budgets.")
    ] = False,
    frontier_points: Annotated[int, typer.Option(help="Budgets on the frontier.")] = 21,
    frontier_max: Annotated[
        float | None, typer.Option(help="Largest frontier budget (default: unconstrained spend).")
    ] = None,
    frontier_out: Annotated[
        str | None, typer.Option(help="Write the frontier to this .csv/.parquet file.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Decide which customer gets which offer, if any, within a budget; write the plan."""
    settings = load_settings(config)
    if not frontier and (budget is None or out is None):
        raise UserInputError("give --budget and --out (or --frontier to explore budgets)")
    if (budget is None) != (out is None):
        raise UserInputError("--budget and --out go together: the plan needs both")
    if budget is not None and not budget >= 0:
        raise UserInputError(f"--budget must be ≥ 0, got {budget}", field="budget")
    if budget_confidence is not None and not 0.5 <= budget_confidence < 1:
        raise UserInputError(
            f"--budget-confidence must be in [0.5, 1), got {budget_confidence}",
            field="budget_confidence",
        )
    if budget_confidence is not None and budget is None:
        raise UserInputError("--budget-confidence needs --budget", field="budget_confidence")
    if method not in METHODS:
        raise UserInputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if frontier_points < 2:
        raise UserInputError(f"--frontier-points must be ≥ 2, got {frontier_points}")
    for target in (out, frontier_out):
        if target is not None:
            check_table_target(target, settings)  # bad extension or unwritable path: now
    eco = load_economics(economics, settings)
    rules = load_policy(policy, settings) if policy else None
    seed = settings.seed if seed is None else seed

    with steps() as say:
        say(f"reading {scores}")
        table, meta = read_scores(scores, settings)
        extra = read_table(customers, settings) if customers else None
        if contact_history is not None:
            say(f"reading the contact history of {contact_history}")
        history, at_us = contact_history_for(rules, contact_history, at, settings)
        ids = do_not_contact(meta.id_column, settings, listed=dnc, policy=rules, policy_uri=policy)
        common: dict[str, Any] = dict(
            value=value,
            value_col=value_col,
            customers=extra,
            policy=rules,
            dnc=ids,
            holdout=holdout,
            seed=seed,
            contacts=history,
            at_us=at_us,
        )
        plan = None
        if budget is not None:
            say(f"optimising {table.num_rows:,} customers")
            plan = plan_campaign(
                table, meta, eco, budget=budget, method=method, time_limit=time_limit,
                budget_confidence=budget_confidence, **common,
            )  # fmt: skip
        curve = None
        if frontier:
            say("computing the budget frontier")
            prep = (
                plan.prepared
                if plan is not None
                else prepare_plan(table, meta, eco, budget=math.inf, **common)
            )
            curve = budget_frontier(
                prep.problem, points=frontier_points, max_budget=frontier_max, seed=seed
            )
        if plan is not None and out is not None:
            say(f"writing {out}")
            write_plan(plan.table, plan.meta, out, settings)
        if curve is not None and frontier_out is not None:
            curve.write(frontier_out, settings)

    if json:
        print_json(
            {
                "summary": None if plan is None else plan.summary.to_dict(),
                "budget_confidence": None if plan is None else plan.meta["budget_confidence"],
                "frontier": None if curve is None else [p.to_dict() for p in curve.points],
            }
        )
        return
    if plan is not None:
        print("\n".join(plan.summary.lines()))
        held = plan.meta["budget_confidence"]
        if held is not None:
            print(
                f"budget held at {held['confidence']:.0%} confidence: the optimiser spent "
                f"{held['optimiser_budget']:,.2f} of {held['budget']:,.2f} in expectation; true "
                f"spend {held['corrected_expected_spend']:,.2f} ± {held['spend_sd']:,.2f}, "
                f"bound {held['spend_upper']:,.2f} (the plain plan's: "
                f"{held['plain_spend_upper']:,.2f}); expected profit given up "
                f"{held['expected_profit_given_up']:,.2f}; model error: {held['model_error']}"
            )
        print(f"wrote the plan of {plan.table.num_rows:,} customers to {out}")
    if curve is not None:
        print("\nbudget frontier")
        print("\n".join(curve.lines()))
