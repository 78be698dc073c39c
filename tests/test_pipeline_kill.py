"""A pipeline run killed with SIGKILL at random moments leaves the lake and the registry whole.

A few kills here (CI); ``benchmarks/pipeline_kills.py`` runs many and writes the count into
docs/pipeline.md. See :mod:`pipeline_kills` for what is checked after each.
"""

from __future__ import annotations

from pathlib import Path

from pipeline_kills import kill_runs
from pipeline_lake import config, land, source

RUNS = 4


def test_a_run_killed_at_random_moments_resumes_to_the_same_result(tmp_path: Path) -> None:
    src = source(tmp_path / "source", 4_000, campaigns=("c1",))
    lake = tmp_path / "lake"
    land(src, lake, "c1", first=True)
    report = kill_runs(lake, tmp_path, config(lake, tmp_path / "unused"), kills=RUNS)
    assert RUNS <= report.kills <= 2 * RUNS
    assert sum(report.steps_reached.values()) == report.kills
