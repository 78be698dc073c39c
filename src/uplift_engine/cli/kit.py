"""``uplift kit`` and ``uplift rehearse``: the presentation kit, generated, and its timer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uplift_engine.cli.dashboard import MeasurementOption, ReleasesOption, sources_from
from uplift_engine.cli.errors import user_errors
from uplift_engine.errors import UserInputError


@user_errors
def kit(
    releases: ReleasesOption,
    out: Annotated[str, typer.Option(help="The folder to write into (e.g. docs/).")],
    lang: Annotated[str, typer.Option(help="en or vi.")] = "en",
    measurement: MeasurementOption = None,
) -> None:
    """architecture.png drawn from the components' description, and the slide deck PDF."""
    from uplift_engine.report.dashboard.labels import LANGUAGES
    from uplift_engine.report.slides import write_kit

    if lang not in LANGUAGES:
        raise UserInputError(f"--lang is one of {', '.join(LANGUAGES)}, got {lang!r}", field="lang")
    sources = sources_from(releases, measurement=measurement)
    for path in write_kit(sources, Path(out), lang):
        print(f"wrote {path}")


@user_errors
def rehearse(
    minutes: Annotated[float, typer.Option(help="The length of the talk.")] = 5.0,
    schedule: Annotated[
        str, typer.Option(help="The dry-run schedule (a Markdown table).")
    ] = "docs/dry_run_schedule.md",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the timed plan and exit.")
    ] = False,
) -> None:
    """A timer for the talk: each segment announced, counted down, the next one warned."""
    from uplift_engine.report.rehearsal import read_schedule, rehearse, scale

    segments = scale(read_schedule(Path(schedule)), minutes)
    if dry_run:
        for s in segments:
            print(f"{s.minutes * 60:6.0f} s  {s.title} — {s.show}")
        return
    rehearse(segments, say=lambda line: print(line, flush=True))
