"""``uplift measure``: what a campaign really added, against its random holdout, with intervals."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import pyarrow.compute as pc
import typer

from uplift_engine.cli.console import print_json, split_list
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.decide.planning import read_plan
from uplift_engine.errors import UserInputError
from uplift_engine.lake import check_file_target, read_table, resolve
from uplift_engine.learn.data.scores_files import read_scores
from uplift_engine.report.campaign_measurement import measure_campaign


@user_errors
def measure(
    plan: Annotated[str, typer.Argument(help="The plan the campaign ran from (uplift optimize).")],
    outcomes: Annotated[
        str, typer.Argument(help="Outcomes: the plan's id, converted (0/1), optionally revenue.")
    ],
    scores: Annotated[
        str | None,
        typer.Option(help="The scores the plan was made from: per-offer split, calibration, and "
                     "the model's baseline as a covariate."),
    ] = None,
    customers: Annotated[
        str | None, typer.Option(help="Table of customer columns (segments, covariates).")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Measure within each value of it.")] = None,
    covariates: Annotated[
        str | None,
        typer.Option(help="Comma-separated pre-campaign columns for the regression adjustment."),
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="The campaign_id to keep when the outcomes hold several.")
    ] = None,
    level: Annotated[float, typer.Option(help="Level of the intervals.")] = 0.9,
    out: Annotated[str | None, typer.Option(help="Write the report as JSON to this file.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Measure a campaign: incremental conversions, revenue, profit and ROI with intervals."""
    settings = load_settings(config)
    if not 0.5 <= level < 1:
        raise UserInputError(f"--level must be in [0.5, 1), got {level}", field="level")
    if out is not None:
        check_file_target(resolve(out, settings))
    table, meta = read_plan(plan, settings)
    id_column = str(meta["id_column"])
    results = read_table(outcomes, settings, text_columns=(id_column,))
    if "campaign_id" in results.column_names:
        found = sorted(set(results.column("campaign_id").to_pylist()))
        if campaign is None and len(found) > 1:
            raise UserInputError(
                f"the outcomes hold {len(found)} campaigns ({', '.join(map(str, found[:5]))}); "
                "give --campaign",
                field="campaign",
            )
        if campaign is not None:
            if campaign not in found:
                raise UserInputError(
                    f"no outcomes of campaign {campaign!r} (found {', '.join(map(str, found))})",
                    field="campaign",
                )
            results = results.filter(pc.equal(results.column("campaign_id"), campaign))
    scored = read_scores(scores, settings)[0] if scores else None
    extra = read_table(customers, settings, text_columns=(id_column,)) if customers else None
    report = measure_campaign(
        table, meta, results, scores=scored, customers=extra, segment=segment,
        covariates=split_list(covariates), level=level,
    )  # fmt: skip
    if out is not None:
        resolve(out, settings).write_bytes(jsonlib.dumps(report.to_dict(), indent=2).encode())
    if json:
        print_json(report.to_dict())
        return
    print("\n".join(report.lines()))
    if out is not None:
        print(f"Report written to {out}")
