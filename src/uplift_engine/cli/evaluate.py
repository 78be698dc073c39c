"""``uplift evaluate``: how well a bundle targets, on a campaign table (and against the truth)."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer

from uplift_engine.cli.console import print_json, steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.evaluate import evaluate_bundle
from uplift_engine.lake import check_file_target, read_table, resolve
from uplift_engine.learn import load_bundle
from uplift_engine.report.summaries import describe_evaluation


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
        table = read_table(data, settings, text_columns=(bundle.columns.id,))
        truth_table = None
        if truth:
            say(f"reading the truth {truth}")
            truth_table = read_table(truth, settings)
        report = evaluate_bundle(
            bundle,
            table,
            truth=truth_table,
            campaign=campaign,
            n_boot=bootstrap,
            seed=seed,
            threads=settings.threads,
            progress=say,
        )
    report["model"] = {"bundle": model_dir, **report["model"]}
    if out:
        resolve(out, settings).write_bytes(jsonlib.dumps(report, indent=2).encode())
    if json:
        print_json(report)
    else:
        print(describe_evaluation(report))
        if out:
            print(f"Report written to {out}")
