"""``uplift demo``: the whole loop on a simulated bank, told in a marketer's words.

The story is :mod:`uplift_engine.report.demo`'s; this command gives it the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.console import steps
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.report.demo import run_demo


@user_errors
def demo(
    customers: Annotated[int, typer.Option(help="Customers in the simulated bank.")] = 100_000,
    out: Annotated[str, typer.Option(help="Folder for everything the demo writes.")] = (
        "./demo-output"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the simulation and the models.")] = 42,
    learner: Annotated[
        str, typer.Option(help="auto, or a learner's name (see uplift train --help).")
    ] = "auto",
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Also show the statistics behind each step.")
    ] = False,
) -> None:
    """Run the end-to-end demo on embedded defaults: no server, no cloud account."""
    run_demo(
        load_settings(),
        customers=customers,
        out=Path(out),
        seed=seed,
        learner=learner,
        verbose=verbose,
        emit=print,
        steps=steps,
    )
