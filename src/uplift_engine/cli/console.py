"""Output helpers for the CLI: a console on stderr for progress, plain stdout for results."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


def split_list(value: str | None) -> tuple[str, ...]:
    """``"a,b, c"`` → ``("a", "b", "c")``."""
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def moment_option(text: str, option: str) -> int:
    """An ISO time with a zone given to ``--<option>``, in epoch microseconds (UTC)."""
    from uplift_engine.errors import UserInputError
    from uplift_engine.features.streaming.schema import epoch_us

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(
            f"--{option} must be an ISO time like 2026-12-01T09:30:00+07:00, got {text!r}",
            field=option,
        ) from None
    if moment.tzinfo is None:
        raise UserInputError(
            f"--{option} needs a time zone (e.g. +07:00 or Z), got {text!r}", field=option
        )
    return epoch_us(moment)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


class Report(Protocol):
    """A report as data and as lines for the terminal (measure, plan-report, drift)."""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        ...

    def lines(self) -> list[str]:
        """The report for the terminal."""
        ...


def show_report(
    report: Report, out: str | None, as_json: bool, settings: Any, *, confirm: bool = True
) -> None:
    """Write ``report`` as JSON to ``out`` (if given), then print it as JSON or as lines.

    ``confirm``: say where the report was written after its lines.
    """
    from uplift_engine.lake import resolve

    if out is not None:
        resolve(out, settings).write_bytes(json.dumps(report.to_dict(), indent=2).encode())
    if as_json:
        print_json(report.to_dict())
        return
    print("\n".join(report.lines()))
    if out is not None and confirm:
        print(f"Report written to {out}")


@contextlib.contextmanager
def steps(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step and the elapsed time (on stderr, when it is a terminal)."""
    if not (enabled and err.is_terminal):
        yield lambda _: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda text: progress.update(task, description=text)


@contextlib.contextmanager
def bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar fed with ``(done, total)`` (on stderr, when it is a terminal)."""
    with bar_and_steps(label, enabled) as (progress, _):
        yield progress


@contextlib.contextmanager
def bar_and_steps(
    label: str, enabled: bool = True
) -> Iterator[tuple[Callable[[int, int], None], Callable[[str], None]]]:
    """A progress bar fed with ``(done, total)``, and a ``say`` that retitles it (stderr)."""
    if not (enabled and err.is_terminal):
        yield (lambda _done, _total: None), (lambda _text: None)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield (
            lambda done, total: progress.update(task, completed=done, total=total),
            lambda text: progress.update(task, description=text),
        )
