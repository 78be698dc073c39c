"""``uplift features build``: the point-in-time training set (campaign table) of a campaign."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from uplift_engine.cli.console import print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import UserInputError


@user_errors
def build(
    campaign: Annotated[
        list[str], typer.Option(help="Campaign id to build (repeat the option for several).")
    ],
    lake: Annotated[
        str | None, typer.Option(help="Lake folder or s3:// URI (default: the settings' lake).")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="auto (Spark above spark_threshold_bytes of events), duckdb or spark."),
    ] = "auto",
    out: Annotated[
        str | None,
        typer.Option(help="Output folder, one campaign only (default: the lake's curated/)."),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB's memory limit, e.g. 4GB (it spills beyond).")
    ] = "4GB",
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Build each customer's features as of their assignment time, never after it.

    Writes one row per valid assignment (customers without history get 0 counts and null
    averages) to LAKE/curated/campaign_table/<campaign>/, on DuckDB or Spark.
    """
    from uplift_engine.features.offline.engines import build_training_sets
    from uplift_engine.lake import check_folder_target, resolve

    settings = load_settings(config)
    if out is not None and len(campaign) != 1:
        raise UserInputError(
            f"--out takes one campaign, got {len(campaign)}: {', '.join(campaign)}", field="out"
        )
    if out is not None:
        check_folder_target(resolve(out, settings))
    choice, summaries = build_training_sets(
        lake or settings.lake.uri,
        campaign,
        settings,
        engine=engine,
        out_uris=[out] if out else None,
        memory_limit=memory_limit,
    )
    summary: dict[str, Any] = {
        **choice.to_dict(),
        "campaign_tables": [s.to_dict() for s in summaries],
    }
    if json:
        print_json(summary)
        return
    print(f"Engine: {choice.engine} ({choice.reason})")
    for s in summaries:
        bad = sum(s.quarantined.values())
        print(
            f"Campaign table {s.campaign_id}: {s.rows:,} rows, {len(s.features)} features "
            f"as of assignment → {s.path} ({s.seconds:.1f} s; {bad:,} raw rows quarantined)"
        )
