"""``uplift plan-report``: a plan before launch — offers, the funnel of rules, groups flagged."""

from __future__ import annotations

from typing import Annotated

import typer

from uplift_engine.cli.console import show_report
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.decide.planning import read_plan
from uplift_engine.decide.planning.plan_report import AGE_BANDS, FLAG_RATIO, plan_report
from uplift_engine.errors import UserInputError
from uplift_engine.lake import check_file_target, read_table, resolve


@user_errors
def plan_report_command(
    plan: Annotated[str, typer.Argument(help="Plan file from `uplift optimize`.")],
    customers: Annotated[
        str | None,
        typer.Option(help="Table of customer columns (segment, age …), joined on the plan's id."),
    ] = None,
    groups: Annotated[
        str | None,
        typer.Option(help="Comma-separated group columns (default: segment, age, region, "
                     "gender, whichever the table has)."),
    ] = None,
    age_bands: Annotated[
        str, typer.Option(help="Lower edges of the age bands, comma-separated.")
    ] = ",".join(map(str, AGE_BANDS)),
    flag_ratio: Annotated[
        float,
        typer.Option(help="Flag a group whose treated share is below this ratio of the overall "
                     "share, or above its inverse."),
    ] = FLAG_RATIO,
    out: Annotated[str | None, typer.Option(help="Write the report as JSON to this file.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Simulate a plan before launch: where the offers go, what removed whom, groups flagged."""
    settings = load_settings(config)
    try:
        bands = [int(b) for b in age_bands.split(",") if b.strip()]
    except ValueError:
        raise UserInputError(
            f"--age-bands must be whole numbers like 18,25,35, got {age_bands!r}",
            field="age_bands",
        ) from None
    if out is not None:
        check_file_target(resolve(out, settings))
    table, meta = read_plan(plan, settings)
    extra = (
        read_table(customers, settings, text_columns=(str(meta["id_column"]),))
        if customers
        else None
    )
    wanted = [g.strip() for g in groups.split(",") if g.strip()] if groups else None
    report = plan_report(table, meta, extra, groups=wanted, age_bands=bands, flag_ratio=flag_ratio)
    show_report(report, out, json, settings)
