"""The pipeline over several days: partitions land, it retrains, gates, promotes; a service follows.

One simulated bank with three randomised campaigns whose partitions land a day apart. Day 0:
the bank's existing model (region only — it knows next to nothing) is registered and promoted
by hand, and a decision service follows the ``champion`` pointer. Day 1: the pipeline trains on
the first campaign, the gate finds the candidate better than the champion on customers it
never saw, and promotes it — the running service switches without a restart or a failed
request; running again on the same inputs does nothing new. Day 2: a deliberately worse
candidate (region only again) is rejected with the reason recorded, bad rows in the new
partition are quarantined with theirs. Day 3: the new campaign's assignments come from one
channel only — planted drift reported for that feature and no other. A rollback restores the
previous release, and the service follows it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from typer.testing import CliRunner

from pipeline_lake import config, land, only, source
from serving import start_service
from uplift_engine.cli.main import app as cli
from uplift_engine.config.settings import Settings
from uplift_engine.lake import layout, read_table
from uplift_engine.pipeline import registry
from uplift_engine.pipeline.pipeline_config import PipelineConfig
from uplift_engine.pipeline.run import run_pipeline
from uplift_engine.pipeline.run_records import load_runs
from uplift_engine.pipeline.train import TrainOptions, train_bundle
from uplift_engine.serve.release import read_pointer

CUSTOMERS = 30_000
runner = CliRunner()


def _run(cfg: dict, where: Path) -> tuple[dict, str]:
    where.write_text(yaml.safe_dump(cfg))
    done = runner.invoke(cli, ["pipeline", "run", "--config", str(where)])
    assert done.exit_code == 0, done.output
    return load_runs(Path(cfg["releases"]))[-1], done.output


def _served(url: str, version: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/ready", timeout=5).json().get("model") == version:
            return
        time.sleep(0.1)
    raise AssertionError(f"the service never served model {version}")


def test_the_pipeline_over_several_days(tmp_path: Path) -> None:
    src = source(tmp_path / "source", CUSTOMERS)
    lake, releases = tmp_path / "lake", tmp_path / "releases"
    land(src, lake, "c1", first=True)
    c1 = read_table(str(src / layout.campaign_table_path("c1")))
    region_only = only(["region"], c1.column_names)

    # day 0: the bank's model, registered and promoted by hand; a service follows it
    options = TrainOptions(outcome="converted", learner="t_learner", exclude=tuple(region_only))
    train_bundle(c1, options, tmp_path / "old", Settings())
    done = runner.invoke(
        cli, ["registry", "register", "--model", str(tmp_path / "old"), "--root", str(releases)]
    )
    assert done.exit_code == 0, done.output
    (old,) = [v.release for v in registry.versions(releases)]
    assert runner.invoke(cli, ["registry", "promote", old, "--root", str(releases)]).exit_code == 0
    proc, url = start_service(tmp_path / "online.sqlite",
                              ["--release", str(releases), "--alias", "champion"],
                              tmp_path / "log")  # fmt: skip
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                r = client.post("/v1/decide", json={"customerId": i % 500 + 1, "channel": "app"})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")
                    continue
                version = r.json()["model"]["version"]
                if not seen or seen[-1] != version:
                    seen.append(version)
                time.sleep(0.005)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        # day 1: a candidate on every feature beats the hand-made champion and is promoted
        good = config(lake, releases, gate={"metric": "qini"})
        first, said = _run(good, tmp_path / "pipeline.yaml")
        assert first["decision"].startswith("promoted"), said
        verdict = first["steps"]["gate"]
        assert verdict["passed"] and verdict["against"] == f"champion {old}"
        assert verdict["difference"]["low"] > 0
        day1 = first["steps"]["register"]["release"]
        assert read_pointer(releases, "champion") == day1
        lineage = registry.record(releases, day1)["lineage"]
        assert lineage["campaign"] == "c1" and lineage["inputs_sha256"] == first["inputs"]["sha256"]
        _served(url, first["steps"]["train"]["model_version"])

        # the same inputs again: nothing new
        again = runner.invoke(cli, ["pipeline", "run", "--config", str(tmp_path / "pipeline.yaml")])
        assert again.exit_code == 0 and "nothing new" in again.output
        assert len(load_runs(releases)) == 1

        # day 2: c2 lands with an outcome for no assignment; a worse candidate is rejected
        def bad_row(dataset: str, table: pa.Table) -> pa.Table:
            if dataset != layout.OUTCOMES:
                return table
            row = pa.table({"campaign_id": ["c2"], "customer_id": [10**9],
                            "converted": pa.array([1], pa.int8()), "revenue": [1.0]})  # fmt: skip
            return pa.concat_tables([table, row.cast(table.schema)])

        land(src, lake, "c2", change=bad_row)
        worse = config(lake, releases, gate={"metric": "qini"}, exclude=region_only)
        second, said = _run(worse, tmp_path / "pipeline.yaml")
        assert second["decision"] == "rejected by the gate", said
        assert second["steps"]["features"] == second["steps"]["features"] | {"campaign": "c2"}
        assert second["steps"]["features"]["quarantined"] == {"campaign_outcomes": 1}
        assert second["why"] and "champion " + day1 in second["why"][0]
        assert second["steps"]["gate"]["difference"]["value"] < 0
        assert "register" not in second["steps"]
        assert read_pointer(releases, "champion") == day1
        assert len(registry.versions(releases)) == 2

        # day 3: c3's customers were all assigned in one channel: drift there and only there
        def one_channel(dataset: str, table: pa.Table) -> pa.Table:
            if dataset != layout.ASSIGNMENTS:
                return table
            branch = pa.array(["branch"] * table.num_rows, table.schema.field("channel").type)
            return table.set_column(table.schema.get_field_index("channel"), "channel", branch)

        land(src, lake, "c3", change=one_channel)
        third, _ = _run({**good, "drift": {"retrain": "on_drift"}}, tmp_path / "pipeline.yaml")
        drift = third["steps"]["drift"]
        assert drift["compared"] and drift["reference"] == "c1"
        assert drift["features_drifted"] == ["session_channel"]
        report = json.loads(Path(drift["report"]).read_text())
        assert {c["name"] for c in report["features"] if c["drifted"]} == {"session_channel"}

        # a rollback restores the release before the latest move; the service follows
        champion_now = read_pointer(releases, "champion")
        back = runner.invoke(cli, ["registry", "rollback", "--root", str(releases)])
        assert back.exit_code == 0, back.output
        expected = old if champion_now == day1 else day1
        assert read_pointer(releases, "champion") == expected
        restored = registry.record(releases, expected)["model_version"]
        _served(url, restored)
        deadline = time.monotonic() + 20  # and the load has had an answer from it
        while (not seen or seen[-1] != restored) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loader.join()
        proc.terminate()
        proc.wait(timeout=30)
    assert not failures, failures[:3]
    # the old model first, then day 1's; last, what the rollback restored (day 3's promotion, when
    # the gate passed it, may have been replaced before a request saw it)
    versions = {v: registry.record(releases, v)["model_version"] for v in (old, day1, expected)}
    assert seen[0] == versions[old] and versions[day1] in seen and seen[-1] == versions[expected]
    assert len(seen) >= (3 if expected == old else 2)

    status = runner.invoke(cli, ["pipeline", "status", "--root", str(releases), "--json"])
    body = json.loads(status.output)
    assert body["champion"]["release"] == expected
    assert [r["decision"] for r in body["runs"]][-2:] == ["rejected by the gate", first["decision"]]
    assert body["drift"]["features_drifted"] == ["session_channel"]
    text = runner.invoke(cli, ["pipeline", "status", "--root", str(releases)]).output
    assert "rejected by the gate" in text and "session_channel" in text


def test_the_policy_value_gate_promotes_a_first_model_over_no_offers(tmp_path: Path) -> None:
    """With no champion the candidate must beat giving no one an offer, by profit."""
    src = source(tmp_path / "source", 12_000, campaigns=("c1",))
    lake = tmp_path / "lake"
    land(src, lake, "c1", first=True)
    cfg = PipelineConfig(**config(lake, tmp_path / "releases", gate={"margin": 0.2}))
    record, new = run_pipeline(cfg, Settings())
    verdict = record["steps"]["gate"]
    assert new and verdict["metric"] == "policy_value"
    assert verdict["against"] == "no offer to anyone"
    assert verdict["unit"] == "profit per customer"
    assert verdict["passed"] == (verdict["difference"]["value"] > 0.2
                                 and verdict["difference"]["low"] > 0)  # fmt: skip
    assert verdict["passed"], verdict
    assert {c["name"] for c in verdict["checks"]} == {"budget"}
    strict = PipelineConfig(**config(lake, tmp_path / "releases", gate={"margin": 100.0}))
    record, _ = run_pipeline(strict, Settings())
    assert record["decision"] == "rejected by the gate"
    assert "not by more than the margin 100" in record["why"][0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gate", {"metric": "auc"}, "gate.metric"),
        ("learner", "magic", "learner"),
        ("budget_per_customer", -1, "budget_per_customer"),
        ("promote_to", "everyone", "promote_to"),
        ("surprise", 1, "surprise"),
    ],
)
def test_a_bad_pipeline_config_names_the_field(tmp_path, field, value, message) -> None:
    cfg = config(tmp_path / "lake", tmp_path / "releases")
    cfg[field] = value
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    done = runner.invoke(cli, ["pipeline", "run", "--config", str(tmp_path / "p.yaml")])
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert not (tmp_path / "releases").exists()


def test_rows_of_the_gate_are_not_trained_on_and_features_go_online(tmp_path) -> None:
    from uplift_engine.config import SQLiteOnlineStore
    from uplift_engine.features import open_store

    src = source(tmp_path / "source", 3_000, campaigns=("c1",))
    lake = tmp_path / "lake"
    land(src, lake, "c1", first=True)
    cfg = PipelineConfig(
        **config(lake, tmp_path / "releases", gate={"share": 0.4}, materialize=True)
    )
    store = SQLiteOnlineStore(path=str(tmp_path / "online.sqlite"))
    record, _ = run_pipeline(cfg, Settings(online_store=store))
    online = record["steps"]["online"]
    assert online["materialized"] and online["customers"] == 3_000
    assert open_store(store).get("17")
    rows = record["steps"]["features"]["rows"]
    assert record["steps"]["train"]["rows"] + record["steps"]["gate"]["customers"] == rows
    assert abs(record["steps"]["gate"]["customers"] / rows - 0.4) < 0.05
    assert pc.sum(pc.equal(read_table(str(lake / layout.campaign_table_path("c1")))
                           .column("arm"), "control")).as_py() > 0  # fmt: skip


def test_watch_runs_when_a_partition_lands_and_on_its_schedule(tmp_path: Path) -> None:
    from uplift_engine.pipeline.watch import watch

    src = source(tmp_path / "source", 3_000, campaigns=("c1", "c2"))
    lake = tmp_path / "lake"
    land(src, lake, "c1", first=True)
    cfg = PipelineConfig(**config(lake, tmp_path / "releases"))
    looks: list[float] = []

    def sleep(seconds: float) -> None:  # the second look finds c2 landed
        looks.append(seconds)
        if len(looks) == 1:
            land(src, lake, "c2")

    said: list[str] = []
    done = watch(cfg, Settings(), every=7.0, max_runs=2, say=said.append, sleep=sleep)
    assert [r["steps"]["features"]["campaign"] for r in done] == ["c1", "c2"]
    assert looks == [7.0] and said.count("new data in the lake") == 2
    # on a schedule, with nothing new: a run that does nothing new
    again = watch(cfg, Settings(), every=7.0, schedule=1e-9, max_runs=2, say=said.append,
                  sleep=sleep)  # fmt: skip
    assert [r["run"] for r in again] == [done[1]["run"]] * 2
    assert "scheduled run" in said
    assert len(load_runs(tmp_path / "releases")) == 2


def test_one_run_at_a_time_on_a_release_root(tmp_path: Path) -> None:
    from uplift_engine.errors import StorageError
    from uplift_engine.pipeline.run_records import run_lock

    cfg = PipelineConfig(**config(tmp_path / "lake", tmp_path / "releases"))
    with run_lock(tmp_path / "releases"), pytest.raises(StorageError, match="another pipeline"):
        run_pipeline(cfg, Settings())
    assert load_runs(tmp_path / "releases") == []
