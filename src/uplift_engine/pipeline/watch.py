"""``uplift pipeline watch``: run the pipeline when a new partition lands, or on a schedule.

The lake's raw datasets are polled every ``every`` seconds (local folder or S3 prefix: their
visible files and sizes, :func:`~uplift_engine.pipeline.run_records.inputs`); a change starts a
run, and so does ``schedule`` seconds passing since the last one. A run on inputs already taken
does nothing new, so a schedule costs only the look. A failed run is reported and the watch goes
on (the next change or tick retries it, resuming where it stopped). The cloud wiring (an S3
event or an EventBridge schedule starting the same run) comes with the AWS deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from uplift_engine.config.settings import Settings
from uplift_engine.errors import UpliftError
from uplift_engine.pipeline import run_records as records
from uplift_engine.pipeline.pipeline_config import PipelineConfig
from uplift_engine.pipeline.run import run_pipeline


def watch(
    config: PipelineConfig,
    settings: Settings,
    *,
    every: float = 60.0,
    schedule: float | None = None,
    max_runs: int | None = None,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Watch and run until ``max_runs`` runs have started (forever when None); their records."""
    lake = config.path(config.lake)
    seen: str | None = None
    last_run = float("-inf")
    done: list[dict[str, Any]] = []
    while max_runs is None or len(done) < max_runs:
        current = records.inputs(lake, settings)["sha256"]
        due = schedule is not None and time.monotonic() - last_run >= schedule
        if current != seen or due:
            say("new data in the lake" if current != seen else "scheduled run")
            last_run = time.monotonic()
            try:
                record, _ = run_pipeline(config, settings, say=say)
            except UpliftError as exc:
                say(f"the run failed: {exc}")
                record = {"status": "failed", "error": str(exc)}
            else:
                seen = current
            done.append(record)
            continue
        sleep(every)
    return done
