"""``uplift dashboard``: the web dashboard over a release root and what else the product wrote."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.serve import api_keys
from uplift_engine.errors import UserInputError

if TYPE_CHECKING:
    from uplift_engine.report.dashboard.data import Sources

ReleasesOption = Annotated[str, typer.Option(help="The release root (registry, runs, plans).")]
LakeOption = Annotated[
    str | None, typer.Option(help="The lake holding the compacted decision log.")
]
MeasurementOption = Annotated[
    str | None, typer.Option(help="A campaign's measurement (uplift measure --out).")
]
BudgetCurveOption = Annotated[
    str | None, typer.Option(help="A budget curve (uplift budget-curve --out FILE.json).")
]


def sources_from(
    releases: str,
    lake: str | None = None,
    measurement: str | None = None,
    budget_curve: str | None = None,
    service: str | None = None,
    service_key: str | None = None,
) -> Sources:
    """What the dashboard, the report and the kit read, each given file checked to exist."""
    from uplift_engine.report.dashboard.data import Sources

    for name, path in (("measurement", measurement), ("budget_curve", budget_curve)):
        if path is not None and not Path(path).is_file():
            raise UserInputError(f"no file {path!r}", field=name)
    if not Path(releases).is_dir():
        raise UserInputError(f"no release root {releases!r}", field="releases")
    return Sources(
        Path(releases), lake,
        None if measurement is None else Path(measurement),
        None if budget_curve is None else Path(budget_curve), service, service_key,
    )  # fmt: skip


@user_errors
def dashboard(
    releases: ReleasesOption,
    lake: LakeOption = None,
    measurement: MeasurementOption = None,
    budget_curve: BudgetCurveOption = None,
    service: Annotated[
        str | None, typer.Option(help="A running decision service's URL (its /metrics).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8050,
) -> None:
    """The dashboard (models, targeting, budget, campaign, operations); keys: UPLIFT_API_KEYS.

    With --service, the service's metrics are read with the first key (the same keys).
    """
    import uvicorn

    from uplift_engine.report.dashboard.app import create_dashboard

    keys = api_keys(host, "the dashboard")
    sources = sources_from(
        releases, lake, measurement, budget_curve, service, keys[0] if keys else None
    )
    print(f"dashboard on http://{host}:{port}", flush=True)
    uvicorn.run(create_dashboard(sources, keys), host=host, port=port, log_level="warning")
