"""Kill ``uplift pipeline run`` with SIGKILL at random moments; after each, check what it left.

Shared by ``tests/test_pipeline_kill.py`` (a few kills, in CI) and
``benchmarks/pipeline_kills.py`` (many). Each run starts on a fresh release root (the lake is
shared, so the kills land in its generations too) and is killed at a random moment: half the
kills at a moment drawn uniformly over a whole run's duration, half within half a second of
the start of a step drawn at random (so that the short steps — register, promote — are hit
too); half the runs are killed again while resuming. After every kill: the lake's
committed generation reads and so does every table it lists; every alias points at a release
that loads and verifies; every run record is whole and every output it names is there and
whole; no release folder is half there. Then a run without a kill finishes the job: one
record, the decision and the gate figures of a run never killed, one registered version, and a
further run does nothing new.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from uplift_engine.decide.planning import read_plan
from uplift_engine.lake import read_table
from uplift_engine.lake.generations import read_current
from uplift_engine.lake.storage import resolve
from uplift_engine.learn import load_bundle
from uplift_engine.pipeline import registry
from uplift_engine.pipeline.run import STEPS
from uplift_engine.pipeline.run_records import load_runs
from uplift_engine.serve.release import load_release, read_pointer

UPLIFT = str(Path(sys.executable).parent / "uplift")


@dataclass
class KillReport:
    """What the kills found."""

    kills: int = 0
    steps_reached: dict[str, int] = field(default_factory=dict)
    """How many kills came when each step was the furthest recorded ("none": before any)."""
    seconds: float = 0.0
    reference_seconds: float = 0.0


def _start(config: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "UPLIFT_THREADS": "1"}
    return subprocess.Popen([UPLIFT, "pipeline", "run", "--config", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _kill(proc: subprocess.Popen, rng: random.Random, seconds: float) -> None:
    """SIGKILL ``proc`` at a random moment of a run of about ``seconds``, or in a random step."""
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0.3, seconds * 1.05))
    else:
        step = rng.choice(STEPS)
        assert proc.stdout is not None
        for line in proc.stdout:  # the run says "<step> …" as each step starts
            if line.decode().startswith(f"{step} "):
                break
        time.sleep(0.5 * rng.random() ** 2)  # mostly early: register and promote are short
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _run(config: Path) -> float:
    started = time.monotonic()
    proc = _start(config)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err.decode()
    return time.monotonic() - started


def check_consistent(lake: Path, root: Path) -> str | None:
    """Assert everything a killed run left is whole; the furthest step recorded (or None)."""
    current = read_current(resolve(str(lake)))
    if current is not None:
        for name, entry in current["datasets"].items():
            if entry["files"] and name.startswith("curated/"):
                read_table(str(lake / name))
    for pointer in root.glob("*.json"):
        load_release(root, read_pointer(root, pointer.stem), threads=1)
    for release in (root / "releases").glob("*"):
        if not release.name.startswith("."):
            load_bundle(release / "bundle", threads=1)
    records = load_runs(root)
    assert len(records) == len(list((root / "runs").glob("*.json")))
    furthest = None
    for record in records:
        steps = record["steps"]
        if "train" in steps:
            load_bundle(steps["train"]["bundle"], threads=1)
        if "plan" in steps:
            read_plan(steps["plan"]["plan"])
        if "register" in steps:
            assert registry.record(root, steps["register"]["release"]) is not None
        if steps:  # the record's steps are saved in name order: the furthest by the run's
            furthest = max(steps, key=STEPS.index)
    return furthest


def kill_runs(lake: Path, work: Path, config: dict, *, kills: int, seed: int = 11) -> KillReport:
    """``kills`` runs, each on a fresh release root, killed at a random moment and resumed.

    Half of the resumed runs are killed again before they finish. After every kill everything
    is checked whole; each run, once finished, must match a run never killed, and one more run
    on it must do nothing new.
    """
    report = KillReport()
    reference_config = {**config, "releases": str(work / "reference")}
    (work / "reference.yaml").write_text(yaml.safe_dump(reference_config))
    report.reference_seconds = _run(work / "reference.yaml")
    (reference,) = load_runs(work / "reference")
    rng = random.Random(seed)
    started = time.monotonic()
    for i in range(kills):
        root = work / f"killed-{i}"
        path = work / f"killed-{i}.yaml"
        path.write_text(yaml.safe_dump({**config, "releases": str(root)}))
        for _ in range(1 + (rng.random() < 0.5)):
            _kill(_start(path), rng, report.reference_seconds)
            step = check_consistent(lake, root) or "none"
            report.steps_reached[step] = report.steps_reached.get(step, 0) + 1
            report.kills += 1
        _run(path)
        _check_finished(lake, root, path, reference)
    report.seconds = time.monotonic() - started
    return report


def _check_finished(lake: Path, root: Path, path: Path, reference: dict) -> None:
    check_consistent(lake, root)
    (record,) = load_runs(root)
    assert record["status"] == "done"
    assert record["decision"].split(" ")[0] == reference["decision"].split(" ")[0]
    # the same model (its version holds its creation time): the same gate figures, to the bit
    assert record["steps"]["gate"]["candidate"] == reference["steps"]["gate"]["candidate"]
    assert record["steps"]["gate"]["difference"] == reference["steps"]["gate"]["difference"]
    registered = [v for v in registry.versions(root) if v.record is not None]
    expected = 1 if "register" in record["steps"] else 0
    assert len(registered) == len(registry.versions(root)) == expected
    again = subprocess.run([UPLIFT, "pipeline", "run", "--config", str(path)],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0 and "nothing new" in again.stdout, again.stdout + again.stderr
    assert len(load_runs(root)) == 1
