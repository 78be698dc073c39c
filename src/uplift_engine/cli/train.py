"""``uplift train``: learn the effect of every offer from a randomised campaign table."""

from __future__ import annotations

from typing import Annotated

import typer

from uplift_engine.cli.console import print_json, split_list, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.lake import read_table
from uplift_engine.learn.data.arms import parse_arm_map
from uplift_engine.learn.training import AUTO, learner_help
from uplift_engine.pipeline.learner_settings import parse_pairs
from uplift_engine.pipeline.train import TrainOptions, train_bundle
from uplift_engine.report.summaries import describe_training


@user_errors
def train(
    data: Annotated[
        str, typer.Argument(help="Campaign table: CSV or Parquet, a path or s3:// URI.")
    ],
    out: Annotated[str, typer.Option(help="Folder (or s3:// URI) for the model bundle.")],
    treatment: Annotated[
        str | None,
        typer.Option(
            help="Column holding each row's arm (default: the one a campaign table declares)."
        ),
    ] = None,
    control: Annotated[
        str | None,
        typer.Option(
            help="The control arm's label, e.g. 0 or 'No E-Mail' (default: the declared one)."
        ),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="Outcome column: 0/1 conversion or an amount (default: the table's only "
            "declared outcome). Other declared outcomes are never features."
        ),
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="Comma-separated columns that are not features.")
    ] = None,
    arm_map: Annotated[
        list[str] | None,
        typer.Option(
            "--arm-map",
            help="FROM=TO, repeatable: read treatment label FROM as TO, e.g. "
            "--arm-map 'Control=control' (labels that differ only by case or spaces are "
            "refused otherwise).",
        ),
    ] = None,
    keep_feature: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated columns to keep as features although they nearly determine "
            "the outcome (refused otherwise: they are usually measured after the offer)."
        ),
    ] = None,
    id: Annotated[
        str | None,
        typer.Option("--id", help="Id column (default: customer_id if present, else row_id)."),
    ] = None,
    propensity: Annotated[
        str | None, typer.Option(help="Column with each row's probability of its arm.")
    ] = None,
    learner: Annotated[str, typer.Option(help=learner_help())] = AUTO,
    base: Annotated[
        str,
        typer.Option(
            help="Library of the base models: lightgbm, or catboost "
            "(pip install 'uplift-engine\\[catboost]')."
        ),
    ] = "lightgbm",
    seed: Annotated[int, typer.Option(help="Seed for splits and models.")] = 42,
    evaluation: Annotated[
        str,
        typer.Option(
            help="How the model is measured out of sample: auto (cross-fitted below 20,000 "
            "rows, held out from there), held-out, or cross-fitted (5 folds)."
        ),
    ] = "auto",
    holdout: Annotated[
        float, typer.Option(help="Share of rows held out, for a held-out evaluation.")
    ] = 0.3,
    refit: Annotated[
        bool,
        typer.Option(
            help="After the evaluation, fit the bundle's model on every row (--no-refit: keep "
            "the model fitted on the training part; implies a held-out evaluation)."
        ),
    ] = True,
    intervals: Annotated[
        str,
        typer.Option(
            help="none, or bootstrap: approximate 90% intervals from refits on resamples "
            "(for learners without their own; causal_forest has confidence intervals)."
        ),
    ] = "none",
    replicates: Annotated[
        int, typer.Option(help="Bootstrap refits for --intervals bootstrap (cost: fits × B).")
    ] = 20,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE, repeatable: a learner setting (n_trees=400, final_stage=forest, "
            "criterion=ED …) or a base-model parameter (learning_rate=0.1, n_estimators=200 …).",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bundle at --out.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    config: Annotated[
        str | None, typer.Option(help="Settings file (YAML); UPLIFT_* variables also apply.")
    ] = None,
) -> None:
    """Train an uplift model on a randomised campaign and write a self-contained bundle."""
    settings = load_settings(config)
    options = TrainOptions(
        treatment=treatment,
        control=control,
        outcome=outcome,
        exclude=split_list(exclude),
        keep_features=split_list(keep_feature),
        arm_map=parse_arm_map(arm_map or []),
        id_column=id,
        propensity=propensity,
        learner=learner,
        base=base,
        seed=seed,
        holdout_share=holdout,
        evaluation=evaluation,
        refit=refit,
        intervals=intervals,
        replicates=replicates,
        settings=parse_pairs(set_ or []),
    )
    with steps(not json) as say:
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(id or "customer_id",))
        result = train_bundle(table, options, out, settings, overwrite=overwrite, progress=say)
    if json:
        print_json(result.to_dict())
    else:
        print(describe_training(result))
