"""``uplift evaluate``: how well a bundle targets, on a campaign table (and against the truth)."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer

from uplift_engine.cli.console import print_json, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.summary import describe_evaluation
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import DataError
from uplift_engine.evaluate import evaluate_uplift, truth_matrix
from uplift_engine.evaluate.truth_table import has_conditional_truth
from uplift_engine.lake import check_file_target, read_table, resolve
from uplift_engine.lake.layout import expected_column
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import ArmSet
from uplift_engine.learn.data.dataset import outcome_values, propensity_matrix
from uplift_engine.learn.data.roles import ROW_ID
from uplift_engine.learn.data.scoring import predict_batched


@user_errors
def evaluate(
    model_dir: Annotated[str, typer.Argument(help="Model bundle folder or s3:// URI.")],
    data: Annotated[str, typer.Argument(help="Campaign table with arm and outcome columns.")],
    truth: Annotated[
        str | None,
        typer.Option(
            help="Truth dataset (the simulator's truth/campaign_truth): PEHE, and the coverage "
            "of the model's intervals."
        ),
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Campaign id, when the truth holds several.")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Write the report as JSON here.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Qini, AUUC, uplift@k, calibration and policy value per offer, with bootstrap intervals."""
    settings = load_settings(config)
    if out is not None:
        check_file_target(resolve(out, settings))
    with steps(not json) as say:
        say(f"loading {model_dir}")
        bundle = load_bundle(model_dir, settings, threads=settings.threads)
        say(f"reading {data}")
        table = read_table(data, settings, text_columns=(str(bundle.columns["id"]),))
        columns = bundle.columns
        for role in ("treatment", "outcome"):
            if columns[role] not in table.column_names:
                raise DataError(
                    f"the data lacks the {role} column {columns[role]!r} the model was trained "
                    "with",
                    field=columns[role],
                )
        arms = ArmSet(
            column=columns["treatment"],
            names=tuple(bundle.arms),
            aliases=dict(columns.get("arm_map") or {}),
        )
        treatment = arms.encode(table.column(columns["treatment"]))
        y = outcome_values(table.column(columns["outcome"]), columns["outcome"])
        propensity = None
        if columns.get("propensity") and columns["propensity"] in table.column_names:
            received = outcome_values(table.column(columns["propensity"]), columns["propensity"])
            propensity = propensity_matrix(treatment, received, len(bundle.arms))
        say(f"scoring {table.num_rows:,} rows")
        levels, lower, upper = predict_batched(
            bundle, table, with_interval=bundle.intervals is not None
        )
        truth_levels = conditional = None
        if truth:
            say(f"reading the truth {truth}")
            id_name = str(columns["id"])
            if id_name in table.column_names:
                ids = table.column(id_name)
            elif id_name == ROW_ID:
                raise DataError("matching the truth needs an id column; the model has none")
            else:
                raise DataError(f"the data lacks the id column {id_name!r}", field=id_name)
            truth_table = read_table(truth, settings)
            outcome = str(columns["outcome"])
            truth_levels = truth_matrix(ids, id_name, truth_table, outcome, bundle.arms, campaign)
            if has_conditional_truth(truth_table, outcome, bundle.arms):
                conditional = truth_matrix(
                    ids, id_name, truth_table, outcome, bundle.arms, campaign, expected_column
                )
        say("computing metrics and bootstrap intervals")
        report = evaluate_uplift(
            treatment,
            y,
            levels[:, 1:] - levels[:, :1],
            bundle.offers,
            propensity=propensity,
            truth=truth_levels,
            conditional_truth=conditional,
            bounds=(lower, upper) if lower is not None and upper is not None else None,
            n_boot=bootstrap,
            seed=seed,
            threads=settings.threads,
        ).to_dict()
    report["model"] = {
        "bundle": model_dir,
        "learner": bundle.manifest["learner"]["name"],
        "intervals": bundle.intervals,
    }
    if out:
        resolve(out, settings).write_bytes(jsonlib.dumps(report, indent=2).encode())
    if json:
        print_json(report)
    else:
        print(describe_evaluation(report))
        if out:
            print(f"Report written to {out}")
