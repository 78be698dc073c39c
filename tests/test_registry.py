"""The model registry: versions with lineage, approval, promotion, rollback — and kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving import build
from uplift_engine.cli.main import app as cli
from uplift_engine.errors import BundleError, ConfigError, UserInputError
from uplift_engine.pipeline.registry import (
    approve,
    history,
    promote,
    register,
    rollback,
    set_mode,
    versions,
)
from uplift_engine.serve.release import load_release, read_pointer


@pytest.fixture(scope="module")
def two(lake: Path, campaign_table: Path, tmp_path_factory):
    """Two models of the campaign, each with the plan priced on its scores."""
    root = tmp_path_factory.mktemp("registry-models")
    return [build(lake, campaign_table, root / name, seed=seed)
            for name, seed in (("a", 3), ("b", 4))]  # fmt: skip


def test_versions_are_registered_promoted_approved_and_rolled_back(two, tmp_path) -> None:
    root = tmp_path / "releases-root"
    v1 = register(root, two[0].model, two[0].plan_meta, verdict={"passed": True})
    v2 = register(root, two[1].model, two[1].plan_meta)
    found = {v.release: v for v in versions(root)}
    assert set(found) == {v1, v2} and all(not v.aliases for v in found.values())
    record = found[v1].record
    assert record["gate"] == {"passed": True} and record["metrics"]
    assert record["model_version"] == load_release(root, v1).model_version
    promote(root, v1)
    promote(root, v2)
    assert read_pointer(root, "champion") == v2
    assert rollback(root) == v1 and read_pointer(root, "champion") == v1
    assert [m["release"] for m in history(root)] == [v1, v2, v1]
    with pytest.raises(UserInputError, match="no earlier release"):
        rollback(root, "challenger")  # never pointed: nothing to roll back to
    # manual approval: a person signs off first
    set_mode(root, "manual")
    with pytest.raises(ConfigError, match="not approved"):
        promote(root, v2, "challenger")
    approve(root, v2, "risk officer", "reviewed the gate's report")
    promote(root, v2, "challenger")
    assert {v.release: v.aliases for v in versions(root)} == {v1: ["champion"], v2: ["challenger"]}
    # a tampered release is never promoted
    plan = root / "releases" / v1 / "plan.json"
    plan.write_bytes(plan.read_bytes().replace(b'"budget"', b'"budgeT"'))
    approve(root, v1, "someone")
    with pytest.raises(BundleError, match="checksum"):
        promote(root, v1, "current")
    listed = CliRunner().invoke(cli, ["registry", "list", "--root", str(root), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output)["mode"] == "manual"
    wrong = CliRunner().invoke(cli, ["registry", "promote", "nope", "--root", str(root)])
    assert wrong.exit_code == 2 and "no release 'nope'" in wrong.output


MOVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from uplift_engine.pipeline.registry import promote
    root, a, b = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    print("ready", flush=True)
    while True:
        promote(root, a)
        promote(root, b)
""")


def test_a_registry_killed_at_any_moment_points_at_a_whole_release(two, tmp_path) -> None:
    root = tmp_path / "killed"
    v1 = register(root, two[0].model, two[0].plan_meta)
    v2 = register(root, two[1].model, two[1].plan_meta)
    promote(root, v1)
    rng = random.Random(7)
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", MOVER, str(root), v1, v2],
                                stdout=subprocess.PIPE)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        champion = read_pointer(root, "champion")
        assert champion in (v1, v2)
        load_release(root, champion)  # whole and verified
        moves = [m["release"] for m in history(root) if m["alias"] == "champion"]
        # the history is at least as new as the pointer: its last move is the pointer's, or
        # one that was appended when the kill came before the pointer's rename
        assert moves[-1] == champion or moves[-2] == champion
    assert len(history(root)) > 12


def _service(art, root: Path, log_dir: Path):
    from uplift_engine.config import SQLiteOnlineStore
    from uplift_engine.features import FeatureReader, default_registry, open_store
    from uplift_engine.serve.decision_log import DecisionLog
    from uplift_engine.serve.http import HttpSettings, create_app
    from uplift_engine.serve.service import ServiceState

    reader = FeatureReader(open_store(SQLiteOnlineStore(path=str(art.store_path))),
                           default_registry())  # fmt: skip
    state = ServiceState(reader, release_root=root, alias="champion")
    settings = HttpSettings(api_keys=(), max_body_bytes=4096, max_batch=50, reload_seconds=60)
    return create_app(state, DecisionLog(log_dir), settings), state


