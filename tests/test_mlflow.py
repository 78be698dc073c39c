"""Pipeline runs, models and aliases mirrored to a real MLflow server on 127.0.0.1 (an extra)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlflow_server import mlflow_uri_fixture  # noqa: F401 (fixture)
from pipeline_lake import config, land, source
from serving import free_port
from uplift_engine.cli.main import app as cli
from uplift_engine.config.settings import Settings
from uplift_engine.errors import ConfigError
from uplift_engine.pipeline.pipeline_config import PipelineConfig
from uplift_engine.pipeline.run import run_pipeline


def test_runs_models_and_aliases_reach_mlflow(mlflow_uri, tmp_path, monkeypatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    src = source(tmp_path / "source", 12_000, campaigns=("c1",))
    lake, releases = tmp_path / "lake", tmp_path / "releases"
    land(src, lake, "c1", first=True)
    settings = Settings()

    # MLflow down: the run is done all the same, the failure recorded
    down = {"tracking_uri": f"http://127.0.0.1:{free_port()}", "experiment": "bank"}
    record, _ = run_pipeline(PipelineConfig(**config(lake, releases, mlflow=down)), settings)
    assert record["decision"].startswith("promoted")
    assert "error" in record["mlflow"]

    # MLflow up: the next run on the same inputs does nothing new but logs the run it missed
    up = {"tracking_uri": mlflow_uri, "experiment": "bank", "model_name": "offers"}
    cfg = PipelineConfig(**config(lake, releases, mlflow=up))
    again, new = run_pipeline(cfg, settings)
    assert not new and again["run"] == record["run"]
    logged = again["mlflow"]
    assert logged["model_version"] == "1"
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    run = client.get_run(logged["run_id"])
    assert run.data.tags["uplift_run"] == record["run"]
    assert run.data.tags["decision"] == record["decision"]
    assert run.data.tags["inputs_sha256"] == record["inputs"]["sha256"]
    assert run.data.params["gate.metric"] == "policy_value"
    gate = record["steps"]["gate"]
    assert run.data.metrics["gate_difference_value"] == pytest.approx(gate["difference"]["value"])
    names = {a.path for a in client.list_artifacts(logged["run_id"])}
    assert names == {"run_record.json", "bundle"}
    assert {a.path for a in client.list_artifacts(logged["run_id"], "bundle")} >= {
        "bundle/manifest.json"
    }
    release = record["steps"]["register"]["release"]
    version = client.get_model_version_by_alias("offers", "champion")
    assert version.version == "1" and version.tags["uplift_release"] == release

    # once logged, never again; an alias moved in the registry is moved in MLflow
    run_pipeline(cfg, settings)
    assert len(client.search_runs([run.info.experiment_id])) == 1
    moved = CliRunner().invoke(cli, ["registry", "promote", release, "--alias", "challenger",
                                     "--root", str(releases)])  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert client.get_model_version_by_alias("offers", "challenger").version == "1"


def test_mlflow_settings_are_checked_and_kept_out_of_the_runs_key(tmp_path: Path) -> None:
    base = config(tmp_path / "lake", tmp_path / "releases")
    with pytest.raises(ConfigError, match=r"mlflow\.tracking_uri"):
        PipelineConfig(**base, mlflow={"experiment": "bank"})
    plain = PipelineConfig(**base)
    mirrored = PipelineConfig(**base, mlflow={"tracking_uri": "http://127.0.0.1:5000"})
    assert plain.fingerprint() == mirrored.fingerprint()
