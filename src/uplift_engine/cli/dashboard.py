"""``uplift dashboard``: the web dashboard over a release root and what else the product wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.errors import user_errors
from uplift_engine.cli.serve import api_keys
from uplift_engine.errors import UserInputError


@user_errors
def dashboard(
    releases: Annotated[str, typer.Option(help="The release root (registry, runs, plans).")],
    lake: Annotated[
        str | None, typer.Option(help="The lake holding the compacted decision log.")
    ] = None,
    measurement: Annotated[
        str | None, typer.Option(help="A campaign's measurement (uplift measure --out).")
    ] = None,
    budget_curve: Annotated[
        str | None, typer.Option(help="A budget curve (uplift budget-curve --out FILE.json).")
    ] = None,
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
    from uplift_engine.report.dashboard.data import Sources

    keys = api_keys(host, "the dashboard")
    for name, path in (("measurement", measurement), ("budget_curve", budget_curve)):
        if path is not None and not Path(path).is_file():
            raise UserInputError(f"no file {path!r}", field=name)
    if not Path(releases).is_dir():
        raise UserInputError(f"no release root {releases!r}", field="releases")
    sources = Sources(
        Path(releases), lake,
        None if measurement is None else Path(measurement),
        None if budget_curve is None else Path(budget_curve), service,
        keys[0] if keys else None,
    )  # fmt: skip
    print(f"dashboard on http://{host}:{port}", flush=True)
    uvicorn.run(create_dashboard(sources, keys), host=host, port=port, log_level="warning")
