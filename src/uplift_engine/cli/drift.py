"""``uplift drift``: how far the population has moved since the model was trained."""

from __future__ import annotations

from typing import Annotated

import typer

from uplift_engine.cli.console import show_report
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import UserInputError
from uplift_engine.lake import check_file_target, read_table, resolve


@user_errors
def drift(
    model: Annotated[str, typer.Option(help="The model bundle whose features and scores.")],
    reference: Annotated[str, typer.Option(help="The data it was trained on (campaign table).")],
    current: Annotated[
        str | None, typer.Option(help="Recent traffic: a table of the same features.")
    ] = None,
    decisions: Annotated[
        str | None, typer.Option(help="A lake whose compacted decision log gives recent scores.")
    ] = None,
    max_psi: Annotated[
        float, typer.Option(help="Retrain when a feature's PSI passes this.")
    ] = 0.25,
    max_drifted: Annotated[
        int, typer.Option(help="Retrain when this many features have drifted.")
    ] = 3,
    out: Annotated[str | None, typer.Option(help="Write the report as JSON to this file.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Drift of every feature and uplift score: PSI, a test or distance, unseen categories."""
    from uplift_engine.learn import load_bundle
    from uplift_engine.pipeline.drift_report import drift_report
    from uplift_engine.serve.compact import read_decisions

    settings = load_settings(config)
    if current is None and decisions is None:
        raise UserInputError("give --current TABLE and/or --decisions LAKE", field="current")
    if out is not None:
        check_file_target(resolve(out, settings))
    bundle = load_bundle(model, threads=settings.threads)
    logged = None
    if decisions is not None:
        logged = read_decisions(decisions, settings)
        if logged.num_rows == 0:
            raise UserInputError(f"no compacted decisions in {decisions!r}", field="decisions")
    report = drift_report(
        bundle, read_table(reference, settings),
        read_table(current, settings) if current else None,
        decisions=logged, max_psi=max_psi, max_drifted=max_drifted,
    )  # fmt: skip
    show_report(report, out, json, settings, confirm=False)
