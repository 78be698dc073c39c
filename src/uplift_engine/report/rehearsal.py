"""``uplift rehearse``: a presentation's timer, following the dry-run schedule's table.

The schedule is a Markdown table whose rows are ``| minutes | segment | what to show |``
(docs/dry_run_schedule.md); :func:`read_schedule` reads it, :func:`scale` fits it to the time
given, and :func:`rehearse` announces each segment, counts it down and warns before the next.
Pure Python with an injectable clock, so it runs alike on Linux, macOS and Windows and is tested
without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uplift_engine.errors import ConfigError

WARN_SECONDS = 15.0


@dataclass(frozen=True)
class Segment:
    """One part of the talk."""

    minutes: float
    title: str
    show: str


def read_schedule(path: Path) -> list[Segment]:
    """The segments of the schedule's table (rows whose first cell is a number of minutes)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the schedule {str(path)!r}: {exc.strerror}",
                          field="schedule") from exc  # fmt: skip
    out = []
    for number, line in enumerate(lines, start=1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.strip().startswith("|") or len(cells) < 2:
            continue
        try:
            minutes = float(cells[0])
        except ValueError:
            continue  # the header, the rule
        if not minutes > 0:
            raise ConfigError(f"{path.name} line {number}: minutes must be positive, got "
                              f"{cells[0]!r}", field="schedule")  # fmt: skip
        out.append(Segment(minutes, cells[1], cells[2] if len(cells) > 2 else ""))
    if not out:
        raise ConfigError(f"{str(path)!r} has no '| minutes | segment | … |' rows",
                          field="schedule")  # fmt: skip
    return out


def scale(segments: list[Segment], minutes: float) -> list[Segment]:
    """The segments stretched or shrunk to ``minutes`` in all, in the same proportions."""
    if not 0 < minutes <= 600:
        raise ConfigError(f"--minutes must be above 0 and at most 600, got {minutes:g}",
                          field="minutes")  # fmt: skip
    total = sum(s.minutes for s in segments)
    return [Segment(s.minutes * minutes / total, s.title, s.show) for s in segments]


def rehearse(
    segments: list[Segment],
    *,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: float = 1.0,
) -> float:
    """Run the timer; the seconds it took by ``clock``."""
    started = clock()
    end = started
    for k, segment in enumerate(segments, start=1):
        end += segment.minutes * 60
        say(f"[{_mmss(clock() - started)}] {k}/{len(segments)} {segment.title} "
            f"({_mmss(segment.minutes * 60)}) — {segment.show}")  # fmt: skip
        warned = k == len(segments)
        while (left := end - clock()) > 0:
            if not warned and left <= WARN_SECONDS:
                say(f"    {left:.0f} s left: next, {segments[k].title}")
                warned = True
            sleep(min(tick, left))
    say(f"[{_mmss(clock() - started)}] time — thank you")
    return clock() - started


def _mmss(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
