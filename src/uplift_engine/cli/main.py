"""The ``uplift`` command: one sub-command per verb, each a thin composition of the layers."""

from __future__ import annotations

import os
from typing import Annotated

# Before LightGBM loads its OpenMP runtime: idle threads sleep instead of spinning, which
# matters on small shared machines (2 cores) and on Lambda.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from uplift_engine import __version__

app = typer.Typer(
    name="uplift",
    help="Uplift Engine: which customer should get which offer, if any.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uplift-engine {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Uplift Engine: which customer should get which offer, if any."""


def _register() -> None:
    from uplift_engine.cli import (
        demo,
        evaluate,
        explain,
        features,
        optimize,
        score,
        simulate,
        train,
    )

    app.command("simulate")(simulate.simulate)
    app.command("train")(train.train)
    app.command("score")(score.score)
    app.command("evaluate")(evaluate.evaluate)
    app.command("explain")(explain.explain)
    app.command("optimize")(optimize.optimize)
    app.command("demo")(demo.demo)
    app.add_typer(features.app, name="features")


_register()


def run() -> None:
    """Console-script entry point."""
    app()
