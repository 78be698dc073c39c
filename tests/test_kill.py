"""kill -9 at many moments: what we persist stays whole (the old or the new), nothing is left.

Every test here kills real processes (a library loop, or the ``uplift`` command itself) at many
points of a write and checks the invariant after each kill: a bundle that loads and is the old
or the new one, a plan whose metadata belongs to its rows, a lake whose raw data and campaign
table come from the same run, workers that die with their parent, and no temporary left once
the next run is done.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from synthetic import make_campaign, save_bundle
from uplift_engine.learn import load_bundle
from uplift_engine.learn.data import fit_encoder
from uplift_engine.learn.training import BoosterParams, TLearner

pytestmark = pytest.mark.slow
UPLIFT = str(Path(sys.executable).parent / "uplift")
SEED = 20261206


def spawn(code: str) -> subprocess.Popen:
    """A Python child running ``code``; it prints 'ready' once it has done one write."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def leftovers(folder: Path) -> list[str]:
    """Hidden temporaries (staged files or folders, swapped-out old folders) in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def manifest_sha(folder: Path) -> str:
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


# --- bundles --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_bundles(tmp_path_factory) -> tuple[Path, Path]:
    data = make_campaign(n=3_000, seed=3)
    table = pa.table({f"x{j}": data.X[:, j] for j in range(6)})
    encoder = fit_encoder(table, table.column_names)
    X = encoder.transform({n: table.column(n) for n in encoder.names})
    folders = []
    for n_estimators in (20, 60):
        model = TLearner(params=BoosterParams(n_estimators=n_estimators), seed=1)
        folder = tmp_path_factory.mktemp("bundles") / f"model{n_estimators}"
        save_bundle(model.fit(X, data.treatment, data.y), encoder, folder)
        folders.append(folder)
    return folders[0], folders[1]


def test_bundle_replaced_under_kill_is_old_or_new(two_bundles, tmp_path: Path) -> None:
    old, new = two_bundles
    target = tmp_path / "model"
    shutil.copytree(old, target)
    expected = {manifest_sha(old), manifest_sha(new)}
    rng = random.Random(SEED)
    writer = f"""
        from uplift_engine.learn import load_bundle
        from uplift_engine.learn.training import write_bundle
        bundles = [load_bundle({str(old)!r}), load_bundle({str(new)!r})]
        i = 0
        while True:
            b = bundles[i % 2]
            write_bundle(b.manifest, b.graph, {str(target)!r}, overwrite=True)
            if i == 0:
                print("ready", flush=True)
            i += 1
    """
    for _ in range(12):
        proc = spawn(writer)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.25))
        kill(proc)
        bundle = load_bundle(target)  # whole: every checksum verified
        assert bundle.offers == ["cash", "fee"]
        assert manifest_sha(target) in expected
    from uplift_engine.learn.training import write_bundle

    loaded = load_bundle(new)  # the next run replaces the target and sweeps what kills left
    write_bundle(loaded.manifest, loaded.graph, target, overwrite=True)
    assert leftovers(tmp_path) == []
    assert manifest_sha(target) == manifest_sha(new)


def test_train_overwrite_killed_as_it_stages(tmp_path: Path) -> None:
    """The reported case: ``uplift train --overwrite`` killed when its staging folder appears."""
    data = make_campaign(n=2_000, seed=4)
    csv = tmp_path / "campaign.csv"
    arms = np.array(["none", "cash", "fee"])[data.treatment]
    columns = {f"x{j}": data.X[:, j] for j in range(5)} | {"arm": arms, "y": data.y}
    pacsv.write_csv(pa.table(columns), csv)
    out = tmp_path / "model"
    train = [UPLIFT, "train", str(csv), "--treatment", "arm", "--control", "none"]
    train += ["--outcome", "y", "--learner", "t_learner", "--out", str(out), "--overwrite"]
    subprocess.run(train, check=True, capture_output=True)
    seen = {manifest_sha(out)}
    for delay in (0.0, 0.0005, 0.002, 0.01):
        proc = subprocess.Popen(train, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".model.tmp-") for p in tmp_path.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "no staging folder seen"
            time.sleep(0.0002)
        time.sleep(delay)
        kill(proc)
        load_bundle(out)
        seen.add(manifest_sha(out))
    assert len(seen) <= 5  # each state is the old bundle or one finished new one
    subprocess.run(train, check=True, capture_output=True)
    assert leftovers(tmp_path) == []
    load_bundle(out)


# --- plans (a CSV and its metadata) ------------------------------------------------------------


def test_plan_csv_and_its_metadata_stay_together_under_kill(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    writer = f"""
        import numpy as np, pyarrow as pa
        from uplift_engine.decide.planning.plan import plan_table, write_plan
        plans = []
        for budget, n in ((100.0, 3), (250.0, 5)):
            table = plan_table(pa.array(np.arange(n)), "customer_id", ["cash"],
                               np.zeros(n, int), np.ones(n), np.full(n, budget / n),
                               pa.array([""] * n), np.zeros(n, bool))
            plans.append((table, {{"budget": budget, "rows": n}}))
        i = 0
        while True:
            write_plan(*plans[i % 2], {str(target)!r})
            if i == 0:
                print("ready", flush=True)
            i += 1
    """
    from uplift_engine.decide.planning.plan import read_plan

    rng = random.Random(SEED)
    for _ in range(10):
        proc = spawn(writer)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.2))
        kill(proc)
        table, meta = read_plan(target)
        assert table.num_rows == meta["rows"]
        assert sum(table.column("expected_cost").to_pylist()) == pytest.approx(meta["budget"])
    from uplift_engine.decide.planning.plan import write_plan

    write_plan(table, meta, target)  # the next run sweeps what the killed writers left
    assert leftovers(tmp_path) == []


# --- the lake: one command, one generation ------------------------------------------------------


def _simulate(lake: Path, seed: int) -> list[str]:
    return [UPLIFT, "simulate", "--customers", "3000", "--seed", str(seed), "--out", str(lake),
            "--workers", "1", "--json"]  # fmt: skip


def _state(lake: Path) -> tuple[tuple, tuple]:
    """(raw assignments' arms, campaign table's arms): equal when the lake is consistent."""
    from uplift_engine.lake import layout, read_table

    raw = read_table(lake / layout.ASSIGNMENTS).sort_by("customer_id").column("arm")
    table = read_table(lake / layout.campaign_table_path("c2026q4")).column("arm")
    return tuple(raw.to_pylist()), tuple(table.to_pylist())


def test_interrupted_simulation_leaves_the_last_whole_lake(tmp_path: Path) -> None:
    from uplift_engine.lake.generations import LAKE_DIR, read_current
    from uplift_engine.lake.storage import resolve

    old, new = tmp_path / "old", tmp_path / "new"
    subprocess.run(_simulate(old, 7), check=True, capture_output=True)
    subprocess.run(_simulate(new, 42), check=True, capture_output=True)
    states = {_state(old), _state(new)}
    assert all(raw == table for raw, table in states) and len(states) == 2
    lake = tmp_path / "lake"
    shutil.copytree(old, lake)
    rng = random.Random(SEED)
    for _ in range(6):
        proc = subprocess.Popen(_simulate(lake, 42), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.8, 4.0))
        kill(proc)
        assert _state(lake) in states  # raw data and its campaign table from the same run
    subprocess.run(_simulate(lake, 42), check=True, capture_output=True)
    assert _state(lake) == _state(new)
    current = read_current(resolve(str(lake)))
    assert current is not None
    listed = {
        f"{dataset}/{name}" for dataset, entry in current["datasets"].items()
        for name in entry["files"]
    }  # fmt: skip
    on_disk = {
        str(p.relative_to(lake)) for p in lake.rglob("*")
        if p.is_file() and LAKE_DIR not in p.parts
    }  # fmt: skip
    assert on_disk == listed  # nothing of the killed runs is left
    assert not list((lake / LAKE_DIR / "writers").iterdir())


# --- worker processes ----------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_simulation_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    cmd = [UPLIFT, "simulate", "--customers", "150000", "--chunk-size", "50000",
           "--workers", "2", "--out", str(tmp_path / "lake")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
        workers = {
            pid for pid in _children(proc.pid)
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        }  # fmt: skip
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are simulating
    kill(proc)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _running(pid)]
    for pid in workers:  # reap nothing of ours; just make sure the test leaves no process
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
