"""``uplift pipeline``: retrain with a gate and promote (run), on new data (watch), and status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.console import print_json
from uplift_engine.cli.errors import user_errors
from uplift_engine.config.settings import load_settings
from uplift_engine.errors import ConfigError

app = typer.Typer(help="Retraining: new data → features → train → gate → register → promote.")
ConfigOption = Annotated[str, typer.Option(help="Pipeline config (YAML/JSON, docs/pipeline.md).")]
SettingsOption = Annotated[str | None, typer.Option(help="Settings file (YAML).")]


@app.command("run")
@user_errors
def run_command(
    config: ConfigOption,
    json: Annotated[bool, typer.Option("--json", help="Print the run record as JSON.")] = False,
    settings: SettingsOption = None,
) -> None:
    """Run the pipeline once (or resume a run that was stopped); nothing new on the same inputs."""
    from uplift_engine.pipeline.pipeline_config import load_pipeline_config
    from uplift_engine.pipeline.run import run_pipeline

    record, _ = run_pipeline(
        load_pipeline_config(config), load_settings(settings), say=None if json else _say
    )
    if json:
        print_json(record)


@app.command("watch")
@user_errors
def watch_command(
    config: ConfigOption,
    every: Annotated[float, typer.Option(help="Seconds between looks at the lake.")] = 60.0,
    schedule: Annotated[
        float | None, typer.Option(help="Also run every this many seconds, new data or not.")
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option(help="Stop after this many runs (default: never).")
    ] = None,
    settings: SettingsOption = None,
) -> None:
    """Run the pipeline whenever a new partition lands in the lake (and on a schedule)."""
    from uplift_engine.pipeline.pipeline_config import load_pipeline_config
    from uplift_engine.pipeline.watch import watch

    if not every > 0:
        raise ConfigError(f"--every must be positive, got {every:g}", field="every")
    if schedule is not None and not schedule > 0:
        raise ConfigError(f"--schedule must be positive, got {schedule:g}", field="schedule")
    if max_runs is not None and max_runs < 1:
        raise ConfigError(f"--max-runs must be at least 1, got {max_runs}", field="max_runs")
    watch(load_pipeline_config(config), load_settings(settings), every=every,
          schedule=schedule, max_runs=max_runs, say=_say)  # fmt: skip


@app.command("status")
@user_errors
def status_command(
    config: Annotated[str | None, typer.Option(help="Pipeline config (its release root).")] = None,
    root: Annotated[str | None, typer.Option(help="Or the release root itself.")] = None,
    runs: Annotated[int, typer.Option(help="How many of the latest runs to show.")] = 5,
    json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """The latest runs and their verdicts, the champion and challenger, the drift."""
    from uplift_engine.pipeline.pipeline_config import load_pipeline_config
    from uplift_engine.pipeline.status import pipeline_status, status_lines

    if (config is None) == (root is None):
        raise ConfigError("give --config or --root", field="config")
    if config is not None:
        loaded = load_pipeline_config(config)
        root = loaded.path(loaded.releases)
    status = pipeline_status(Path(str(root)), runs=max(1, runs))
    if json:
        print_json(status)
        return
    print("\n".join(status_lines(status)))


def _say(message: str) -> None:
    print(message, flush=True)