def _logged(log_dir: Path) -> list[dict]:
    from uplift_engine.serve.decision_log import read_lines

    return [json.loads(line) for path in sorted(log_dir.glob("decisions-*.jsonl"))
            for line in read_lines(path)]  # fmt: skip


def test_a_challenger_in_shadow_then_on_a_share_of_traffic(two, tmp_path) -> None:
    from starlette.testclient import TestClient

    from uplift_engine.serve.compact import compact, read_decisions

    root = tmp_path / "releases"
    champion, challenger = register(root, two[0].model, two[0].plan_meta), register(
        root, two[1].model, two[1].plan_meta)  # fmt: skip
    promote(root, champion)
    promote(root, challenger, "challenger")
    versions_of = {v.release: v.record["model_version"] for v in versions(root)}
    ids = two[0].ids[:120]
    app, state = _service(two[0], root, tmp_path / "log")
    with TestClient(app) as client:

        def ask(customers: list[int]) -> list[dict]:
            out = []
            for customer in customers:
                r = client.post("/v1/decide", json={"customerId": customer})
                assert r.status_code == 200, r.text
                out.append(r.json())
            return out

        # off (no traffic file): the champion alone, nothing about a challenger in the log
        assert {d["model"]["version"] for d in ask(ids[:10])} == {versions_of[champion]}
        assert all("assignment" not in line for line in _logged(tmp_path / "log"))

        # shadow: the champion decides every request; the challenger's decision is logged
        done = CliRunner().invoke(cli, ["registry", "traffic", "--root", str(root),
                                        "--mode", "shadow"])  # fmt: skip
        assert done.exit_code == 0, done.output
        assert state.reload() and state.traffic.mode == "shadow"
        answered = ask(ids[:60])
        assert {d["model"]["version"] for d in answered} == {versions_of[champion]}
        shadowed = _logged(tmp_path / "log")[-60:]
        assert {line["assignment"] for line in shadowed} == {"champion"}
        assert {line["shadow"]["release"] for line in shadowed} == {challenger}
        assert {line["shadow"]["model_version"] for line in shadowed} == {versions_of[challenger]}
        # the shadow is the challenger's own decision: its uplift, not the champion's
        assert any(line["shadow"]["offers"] != line["offers"] for line in shadowed)

        # split: about 30% of the requests are the challenger's, drawn at random and recorded
        done = CliRunner().invoke(cli, ["registry", "traffic", "--root", str(root),
                                        "--mode", "split", "--share", "0.3"])  # fmt: skip
        assert done.exit_code == 0, done.output
        assert state.reload() and state.traffic.share == 0.3
        customers = [ids[i % len(ids)] for i in range(400)]
        answered = ask(customers)
        split = _logged(tmp_path / "log")[-400:]
        theirs = [line["assignment"] == "challenger" for line in split]
        assert 0.3 - 0.07 < sum(theirs) / 400 < 0.3 + 0.07
        for line, decision, mine in zip(split, answered, theirs, strict=True):
            version = versions_of[challenger if mine else champion]
            assert decision["model"]["version"] == line["model_version"] == version
            assert ("shadow" in line) is (not mine)
        # the same customer is not always on the same side: the draw is per request
        sides = {}
        for customer, mine in zip(customers, theirs, strict=True):
            sides.setdefault(customer, set()).add(mine)
        assert any(len(s) == 2 for s in sides.values())

    compact(tmp_path / "log", str(tmp_path / "lake"))
    logged = read_decisions(str(tmp_path / "lake"))
    counts = logged.group_by("assignment").aggregate([("request_id", "count")]).to_pylist()
    assert {c["assignment"] for c in counts} == {None, "champion", "challenger"}

    # a bad share is refused naming it; promotion of the challenger ends the split
    bad = CliRunner().invoke(cli, ["registry", "traffic", "--root", str(root), "--mode", "split",
                                   "--share", "1.5"])  # fmt: skip
    assert bad.exit_code == 2 and "share" in bad.output
    promote(root, challenger)
    assert state.reload() and state.loaded.challenger is None
