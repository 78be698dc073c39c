"""``uplift features …``: build, materialise, ingest and check features."""

from __future__ import annotations

import typer

from uplift_engine.cli.features_offline import build
from uplift_engine.cli.features_online import check, ingest, materialize

app = typer.Typer(
    name="features",
    help="Feature store: point-in-time training sets, the online store, streaming windows.",
    no_args_is_help=True,
)
app.command("build")(build)
app.command("materialize")(materialize)
app.command("ingest")(ingest)
app.command("check")(check)
