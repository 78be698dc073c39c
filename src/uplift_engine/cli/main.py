"""The ``uplift`` command: one sub-command per verb, each a thin composition of the layers."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import traceback
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
        contacts,
        dashboard,
        decide,
        demo,
        drift,
        evaluate,
        explain,
        features,
        kit,
        measure,
        optimize,
        pipeline,
        plan_report,
        registry,
        report,
        score,
        serve,
        simulate,
        train,
        why,
    )

    app.command("simulate")(simulate.simulate)
    app.command("train")(train.train)
    app.command("score")(score.score)
    app.command("evaluate")(evaluate.evaluate)
    app.command("explain")(explain.explain)
    app.command("optimize")(optimize.optimize)
    app.command("plan-report")(plan_report.plan_report_command)
    app.command("measure")(measure.measure)
    app.command("compare-plans")(measure.compare_plans_command)
    app.command("budget-curve")(measure.budget_curve_command)
    app.command("decide")(decide.decide)
    app.command("why")(why.why)
    app.command("drift")(drift.drift)
    app.command("dashboard")(dashboard.dashboard)
    app.command("report")(report.report)
    app.command("kit")(kit.kit)
    app.command("rehearse")(kit.rehearse)
    app.command("demo")(demo.demo)
    app.add_typer(features.app, name="features")
    app.add_typer(contacts.app, name="contacts")
    app.command("serve")(serve.serve)
    app.add_typer(serve.release_app, name="release")
    app.add_typer(registry.app, name="registry")
    app.add_typer(pipeline.app, name="pipeline")
    app.add_typer(serve.decisions_app, name="decisions")


_register()


def run() -> None:
    """Console-script entry point: the command's own exit code, every time.

    The process ends with ``os._exit`` once Python's exit handlers have run and the output is
    flushed. Native libraries may still hold threads at that point (Arrow's CSV readers that an
    error interrupted, OpenMP pools); letting the C++ runtime tear down its statics under them
    can abort the process ("terminate called without an active exception", exit 134) after
    the command has finished. A user error exits 2, an unavailable store 1, success 0.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # a defect: show it, but still leave cleanly
        traceback.print_exc()
        code = 1
    _leave(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _leave(code: int) -> None:
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
